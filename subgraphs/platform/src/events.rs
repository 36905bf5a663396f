//! Domain events that are never lost: written to the subgraph's
//! `event_outbox` in the transaction that makes the change (so an event
//! exists exactly when its change does), then moved to Redis Streams by the
//! service's relay, marked published only after Redis acknowledged them.
//!
//! Delivery is at least once: a relay that dies between Redis's answer and
//! its own commit sends those events again, so consumers skip event ids they
//! already processed. One relay per schema runs at a time (an advisory lock
//! in `outbox_claim`), so events leave in the order they were written.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::{audit::Actor, error::AppResult, kv::Kv, metrics::Metrics};

/// One event, as a producer describes it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The stream it goes to, e.g. `identity.membership`.
    pub family: &'static str,
    /// The full name, e.g. `identity.membership.added`.
    pub kind: &'static str,
    /// The payload's version: bumped on an incompatible payload change.
    pub version: i32,
    /// The entity it is about (events of one entity stay in order).
    pub entity_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

impl Event {
    /// Version 1 of `kind` (`<family>.<name>`) about `entity`.
    pub fn new(kind: &'static str, entity: Uuid, payload: serde_json::Value) -> Self {
        let family = kind.rsplit_once('.').map_or(kind, |(f, _)| f);
        Event {
            family,
            kind,
            version: 1,
            entity_id: Some(entity),
            payload,
        }
    }
}

/// Writes `event` in the caller's transaction (tenant-scoped: the tenant is
/// the actor's organization). Returns the event id.
pub async fn emit(conn: &mut PgConnection, actor: &Actor, event: Event) -> AppResult<Uuid> {
    // Dynamic on purpose: the same statement runs in every subgraph's schema.
    let id: Uuid = sqlx::query_scalar(
        "insert into event_outbox (organization_id, family, type, version, entity_id, payload, request_id)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
    )
    .bind(actor.organization_id)
    .bind(event.family)
    .bind(event.kind)
    .bind(event.version)
    .bind(event.entity_id)
    .bind(event.payload)
    .bind(actor.request_id.as_deref())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

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

pub use crate::kv::stream_key;

/// Moves one batch of unpublished events to their streams. Returns how many
/// were published; on a Redis failure the batch stays unpublished (its
/// attempts counted, the error kept) and the error is returned.
pub async fn relay_once(pool: &PgPool, kv: &Kv, settings: &RelaySettings) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "select seq, id, organization_id, family, type, version, entity_id, payload::text as payload, request_id,
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
            .arg("payload")
            .arg(r.get::<String, _>("payload"));
        ids.push(id);
    }
    let sent: Result<Vec<String>, anyhow::Error> = match kv.connection() {
        Ok(mut conn) => pipe.query_async(&mut conn).await.map_err(|e| {
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

/// Trims every stream of `prefix` (the families and the dead letters) to
/// what is younger than `retention`: stream ids are milliseconds, so this is
/// `XTRIM MINID`. Several relays may trim at once; it is idempotent.
pub async fn trim_streams(kv: &Kv, prefix: &str, retention: Duration) -> anyhow::Result<u64> {
    let mut conn = kv.connection()?;
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
    let cutoff = now_ms.saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
    let mut trimmed = 0u64;
    for key in stream_keys(&mut conn, prefix).await? {
        let n: u64 = redis::cmd("XTRIM")
            .arg(&key)
            .arg("MINID")
            .arg(format!("{cutoff}-0"))
            .query_async(&mut conn)
            .await?;
        trimmed += n;
    }
    Ok(trimmed)
}

async fn stream_keys(conn: &mut redis::aio::ConnectionManager, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![];
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(500)
            .arg("TYPE")
            .arg("stream")
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Removes, from every stream of `prefix` (dead letters included), the
/// entries that carry personal data of `subject` (their entity, their
/// `userId`, or `email`): an erasure must not leave them to age out.
/// Entries without personal data (the erasure's own events: a removal, the
/// "erased" rename) stay, so consumers still hear of the erasure.
pub async fn forget_in_streams(kv: &Kv, prefix: &str, subject: Uuid, email: Option<&str>) -> anyhow::Result<u64> {
    let mut conn = kv.connection()?;
    let mut forgotten = 0u64;
    for key in stream_keys(&mut conn, prefix).await? {
        let mut start = "-".to_string();
        loop {
            let page: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await?;
            let Some(last) = page.last().map(|(id, _)| id.clone()) else {
                break;
            };
            let doomed: Vec<&String> = page
                .iter()
                .filter(|(_, fields)| carries_personal_data_of(fields, subject, email))
                .map(|(id, _)| id)
                .collect();
            if !doomed.is_empty() {
                let n: u64 = redis::cmd("XDEL").arg(&key).arg(&doomed).query_async(&mut conn).await?;
                forgotten += n;
            }
            if page.len() < 500 {
                break;
            }
            start = format!("({last}");
        }
    }
    Ok(forgotten)
}

/// Whether a stream entry is about `subject` (or `email`) and holds personal
/// data: an e-mail address, or a name that is not the erasure's own.
fn carries_personal_data_of(fields: &[(String, String)], subject: Uuid, email: Option<&str>) -> bool {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(payload) = field("payload").and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()) else {
        return false;
    };
    let subject = subject.to_string();
    let about = field("entity") == Some(subject.as_str())
        || payload["userId"].as_str() == Some(subject.as_str())
        || email.is_some_and(|e| payload["email"].as_str().is_some_and(|p| p.eq_ignore_ascii_case(e)));
    let personal = payload.get("email").is_some_and(|e| !e.is_null())
        || (payload["displayName"].is_string() && payload["erased"] != serde_json::Value::Bool(true));
    about && personal
}

/// The dead-letter stream: poison events of every family and group.
pub fn dead_letter_key(prefix: &str) -> String {
    format!("{prefix}:dead")
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
            Ok(d) => apply(pool, s, &d, handler).await,
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
    let scope = crate::db::Scope {
        organization_id: d.tenant,
        ..Default::default()
    };
    let mut tx = crate::db::TenantTx::begin_scoped(pool, &scope).await?;
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
/// kit runs one loop per subscription (see [`crate::kit::SubgraphApp::subscriptions`]).
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
    pub fn settings(&self, redis: &crate::config::RedisSettings, consumer: &str) -> ConsumerSettings {
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
                        m.count_events(&settings.group, &pass);
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

/// A consumer group's position: entries not yet delivered to it (`lag`,
/// `None` when Redis cannot tell) and delivered but unacknowledged (`pending`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    pub lag: Option<i64>,
    pub pending: i64,
}

/// Reads [`GroupStats`] (`XINFO GROUPS`); a group not created yet lags by
/// the whole stream.
pub async fn group_stats(kv: &Kv, prefix: &str, family: &str, group: &str) -> anyhow::Result<GroupStats> {
    let mut conn = kv.connection()?;
    let key = stream_key(prefix, family);
    let groups: redis::RedisResult<Vec<std::collections::HashMap<String, redis::Value>>> =
        redis::cmd("XINFO").arg("GROUPS").arg(&key).query_async(&mut conn).await;
    let groups = match groups {
        Ok(g) => g,
        // No stream yet: nothing was ever published, nothing lags.
        Err(e) if e.to_string().contains("no such key") => {
            return Ok(GroupStats {
                lag: Some(0),
                pending: 0,
            })
        }
        Err(e) => return Err(e.into()),
    };
    let int = |v: Option<&redis::Value>| match v {
        Some(redis::Value::Int(n)) => Some(*n),
        _ => None,
    };
    match groups
        .iter()
        .find(|g| matches!(g.get("name"), Some(redis::Value::BulkString(n)) if n == group.as_bytes()))
    {
        Some(g) => Ok(GroupStats {
            lag: int(g.get("lag")),
            pending: int(g.get("pending")).unwrap_or(0),
        }),
        None => {
            let len: i64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await?;
            Ok(GroupStats {
                lag: Some(len),
                pending: 0,
            })
        }
    }
}

/// Entries in the dead-letter stream (what operators must look at).
pub async fn dead_letters(kv: &Kv, prefix: &str) -> anyhow::Result<i64> {
    let mut conn = kv.connection()?;
    Ok(redis::cmd("XLEN")
        .arg(dead_letter_key(prefix))
        .query_async(&mut conn)
        .await?)
}
