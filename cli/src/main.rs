//! The `hub` command: run, migrate, seed and check the Hub platform.

mod compose;
mod postgres;
mod pq;
mod seed;
mod seed_medical;
mod up;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use platform::config::{ServiceDefaults, Settings};

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

/// A subgraph `hub` knows how to run.
pub struct Subgraph {
    pub name: &'static str,
    pub port: u16,
    pub defaults: ServiceDefaults<'static>,
    pub migrator: &'static sqlx::migrate::Migrator,
    /// PostgreSQL extensions created (as admin) before its migrations.
    pub extensions: &'static [&'static str],
    pub sdl: fn() -> String,
}

pub fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph {
            name: "identity",
            port: identity::DEFAULTS.port,
            defaults: identity::DEFAULTS,
            migrator: &identity::MIGRATOR,
            extensions: &[],
            sdl: identity::sdl,
        },
        Subgraph {
            name: "medical",
            port: medical::DEFAULTS.port,
            defaults: medical::DEFAULTS,
            migrator: &medical::MIGRATOR,
            extensions: medical::EXTENSIONS,
            sdl: medical::sdl,
        },
    ]
}

pub async fn migrate_all() -> anyhow::Result<()> {
    for sg in subgraphs() {
        let settings = Settings::load(sg.defaults)?;
        platform::migrate::provision_and_migrate(&settings.database, sg.migrator, sg.extensions).await?;
        println!("Migrated {} (schema `{}`).", sg.name, settings.database.schema);
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
            seed::seed(&Settings::load(identity::DEFAULTS)?).await?;
            seed::print_logins();
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
        Command::Schema {
            command: SchemaCommand::Export,
        } => {
            for sg in subgraphs() {
                let path = repo_root().join("subgraphs").join(sg.name).join("schema.graphql");
                std::fs::write(&path, (sg.sdl)())?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
