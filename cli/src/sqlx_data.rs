//! `hub sqlx [--check]`: the offline data of sqlx's compile-time checked
//! queries. Each subgraph's queries are checked against its own schema, so
//! `cargo sqlx prepare` runs once per subgraph crate with a `DATABASE_URL`
//! whose search path is that schema (the database of `HUB_DATABASE__URL`,
//! migrated first by `hub migrate`).

use std::path::Path;

use registry::SUBGRAPHS;

pub async fn prepare(root: &Path, check: bool) -> anyhow::Result<()> {
    let sqlx_cli = std::process::Command::new("cargo").args(["sqlx", "--version"]).output();
    anyhow::ensure!(
        sqlx_cli.is_ok_and(|o| o.status.success()),
        "cargo-sqlx is not installed: cargo install sqlx-cli --version 0.8.6 --locked \\
         --no-default-features --features postgres,rustls"
    );
    crate::migrate_all().await?;
    for sg in SUBGRAPHS {
        let dir = root.join("subgraphs").join(sg.name);
        if !dir.join(".sqlx").is_dir() {
            continue;
        }
        let settings = sg.settings()?;
        let url = secrecy::ExposeSecret::expose_secret(&settings.database.url).to_string();
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}options=-c%20search_path%3D{}", sg.schema);
        let mut cmd = std::process::Command::new("cargo");
        cmd.args(["sqlx", "prepare"]).current_dir(&dir).env("DATABASE_URL", url);
        if check {
            cmd.arg("--check");
        }
        let status = cmd.status()?;
        anyhow::ensure!(
            status.success(),
            "{}: the committed query data (subgraphs/{}/.sqlx) is out of date; run `cargo run -p hub -- sqlx` and commit it",
            sg.name,
            sg.name
        );
        println!(
            "{}: query data {}",
            sg.name,
            if check { "up to date" } else { "written" }
        );
    }
    Ok(())
}
