//! The relay: the outbox's unpublished events to their Redis streams, in
//! the order they were written, marked published once Redis acknowledged.

use std::time::Duration;

use sqlx::{PgPool, Row};
use tracing::Instrument;
use uuid::Uuid;

use crate::infra::kv::Kv;

use super::*;

/// Where the relay writes: `<prefix>:<family>`.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    pub prefix: String,
    pub batch: i64,
    /// The schema whose commits wake the relay (`event_outbox.<schema>`
    /// notifications); `None`: the relay only polls.
    pub schema: Option<String>,
    /// Pause when the outbox is empty (the longest, when woken by commits).
    pub idle: Duration,
    /// The longest pause after failures (doubling from `idle`).
    pub max_backoff: Duration,
    /// How long entries stay in the streams (`HUB_REDIS__EVENTS_RETENTION_HOURS`).
    pub retention: Duration,
    /// How often the relay trims every stream of its prefix by age.
    pub trim_every: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            prefix: "hub:events".into(),
            batch: 200,
            schema: None,
            idle: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            retention: Duration::from_secs(72 * 3600),
            trim_every: Duration::from_secs(60),
        }
    }
}

/// Moves one batch of unpublished events to their streams. Returns how many
/// were published; on a Redis failure the batch stays unpublished (its
/// attempts counted, the error kept) and the error is returned.
pub async fn relay_once(pool: &PgPool, kv: &Kv, settings: &RelaySettings) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "select seq, id, organization_id, family, type, version, entity_id, payload::text as payload, request_id, traceparent,
                to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') as occurred_at
           from outbox_claim($1::int)",
    )
    .bind(settings.batch)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: Uuid = r.get("id");
        let family: String = r.get("family");
        let entity = r
            .get::<Option<Uuid>, _>("entity_id")
            .map(|e| e.to_string())
            .unwrap_or_default();
        // Bounded, approximately (cheap to trim): consumers are expected to
        // keep up far within a million entries per family. Age trims the
        // streams too (`trim_streams`, run by the relay).
        pipe.cmd("XADD")
            .arg(stream_key(&settings.prefix, &family))
            .arg("MAXLEN")
            .arg("~")
            .arg(1_000_000)
            .arg("*")
            .arg("id")
            .arg(id.to_string())
            .arg("seq")
            .arg(r.get::<i64, _>("seq"))
            .arg("type")
            .arg(r.get::<String, _>("type"))
            .arg("version")
            .arg(r.get::<i32, _>("version"))
            .arg("tenant")
            .arg(r.get::<Uuid, _>("organization_id").to_string())
            .arg("entity")
            .arg(entity)
            .arg("occurred_at")
            .arg(r.get::<String, _>("occurred_at"))
            .arg("request_id")
            .arg(r.get::<Option<String>, _>("request_id").unwrap_or_default())
            .arg("traceparent")
            .arg(r.get::<Option<String>, _>("traceparent").unwrap_or_default())
            .arg("payload")
            .arg(r.get::<String, _>("payload"));
        ids.push(id);
    }
    let sent: Result<Vec<String>, anyhow::Error> = match kv.connection() {
        Ok(mut conn) => pipe
            .query_async(&mut conn)
            .instrument(tracing::info_span!(
                "redis",
                otel.name = "redis XADD",
                otel.kind = "producer",
                db.system.name = "redis",
                db.operation.name = "XADD",
                messaging.batch.message_count = ids.len(),
            ))
            .await
            .map_err(|e| {
                kv.report_failure();
                anyhow::anyhow!("redis: {e}")
            }),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    };
    match sent {
        Ok(stream_ids) => {
            sqlx::query("select outbox_published($1, $2)")
                .bind(&ids)
                .bind(&stream_ids)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(ids.len())
        }
        Err(e) => {
            sqlx::query("select outbox_failed($1, $2)")
                .bind(&ids)
                .bind(e.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Err(e)
        }
    }
}

/// Events written but not yet published (a gauge for operators).
pub async fn backlog(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("select outbox_backlog()").fetch_one(pool).await?)
}

/// Runs the relay until the task is dropped: a full batch is followed at
/// once by the next; an empty outbox waits for a commit's notification (or
/// `idle`, polling, when it has none); failures back off up to
/// `max_backoff` (one log line per failure streak, one when it recovers).
pub fn spawn_relay(pool: PgPool, kv: Kv, settings: RelaySettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = settings.idle;
        let mut failing = false;
        let mut listener = None;
        let mut trimmed: Option<std::time::Instant> = None;
        loop {
            if listener.is_none() {
                listener = listen(&pool, settings.schema.as_deref()).await;
            }
            if trimmed.is_none_or(|t| t.elapsed() >= settings.trim_every) {
                trimmed = Some(std::time::Instant::now());
                match trim_streams(&kv, &settings.prefix, settings.retention).await {
                    Ok(n) if n > 0 => tracing::info!(entries = n, "event streams trimmed by age"),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "event streams not trimmed this time"),
                }
            }
            match relay_once(&pool, &kv, &settings).await {
                Ok(n) => {
                    if failing {
                        tracing::info!("event relay recovered");
                        failing = false;
                    }
                    backoff = settings.idle;
                    if n as i64 == settings.batch {
                        continue;
                    }
                    match listener.as_mut() {
                        // Woken by the next commit; the poll is a safety net.
                        Some(l) => {
                            let woken = tokio::time::timeout(settings.idle * 4, l.recv()).await;
                            if let Ok(Err(e)) = woken {
                                tracing::warn!(error = %e, "event relay: notifications lost, polling");
                                listener = None;
                            }
                        }
                        None => tokio::time::sleep(settings.idle).await,
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "event relay: events stay in the outbox until Redis answers");
                        failing = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(settings.max_backoff);
                }
            }
        }
    })
}

async fn listen(pool: &PgPool, schema: Option<&str>) -> Option<sqlx::postgres::PgListener> {
    let schema = schema?;
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await.ok()?;
    l.listen(&format!("event_outbox.{schema}")).await.ok()?;
    Some(l)
}
