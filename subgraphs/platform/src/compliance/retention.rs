//! Legal retention: what each data category may be kept for, and the job
//! that deletes or pseudonymizes what has outlived it.
//!
//! Periods live in configuration (`HUB_RETENTION__…_DAYS`); rules live with
//! the data: the platform's own tables here, each subgraph's in its
//! [`SubgraphApp::retention`](crate::service::kit::SubgraphApp::retention). A run
//! applies every rule in its own transaction, with the retention job's own
//! credentials (rules cross organizations) — `hub retention run`, or a
//! worker process given `HUB_RETENTION__DATABASE_URL`; never a serving
//! process — and is safe to repeat: a rule only matches rows it has not
//! handled yet. `hub retention run --dry-run` counts instead.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::infra::metrics::Metrics;

pub use crate::foundation::config::RetentionSettings;

/// A data category with its own retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ClinicalRecords,
    Invoices,
    ProcurementFiles,
    Sessions,
    Notifications,
    Outbox,
    MailRecords,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::ClinicalRecords => "clinical_records",
            Category::Invoices => "invoices",
            Category::ProcurementFiles => "procurement_files",
            Category::Sessions => "sessions",
            Category::Notifications => "notifications",
            Category::Outbox => "outbox",
            Category::MailRecords => "mail_records",
        }
    }

    pub fn days(self, s: &RetentionSettings) -> u32 {
        match self {
            Category::ClinicalRecords => s.clinical_records_days,
            Category::Invoices => s.invoices_days,
            Category::ProcurementFiles => s.procurement_files_days,
            Category::Sessions => s.sessions_days,
            Category::Notifications => s.notifications_days,
            Category::Outbox => s.outbox_days,
            Category::MailRecords => s.mail_records_days,
        }
    }
}

/// What a rule does to the rows it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete,
    /// `update … set <this>`: the rule's predicate must no longer match a
    /// row once it is set, so a second run finds nothing.
    Pseudonymize(&'static str),
}

/// One retention rule: rows of `table` matching `expired` (SQL over the
/// table's columns; `$1` is the cutoff, now minus the category's period).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub category: Category,
    /// What the rows are, for the report ("ended sessions").
    pub what: &'static str,
    pub table: &'static str,
    pub expired: &'static str,
    pub action: Action,
    /// The rows are sealed against change by triggers (signed notes,
    /// issued invoices): the run lifts them for this statement, which
    /// needs a superuser (`session_replication_role`).
    pub sealed: bool,
}

impl Rule {
    pub const fn delete(category: Category, what: &'static str, table: &'static str, expired: &'static str) -> Self {
        Rule {
            category,
            what,
            table,
            expired,
            action: Action::Delete,
            sealed: false,
        }
    }

    pub const fn pseudonymize(
        category: Category,
        what: &'static str,
        table: &'static str,
        expired: &'static str,
        set: &'static str,
    ) -> Self {
        Rule {
            category,
            what,
            table,
            expired,
            action: Action::Pseudonymize(set),
            sealed: false,
        }
    }

    pub const fn sealed(mut self) -> Self {
        self.sealed = true;
        self
    }
}

/// The platform's tables, in every subgraph's schema.
pub const PLATFORM_RULES: &[Rule] = &[
    Rule::delete(
        Category::Outbox,
        "published events",
        "event_outbox",
        "published_at < $1",
    ),
    Rule::delete(
        Category::Outbox,
        "applied-event records",
        "processed_events",
        "processed_at < $1",
    ),
    Rule::delete(
        Category::MailRecords,
        "mail delivery records",
        "mail_deliveries",
        "created_at < $1",
    ),
];

/// What one rule did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub category: &'static str,
    pub what: &'static str,
    pub table: &'static str,
    pub action: &'static str,
    pub retention_days: u32,
    pub cutoff: DateTime<Utc>,
    pub rows: u64,
}

/// Applies `rules` (after the platform's) to `schema`, or counts in a dry
/// run. `pool` is the database admin's.
pub async fn run(
    pool: &PgPool,
    schema: &str,
    rules: &[Rule],
    settings: &RetentionSettings,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<Vec<Outcome>> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    let mut out = vec![];
    let all: Vec<Rule> = rules.iter().chain(PLATFORM_RULES).copied().collect();
    for rule in all {
        let days = rule.category.days(settings);
        let cutoff = now - Duration::days(i64::from(days));
        let (label, sql) = match (dry_run, rule.action) {
            (true, Action::Delete) => ("would be deleted", count_sql(&rule)),
            (true, Action::Pseudonymize(_)) => ("would be pseudonymized", count_sql(&rule)),
            (false, Action::Delete) => ("deleted", format!("delete from {} where {}", rule.table, rule.expired)),
            (false, Action::Pseudonymize(set)) => (
                "pseudonymized",
                format!("update {} set {set} where {}", rule.table, rule.expired),
            ),
        };
        let setup = format!(
            "set local search_path to {schema}, public{}",
            if rule.sealed && !dry_run {
                // Lifts the triggers sealing these rows; needs a superuser.
                "; set local session_replication_role = replica"
            } else {
                ""
            }
        );
        let rows = apply(pool.clone(), setup, sql, cutoff, dry_run)
            .await
            .map_err(|e| e.context(format!("{schema}: {} ({})", rule.what, rule.table)))?;
        out.push(Outcome {
            category: rule.category.name(),
            what: rule.what,
            table: rule.table,
            action: label,
            retention_days: days,
            cutoff,
            rows,
        });
    }
    Ok(out)
}

/// One rule in its own transaction.
/// (Owned arguments: the schedule spawns this, and borrowed SQL text in
/// a spawned sqlx future trips the compiler's `Send` proof.)
async fn apply(pool: PgPool, setup: String, sql: String, cutoff: DateTime<Utc>, dry_run: bool) -> anyhow::Result<u64> {
    // Dynamic on purpose: rules are the subgraphs' own constant SQL, run
    // in their schema.
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(&setup).execute(&mut *tx).await?;
    let rows = if dry_run {
        let n: i64 = sqlx::query_scalar(&sql).bind(cutoff).fetch_one(&mut *tx).await?;
        u64::try_from(n).unwrap_or_default()
    } else {
        sqlx::query(&sql).bind(cutoff).execute(&mut *tx).await?.rows_affected()
    };
    tx.commit().await?;
    Ok(rows)
}

fn count_sql(rule: &Rule) -> String {
    format!("select count(*) from {} where {}", rule.table, rule.expired)
}

/// Runs retention for one service every `settings.every_hours`, the first
/// pass `settings.first_pass_after_secs` after start. On a thread of its own
/// with a one-thread runtime: a pass is a few long statements, never on a
/// request's worker, and its future need not be `Send` (rustc cannot prove
/// it for sqlx calls over borrowed rules). Each pass shows on `/metrics`.
pub fn spawn_schedule(
    admin: sqlx::postgres::PgConnectOptions,
    schema: String,
    rules: &'static [Rule],
    settings: RetentionSettings,
    metrics: Metrics,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new()
        .name(format!("{schema}-retention"))
        .spawn(move || runtime.block_on(schedule(admin, schema, rules, settings, metrics)))
}

async fn schedule(
    admin: sqlx::postgres::PgConnectOptions,
    schema: String,
    rules: &'static [Rule],
    settings: RetentionSettings,
    metrics: Metrics,
) {
    let every = std::time::Duration::from_secs(settings.every_hours.max(1) * 3600);
    let first = std::time::Duration::from_secs(settings.first_pass_after_secs).min(every);
    let mut next = tokio::time::Instant::now() + first;
    loop {
        tokio::time::sleep_until(next).await;
        next += every;
        match scheduled_pass(admin.clone(), schema.clone(), rules, settings.clone(), every).await {
            Ok(None) => {
                metrics.retention_runs.with_label_values(&["skipped"]).inc();
                tracing::info!("retention: another instance passed in this period; skipping");
            }
            Ok(Some(outcomes)) => {
                for o in outcomes.iter().filter(|o| o.rows > 0) {
                    tracing::info!(
                        category = o.category,
                        table = o.table,
                        rows = o.rows,
                        action = o.action,
                        "retention"
                    );
                }
                metrics.count_retention(
                    outcomes.iter().map(|o| (o.category, o.table, o.action, o.rows)),
                    Utc::now(),
                );
            }
            Err(e) => {
                metrics.retention_runs.with_label_values(&["failed"]).inc();
                tracing::warn!(error = %e, "retention run failed; next pass on schedule");
            }
        }
    }
}

/// One scheduled pass, unless another instance made one in this period
/// (`Ok(None)`): the schema's retention lock decides who passes, and the
/// pass is recorded in `retention_passes` for the others to find.
async fn scheduled_pass(
    admin: sqlx::postgres::PgConnectOptions,
    schema: String,
    rules: &'static [Rule],
    settings: RetentionSettings,
    every: std::time::Duration,
) -> anyhow::Result<Option<Vec<Outcome>>> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    // Two connections for the pass only: one holds the lock, one works.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin)
        .await?;
    let mut lock = pool.acquire().await?;
    let mine: bool = sqlx::query_scalar("select pg_try_advisory_lock(hashtext($1 || '.retention'))")
        .bind(&schema)
        .fetch_one(&mut *lock)
        .await?;
    if !mine {
        pool.close().await;
        return Ok(None);
    }
    // A period's pass is due unless one started within the last 90 % of
    // it (instances' timers drift apart; none passes twice in a period).
    let recent: bool = sqlx::query_scalar(&format!(
        "select exists (select from {schema}.retention_passes
                         where started_at > clock_timestamp() - make_interval(secs => $1))"
    ))
    .bind(every.as_secs_f64() * 0.9)
    .fetch_one(&mut *lock)
    .await?;
    let result = if recent {
        Ok(None)
    } else {
        let instance = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id()
        );
        sqlx::query(&format!("insert into {schema}.retention_passes (instance) values ($1)"))
            .bind(instance)
            .execute(&mut *lock)
            .await?;
        run(&pool, &schema, rules, &settings, Utc::now(), false).await.map(Some)
    };
    let _ = sqlx::query("select pg_advisory_unlock(hashtext($1 || '.retention'))")
        .bind(&schema)
        .execute(&mut *lock)
        .await;
    drop(lock);
    pool.close().await;
    result
}
