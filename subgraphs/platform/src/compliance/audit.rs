//! Audit trail: every mutation records who did what to which entity, in the
//! caller's transaction, so the record exists exactly when the change does.
//! Each subgraph's schema has its own `audit_log` table (see its migrations).

pub mod chain;
pub mod history;

use async_graphql::Context;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    foundation::error::AppResult,
    security::auth::{AuthContext, Principal, RequestMeta},
};

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn from_auth(auth: &AuthContext, meta: Option<&RequestMeta>) -> Self {
        let (user_id, client_id) = match auth.principal {
            Principal::User(u) => (Some(u), None),
            Principal::Partner(c) => (None, Some(c)),
        };
        Actor {
            organization_id: auth.organization_id,
            user_id,
            client_id,
            request_id: meta.map(|m| m.request_id.clone()),
        }
    }

    /// An actor known before a token exists (login, token exchange).
    pub fn user(organization_id: Uuid, user_id: Option<Uuid>, ctx: Option<&Context<'_>>) -> Self {
        Actor {
            organization_id,
            user_id,
            client_id: None,
            request_id: ctx
                .and_then(|c| c.data_opt::<RequestMeta>())
                .map(|m| m.request_id.clone()),
        }
    }
}

/// The authenticated caller of a resolver as an audit actor.
pub fn actor(ctx: &Context<'_>) -> AppResult<Actor> {
    let auth = crate::security::guards::auth(ctx)?;
    Ok(Actor::from_auth(auth, ctx.data_opt::<RequestMeta>()))
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    details: serde_json::Value,
) -> AppResult<()> {
    // Dynamic on purpose: the same statement runs in every subgraph's schema
    // (its own `audit_log`, found through the connection's search path).
    sqlx::query(
        "insert into audit_log
           (organization_id, actor_user_id, actor_client_id, action, entity_type, entity_id, request_id, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(actor.organization_id)
    .bind(actor.user_id)
    .bind(actor.client_id)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(actor.request_id.as_deref())
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// The sensitive records one GraphQL request read (a patient's contact,
/// insurance or clinical data), noted by the resolvers that read them and
/// audited by the server after execution, before the answer leaves: one
/// `graphql.read` row per record, never sampled. A request whose reads
/// cannot be audited is not answered.
#[derive(Default)]
pub struct ReadLog {
    seen: std::sync::Mutex<std::collections::BTreeMap<&'static str, std::collections::BTreeSet<Uuid>>>,
}

impl ReadLog {
    pub fn note(&self, entity_type: &'static str, id: Uuid) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.entry(entity_type).or_default().insert(id);
        }
    }

    /// What was read, by entity type; empties the log.
    pub fn take(&self) -> Vec<(&'static str, Vec<Uuid>)> {
        self.seen
            .lock()
            .map(|mut seen| {
                std::mem::take(&mut *seen)
                    .into_iter()
                    .map(|(kind, ids)| (kind, ids.into_iter().collect()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Notes that this request read `entity_type` `id` (see [`ReadLog`]).
pub fn read(ctx: &Context<'_>, entity_type: &'static str, id: Uuid) {
    if let Some(log) = ctx.data_opt::<std::sync::Arc<ReadLog>>() {
        log.note(entity_type, id);
    }
}

/// Writes the request's noted reads in one tenant transaction.
pub async fn record_reads(
    pool: &sqlx::PgPool,
    auth: &AuthContext,
    meta: Option<&RequestMeta>,
    reads: Vec<(&'static str, Vec<Uuid>)>,
) -> AppResult<()> {
    if reads.is_empty() {
        return Ok(());
    }
    let actor = Actor::from_auth(auth, meta);
    let mut tx = crate::data::db::TenantTx::begin(pool, auth).await?;
    for (kind, ids) in reads {
        record_read(&mut tx, &actor, "graphql.read", kind, &ids, serde_json::json!({})).await?;
    }
    tx.commit().await
}

/// One `read_log` row per record read, in one statement and without
/// waiting for anyone: reads join the organization's chain when the sealer
/// seals them (see the tenancy SQL), a few seconds later.
pub async fn record_read(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_ids: &[Uuid],
    details: serde_json::Value,
) -> AppResult<()> {
    if entity_ids.is_empty() {
        return Ok(());
    }
    // Dynamic on purpose, as `record`.
    sqlx::query(
        "insert into read_log
           (organization_id, actor_user_id, actor_client_id, action, entity_type, entity_id, request_id, details)
         select $1, $2, $3, $4, $5, e, $7, $8 from unnest($6::uuid[]) as e",
    )
    .bind(actor.organization_id)
    .bind(actor.user_id)
    .bind(actor.client_id)
    .bind(action)
    .bind(entity_type)
    .bind(entity_ids)
    .bind(actor.request_id.as_deref())
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Seals `schema`'s unsealed reads into their organizations' chains (see
/// the tenancy SQL's `read_log_seal`); the number of reads sealed.
pub async fn seal_reads(pool: &sqlx::PgPool, schema: &str) -> anyhow::Result<i64> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    // Dynamic on purpose: every subgraph's schema has the function.
    let n: i32 = sqlx::query_scalar(&format!("select {schema}.read_log_seal(10000)"))
        .fetch_one(pool)
        .await?;
    Ok(i64::from(n))
}

/// Seals until nothing is left (or `budget` has passed): a backlog is
/// sealed in one pass instead of one batch per interval, so sealing keeps
/// up with sustained load; the total sealed.
pub async fn seal_backlog(pool: &sqlx::PgPool, schema: &str, budget: std::time::Duration) -> anyhow::Result<i64> {
    let started = std::time::Instant::now();
    let mut total = 0;
    loop {
        let n = seal_reads(pool, schema).await?;
        total += n;
        if n == 0 || started.elapsed() >= budget {
            return Ok(total);
        }
    }
}

/// Reads not sealed yet in this schema: how many, and the oldest one's age
/// in seconds (0 with none).
pub async fn unsealed_reads(pool: &sqlx::PgPool) -> anyhow::Result<(i64, f64)> {
    Ok(
        sqlx::query_as("select reads, oldest_age_seconds from read_log_unsealed()")
            .fetch_one(pool)
            .await?,
    )
}

/// Seals reads every `every` until the process ends, counting each pass on
/// `metrics` (one log line per failure streak, one when it recovers).
pub fn spawn_sealer(
    pool: sqlx::PgPool,
    schema: String,
    every: std::time::Duration,
    metrics: crate::infra::metrics::Metrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match seal_backlog(&pool, &schema, every).await {
                Ok(n) => {
                    if failing {
                        tracing::info!("sealing reads works again");
                        failing = false;
                    }
                    metrics.count_seal(Some(n));
                    if n > 0 {
                        tracing::debug!(reads = n, "sealed reads into the audit chains");
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "sealing reads failed; retrying every pass");
                        failing = true;
                    }
                    metrics.count_seal(None);
                }
            }
        }
    })
}
