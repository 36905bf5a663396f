//! The `hub` command: run, migrate, seed and check the Hub platform.

mod compose;
mod postgres;
mod pq;
mod sqlx_data;
mod up;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use registry::SUBGRAPHS;

#[derive(Parser)]
#[command(name = "hub", about = "Run and manage the Hub platform", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, seed on first run, and start every subgraph (Ctrl-C stops all).
    Up,
    /// Create roles and schemas, and apply every subgraph's migrations.
    Migrate,
    /// Insert the demo organizations and users (development only), and list them.
    Seed,
    /// Drop every subgraph's schema, then migrate and seed again (development data only).
    Reset,
    /// Compose supergraph.yaml into supergraph.graphql (errors fail, hints are printed).
    Compose,
    /// Persisted queries.
    Pq {
        #[command(subcommand)]
        command: PqCommand,
    },
    /// Schema tools.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Print the router configuration for subgraphs running on this machine
    /// where their settings put them (`HUB_<NAME>_SERVER__PORT`), as `hub up`
    /// writes it to .hub/router.yaml.
    RouterConfig,
    /// Compile-time checked queries: regenerate (or, with --check, verify)
    /// each subgraph's offline query data (`subgraphs/<name>/.sqlx`) against
    /// its migrated schema. Needs `cargo install sqlx-cli`.
    Sqlx {
        /// Fail if the committed query data differs instead of rewriting it.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum PqCommand {
    /// Write frontend-codegen/persisted-query-manifest.json from frontend-codegen/operations/.
    Manifest,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Write each subgraph's federation SDL to subgraphs/<name>/schema.graphql.
    Export,
}

/// Provisions and migrates every registered subgraph's schema.
pub async fn migrate_all() -> anyhow::Result<()> {
    for sg in SUBGRAPHS {
        sg.migrate(sg.figment()).await?;
        println!("Migrated {} (schema `{}`).", sg.name, sg.schema);
    }
    Ok(())
}

/// Adds the demo data that is missing, subgraph by subgraph (registry order).
pub async fn seed_all() -> anyhow::Result<()> {
    for sg in SUBGRAPHS {
        (sg.seed)(sg.figment()).await?;
    }
    Ok(())
}

/// Drops every registered subgraph's schema (with its data and migration
/// history), so the next migration starts from scratch.
async fn drop_schemas() -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    for sg in SUBGRAPHS {
        let settings = sg.settings()?;
        anyhow::ensure!(
            settings.environment != platform::config::Environment::Production,
            "refusing to reset a production database"
        );
        let mut conn = settings.database.admin_options()?.connect().await?;
        sqlx::raw_sql(&format!("drop schema if exists {} cascade", sg.schema))
            .execute(&mut conn)
            .await?;
        println!("Dropped schema `{}`.", sg.schema);
    }
    Ok(())
}

/// The repository root (this crate lives in `cli/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    platform::telemetry::init(platform::config::Environment::Development);
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up => up::up(&repo_root()).await,
        Command::Migrate => migrate_all().await,
        Command::Seed => {
            migrate_all().await?;
            seed_all().await?;
            identity::seed::print_logins();
            Ok(())
        }
        Command::Reset => {
            drop_schemas().await?;
            migrate_all().await?;
            seed_all().await?;
            identity::seed::print_logins();
            Ok(())
        }
        Command::RouterConfig => {
            print!("{}", up::local_router_config(&repo_root())?.0);
            Ok(())
        }
        Command::Compose => {
            let root = repo_root();
            match compose::compose(&root.join("supergraph.yaml"))? {
                Ok(c) => {
                    for h in &c.hints {
                        println!("hint: {h}");
                    }
                    std::fs::write(root.join("supergraph.graphql"), &c.supergraph)?;
                    println!("wrote {}", root.join("supergraph.graphql").display());
                    Ok(())
                }
                Err(failure) => {
                    for h in &failure.hints {
                        println!("hint: {h}");
                    }
                    Err(failure.into())
                }
            }
        }
        Command::Pq {
            command: PqCommand::Manifest,
        } => {
            let dir = repo_root().join("frontend-codegen");
            std::fs::write(
                dir.join("persisted-query-manifest.json"),
                pq::manifest(&dir.join("operations"))?,
            )?;
            println!("wrote {}", dir.join("persisted-query-manifest.json").display());
            Ok(())
        }
        Command::Sqlx { check } => sqlx_data::prepare(&repo_root(), check).await,
        Command::Schema {
            command: SchemaCommand::Export,
        } => {
            for sg in SUBGRAPHS {
                let path = repo_root().join("subgraphs").join(sg.name).join("schema.graphql");
                std::fs::write(&path, (sg.sdl)())?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
