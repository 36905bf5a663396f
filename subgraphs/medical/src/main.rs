//! Runs the medical subgraph. Migrations are applied by `hub migrate`.

use platform::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(medical::DEFAULTS)?;
    platform::telemetry::init(settings.environment);
    let medical_settings = medical::load_medical_settings()?;
    let cipher = medical::cipher(&settings, &medical_settings)?;
    let (app, _) = medical::build(settings.clone(), cipher).await?;
    platform::server::serve(app, &settings).await
}
