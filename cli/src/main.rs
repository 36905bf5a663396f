//! The `hub` command: run, migrate, seed and check the Hub platform.

mod audit;
mod backup;
mod compose;
mod events;
mod postgres;
mod schema;
mod sqlx_data;
mod testing;
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
    /// The audit trail's hash chains: verify them, or export them for an auditor.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Back up every subgraph's schema (pg_dump, one file per schema) and the
    /// content store's objects into DIR, with a manifest of checksums.
    Backup {
        /// A new or empty directory.
        dir: PathBuf,
    },
    /// Restore a backup into a new database (HUB_DATABASE__URL) and the
    /// configured content store, after checking every file's checksum; then
    /// migrate. Needs the same keys as the backed-up platform.
    Restore {
        /// A directory written by `hub backup`.
        dir: PathBuf,
    },
    /// Legal retention: delete or pseudonymize what outlived its period.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Medical's practitioner projection (fed by identity's membership events).
    Practitioners {
        #[command(subcommand)]
        command: PractitionersCommand,
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
    /// Run every test (`cargo test --workspace`) after setting up what the
    /// tests need on this machine: PostgreSQL and Redis running, the pinned
    /// test tools (moto, aiosmtpd, FHIR validators, npm packages), Chromium.
    /// Names what it cannot install. Arguments after `--` go to cargo test.
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk every organization's chain (as the database admin) and name the
    /// first broken link of each: a row edited, deleted or inserted out of
    /// order. With --file, verify an export offline instead.
    Verify {
        #[arg(long)]
        org: Option<uuid::Uuid>,
        /// Only this subgraph's trail (identity, content, medical, public).
        #[arg(long)]
        subgraph: Option<String>,
        /// An export written by `hub audit export`.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Write an organization's audit rows (of every subgraph, or one) as JSON
    /// lines with their chain hashes, for offline verification.
    Export {
        #[arg(long)]
        org: uuid::Uuid,
        /// RFC 3339; rows at or after it.
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// RFC 3339; rows before it.
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        subgraph: Option<String>,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Apply every subgraph's retention rules now (as the database admin),
    /// and report per rule what was deleted or pseudonymized. Safe to repeat.
    Run {
        /// Count what would go, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        subgraph: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PractitionersCommand {
    /// Empty it and refill it from a membership snapshot identity publishes
    /// (the running services apply it): when the projection was lost.
    Rebuild,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Write each subgraph's federation SDL to subgraphs/<name>/schema.graphql.
    Export,
    /// Review the working tree's schema against a base: golden files,
    /// composition, API changes (breaking/dangerous/non-breaking) and the
    /// known operations they affect, lint. Writes a Markdown and a JSON report.
    Check {
        /// The git ref to compare with (default: the merge base with `main`).
        #[arg(long)]
        base: Option<String>,
        /// Fail on breaking changes that no known operation uses, too.
        #[arg(long, env = "HUB_SCHEMA_FAIL_ON_UNUSED_BREAKING")]
        fail_on_unused_breaking: bool,
        /// Where to write report.md and report.json.
        #[arg(long, default_value = "target/schema-review")]
        out: PathBuf,
    },
    /// Compare two SDL files (or supergraphs) with the same rules.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Operations to check against NEW: *.graphql files (client = their
        /// folder) and persisted query manifests (client = file stem).
        #[arg(long)]
        operations: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "markdown")]
        format: Format,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Markdown,
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
        Command::Backup { dir } => backup::backup(&dir).await,
        Command::Restore { dir } => backup::restore(&dir).await,
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
                    let api = root.join(compose::API_SCHEMA_FILE);
                    std::fs::write(&api, compose::api_schema_sdl(&c.supergraph)?)?;
                    println!("wrote {}", api.display());
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
        Command::Audit {
            command: AuditCommand::Verify { org, subgraph, file },
        } => audit::verify(org, subgraph.as_deref(), file.as_deref()).await,
        Command::Audit {
            command:
                AuditCommand::Export {
                    org,
                    from,
                    to,
                    subgraph,
                    out,
                },
        } => audit::export(org, from, to, subgraph.as_deref(), out.as_deref()).await,
        Command::Retention {
            command:
                RetentionCommand::Run {
                    dry_run,
                    subgraph,
                    json,
                },
        } => audit::retention(dry_run, subgraph.as_deref(), json).await,
        Command::Practitioners {
            command: PractitionersCommand::Rebuild,
        } => events::rebuild_practitioners().await,
        Command::Sqlx { check } => sqlx_data::prepare(&repo_root(), check).await,
        Command::Test { cargo_args } => testing::run(&repo_root(), &cargo_args).await,
        Command::Schema {
            command:
                SchemaCommand::Check {
                    base,
                    fail_on_unused_breaking,
                    out,
                },
        } => schema_check(base, fail_on_unused_breaking, out),
        Command::Schema {
            command:
                SchemaCommand::Diff {
                    old,
                    new,
                    operations,
                    format,
                },
        } => schema_diff(&old, &new, operations.as_deref(), format),
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

fn schema_check(base: Option<String>, fail_on_unused_breaking: bool, out: PathBuf) -> anyhow::Result<()> {
    let root = repo_root();
    let report = schema::check::check(&root, &schema::check::Options::new(base, fail_on_unused_breaking))?;
    let markdown = schema::report::check(&report);
    let out = if out.is_absolute() { out } else { root.join(out) };
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.md"), &markdown)?;
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&report)? + "\n")?;
    print!("{markdown}");
    println!(
        "\n(reports: {}, {})",
        out.join("report.md").display(),
        out.join("report.json").display()
    );
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// A file as an API schema: a supergraph is reduced to its API schema, any
/// other SDL is taken as it is.
fn load_schema(path: &Path) -> anyhow::Result<apollo_compiler::validation::Valid<apollo_compiler::Schema>> {
    let sdl = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if sdl.contains("https://specs.apollo.dev/join/") {
        schema::api_schema(&sdl)
    } else {
        schema::parse_sdl(&sdl, &path.display().to_string())
    }
}

fn schema_diff(old: &Path, new: &Path, operations: Option<&Path>, format: Format) -> anyhow::Result<()> {
    let (o, n) = (load_schema(old)?, load_schema(new)?);
    let ops = match operations {
        Some(dir) => schema::operations::load(dir, Path::new(""))?,
        None => vec![],
    };
    let (changes, reports) = schema::review(&o, &n, &ops);
    match format {
        Format::Json => {
            let changes: Vec<_> = changes.iter().map(|c| &c.change).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "changes": changes, "operations": reports }))?
            );
        }
        Format::Markdown => {
            let mut md = format!("## {} → {}\n", old.display(), new.display());
            schema::report::changes(&mut md, &changes);
            schema::report::operations(&mut md, &reports);
            print!("{md}");
        }
    }
    // Without operations every breaking change counts (graphql-inspector's
    // rule); with them, only what breaks a known operation.
    let breaking = changes
        .iter()
        .any(|c| c.change.level == schema::diff::Level::Breaking && (ops.is_empty() || !c.used_by.is_empty()));
    if breaking || reports.iter().any(|r| !r.valid) {
        std::process::exit(1);
    }
    Ok(())
}
