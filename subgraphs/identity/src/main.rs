//! Runs the identity subgraph. Migrations are applied by `hub migrate`, with
//! the owner's credentials this process never holds.

use platform::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(identity::DEFAULTS)?;
    platform::telemetry::init(settings.environment);
    let identity_settings = identity::load_identity_settings()?;
    let (app, _) = identity::build(settings.clone(), identity_settings).await?;
    platform::server::serve(app, &settings).await
}
