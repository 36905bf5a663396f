//! Consumers: a service's consumer group on a family's stream, each event
//! applied once in its tenant's transaction with its idempotency record,
//! retried, and moved to the dead letters after its last attempt.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use uuid::Uuid;

use crate::{infra::kv::Kv, infra::metrics::Metrics};

use super::*;

/// One event as a consumer receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The stream entry id (what is acknowledged).
    pub entry: String,
    pub id: Uuid,
    /// The producer's outbox sequence: increases with every event a
    /// subgraph writes (per producer, not across producers).
    pub seq: i64,
    pub kind: String,
    pub version: i32,
    pub tenant: Uuid,
    pub entity: Option<Uuid>,
    pub occurred_at: String,
    pub request_id: String,
    /// The producing request's W3C trace context (empty when not traced).
    pub traceparent: String,
    pub payload: serde_json::Value,
}

impl Delivery {
    /// Refuses a payload version this build does not understand (the event
    /// then ends in the dead-letter stream, where an operator sees it).
    pub fn require_version(&self, version: i32) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.version == version,
            "{} version {} is not understood",
            self.kind,
            self.version
        );
        Ok(())
    }

    /// The entity the event is about.
    pub fn entity_id(&self) -> anyhow::Result<Uuid> {
        self.entity
            .ok_or_else(|| anyhow::anyhow!("{} names no entity", self.kind))
    }

    /// A text field of the payload.
    pub fn text(&self, field: &str) -> anyhow::Result<&str> {
        self.payload[field]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{} has no `{field}`", self.kind))
    }

    pub fn parse(entry: String, fields: &[String]) -> anyhow::Result<Self> {
        let field = |name: &str| {
            fields
                .chunks(2)
                .find(|c| c.first().is_some_and(|k| k == name))
                .and_then(|c| c.get(1).cloned())
                .unwrap_or_default()
        };
        Ok(Delivery {
            id: field("id").parse()?,
            seq: field("seq").parse().unwrap_or_default(),
            kind: field("type"),
            version: field("version").parse()?,
            tenant: field("tenant").parse()?,
            entity: field("entity").parse().ok(),
            occurred_at: field("occurred_at"),
            request_id: field("request_id"),
            traceparent: field("traceparent"),
            payload: serde_json::from_str(&field("payload"))?,
            entry,
        })
    }
}

/// A consumer group on one family's stream.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    pub prefix: String,
    pub family: String,
    /// The group: one per reacting service and purpose, e.g. `medical.practitioners`.
    pub group: String,
    /// This process within the group.
    pub consumer: String,
    /// Deliveries before an event goes to the dead-letter stream.
    pub max_attempts: u32,
    /// Pending entries idle this long are taken over (a crashed consumer's,
    /// or ours after a failure: the retry delay).
    pub retry_after: Duration,
    pub batch: usize,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub applied: usize,
    /// Already processed (a redelivery): acknowledged without effect.
    pub skipped: usize,
    pub failed: usize,
    pub dead: usize,
}

type Entries = Vec<(String, Vec<String>)>;

/// Reads what is due (entries left pending too long, then new ones), applies
/// each in its own tenant transaction with its idempotency record, and
/// acknowledges after the commit. A failing event stays pending and is
/// retried after `retry_after`; after `max_attempts` it moves to the
/// dead-letter stream (logged) and is acknowledged.
pub async fn consume_once(pool: &PgPool, kv: &Kv, s: &ConsumerSettings, handler: &Handler) -> anyhow::Result<Pass> {
    consume(
        pool,
        kv,
        s,
        handler,
        Read {
            ack: true,
            ensure_group: true,
            block: None,
        },
    )
    .await
}

/// As [`consume_once`], but never acknowledges: a consumer that dies after
/// its commit (tests of redelivery).
#[doc(hidden)]
pub async fn consume_without_ack(
    pool: &PgPool,
    kv: &Kv,
    s: &ConsumerSettings,
    handler: &Handler,
) -> anyhow::Result<Pass> {
    consume(
        pool,
        kv,
        s,
        handler,
        Read {
            ack: false,
            ensure_group: true,
            block: None,
        },
    )
    .await
}

/// A [`Handler`] from a function of the connection and the delivery
/// returning a boxed future (`|c, d| apply(c, d).boxed()`).
pub fn handler<F>(f: F) -> Handler
where
    F: for<'c> Fn(&'c mut PgConnection, &'c Delivery) -> BoxFuture<'c, anyhow::Result<()>> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// How one pass reads.
#[derive(Clone, Copy)]
struct Read {
    ack: bool,
    /// Create the group first (once per loop, and again after an error: a
    /// Redis that lost its data lost the group too).
    ensure_group: bool,
    /// Wait this long for new entries (a dedicated connection only).
    block: Option<Duration>,
}

async fn consume(pool: &PgPool, kv: &Kv, s: &ConsumerSettings, handler: &Handler, read: Read) -> anyhow::Result<Pass> {
    let ack = read.ack;
    let mut conn = kv.connection()?;
    let key = stream_key(&s.prefix, &s.family);
    if read.ensure_group {
        // From the stream's start: a new group sees the history it missed.
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&key)
            .arg(&s.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        if let Err(e) = created {
            if e.code() != Some("BUSYGROUP") {
                kv.report_failure();
                return Err(e.into());
            }
        }
    }
    // XAUTOCLAIM answers [next-cursor, entries, deleted-ids].
    let (_, mut entries, _): (String, Entries, Vec<String>) = redis::cmd("XAUTOCLAIM")
        .arg(&key)
        .arg(&s.group)
        .arg(&s.consumer)
        .arg(s.retry_after.as_millis() as u64)
        .arg("0-0")
        .arg("COUNT")
        .arg(s.batch)
        .query_async(&mut conn)
        .await?;
    let mut xread = redis::cmd("XREADGROUP");
    xread
        .arg("GROUP")
        .arg(&s.group)
        .arg(&s.consumer)
        .arg("COUNT")
        .arg(s.batch);
    if let (Some(block), true) = (read.block, entries.is_empty()) {
        xread.arg("BLOCK").arg(block.as_millis() as u64);
    }
    let fresh: Option<Vec<(String, Entries)>> = xread.arg("STREAMS").arg(&key).arg(">").query_async(&mut conn).await?;
    entries.extend(fresh.into_iter().flatten().flat_map(|(_, e)| e));

    let attempts_key = format!("{key}:attempts:{}", s.group);
    let mut pass = Pass::default();
    for (entry, fields) in entries {
        let outcome = match Delivery::parse(entry.clone(), &fields) {
            Ok(d) => {
                // A child of the request that wrote the event.
                let span = tracing::info_span!(
                    "event",
                    otel.name = %format_args!("consume {}", d.kind),
                    otel.kind = "consumer",
                    messaging.system = "redis",
                    messaging.destination.name = %s.family,
                    messaging.consumer.group.name = %s.group,
                    messaging.message.id = %d.id,
                    request_id = %d.request_id,
                    trace_id = tracing::field::Empty,
                    span_id = tracing::field::Empty,
                );
                crate::infra::telemetry::continue_trace(
                    &span,
                    crate::infra::telemetry::from_traceparent(&d.traceparent),
                );
                apply(pool, s, &d, handler).instrument(span).await
            }
            Err(e) => Err(anyhow::anyhow!("unreadable entry: {e}")),
        };
        match outcome {
            Ok(applied) => {
                if applied {
                    pass.applied += 1;
                } else {
                    pass.skipped += 1;
                }
                if ack {
                    let _: () = redis::pipe()
                        .cmd("XACK")
                        .arg(&key)
                        .arg(&s.group)
                        .arg(&entry)
                        .ignore()
                        .cmd("HDEL")
                        .arg(&attempts_key)
                        .arg(&entry)
                        .ignore()
                        .query_async(&mut conn)
                        .await?;
                }
            }
            Err(e) => {
                let n: u32 = redis::cmd("HINCRBY")
                    .arg(&attempts_key)
                    .arg(&entry)
                    .arg(1)
                    .query_async(&mut conn)
                    .await?;
                if n < s.max_attempts {
                    pass.failed += 1;
                    tracing::warn!(stream = %key, group = %s.group, entry = %entry, attempt = n, error = %e, "event failed; retried later");
                    continue;
                }
                let mut dead = redis::pipe();
                let cmd = dead
                    .cmd("XADD")
                    .arg(dead_letter_key(&s.prefix))
                    // A memory bound; age trims it too (`trim_streams`).
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(100_000)
                    .arg("*")
                    .arg("stream")
                    .arg(&key)
                    .arg("group")
                    .arg(&s.group)
                    .arg("entry")
                    .arg(&entry)
                    .arg("attempts")
                    .arg(n)
                    .arg("error")
                    .arg(e.to_string());
                for f in &fields {
                    cmd.arg(f);
                }
                cmd.ignore();
                dead.cmd("XACK").arg(&key).arg(&s.group).arg(&entry).ignore();
                dead.cmd("HDEL").arg(&attempts_key).arg(&entry).ignore();
                let _: () = dead.query_async(&mut conn).await?;
                pass.dead += 1;
                tracing::error!(stream = %key, group = %s.group, entry = %entry, attempts = n, error = %e, "event moved to the dead-letter stream");
            }
        }
    }
    Ok(pass)
}

/// Applies one event unless this group already did: `Ok(false)` for a
/// redelivery. The idempotency record and the effect commit together.
async fn apply(pool: &PgPool, s: &ConsumerSettings, d: &Delivery, handler: &Handler) -> anyhow::Result<bool> {
    let scope = crate::data::db::Scope {
        organization_id: d.tenant,
        ..Default::default()
    };
    let mut tx = crate::data::db::TenantTx::begin_scoped(pool, &scope).await?;
    let first = sqlx::query(
        "insert into processed_events (consumer, event_id, organization_id) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(&s.group)
    .bind(d.id)
    .bind(d.tenant)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        return Ok(false);
    }
    handler(&mut tx, d).await?;
    tx.commit().await?;
    Ok(true)
}

/// A handler of one family's events: applies `delivery` with `conn`, the
/// transaction (scoped to the event's tenant) its idempotency record
/// commits in.
pub type Handler =
    Arc<dyn for<'c> Fn(&'c mut PgConnection, &'c Delivery) -> BoxFuture<'c, anyhow::Result<()>> + Send + Sync>;

/// What a service reacts to: its consumer group on one family's stream. The
/// kit runs one loop per subscription (see [`crate::service::kit::SubgraphApp::subscriptions`]).
#[derive(Clone)]
pub struct Subscription {
    pub family: &'static str,
    /// Unique per purpose, e.g. `medical.practitioners`.
    pub group: &'static str,
    pub handler: Handler,
}

impl Subscription {
    pub fn new<F>(family: &'static str, group: &'static str, handler: F) -> Self
    where
        F: for<'c> Fn(&'c mut PgConnection, &'c Delivery) -> BoxFuture<'c, anyhow::Result<()>> + Send + Sync + 'static,
    {
        Subscription {
            family,
            group,
            handler: Arc::new(handler),
        }
    }

    /// Applies what is due once (tests and commands drive it this way).
    pub async fn consume_once(&self, pool: &PgPool, kv: &Kv, s: &ConsumerSettings) -> anyhow::Result<Pass> {
        consume_once(pool, kv, s, &self.handler).await
    }

    /// Its consumer settings under the service's Redis settings.
    pub fn settings(&self, redis: &crate::foundation::config::RedisSettings, consumer: &str) -> ConsumerSettings {
        ConsumerSettings {
            prefix: redis.events_prefix.clone(),
            family: self.family.to_string(),
            group: self.group.to_string(),
            consumer: consumer.to_string(),
            max_attempts: redis.events_max_attempts.max(1),
            retry_after: Duration::from_millis(redis.events_retry_after_ms),
            batch: 100,
        }
    }
}

/// Runs a subscription until the task is dropped, on `kv` (its own
/// connection: reads block up to `block` waiting for new entries). Failures
/// back off like the relay's; dead letters and outcomes are counted.
pub fn spawn_consumer(
    pool: PgPool,
    kv: Kv,
    sub: Subscription,
    settings: ConsumerSettings,
    block: Duration,
    metrics: Option<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(250);
        let mut read = Read {
            ack: true,
            ensure_group: true,
            block: Some(block),
        };
        let mut failing = false;
        loop {
            match consume(&pool, &kv, &settings, &sub.handler, read).await {
                Ok(pass) => {
                    if failing {
                        tracing::info!(group = %settings.group, "event consumer recovered");
                        failing = false;
                    }
                    read.ensure_group = false;
                    backoff = Duration::from_millis(250);
                    if let Some(m) = &metrics {
                        m.count_events(
                            &settings.group,
                            [
                                ("applied", pass.applied),
                                ("skipped", pass.skipped),
                                ("failed", pass.failed),
                            ],
                            pass.dead,
                        );
                    }
                    if pass.failed > 0 {
                        // Failed entries come back after `retry_after`; don't spin on them.
                        tokio::time::sleep(settings.retry_after.min(Duration::from_millis(250))).await;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(group = %settings.group, error = %e, "event consumer: retrying");
                        failing = true;
                    }
                    read.ensure_group = true;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    })
}
