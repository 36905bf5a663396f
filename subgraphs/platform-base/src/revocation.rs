//! What a process knows of revoked sessions, so that a Redis outage does not
//! stop writes. Redis stays the source of truth (each token's session is
//! looked up there); beside it every process keeps the revocations it has
//! seen — from its own lookups and from identity's `identity.session.revoked`
//! events, which it tails from the event stream — and the last time Redis
//! answered it. When Redis cannot answer, a session known revoked is still
//! refused, and others are trusted for writes while that view is at most
//! `HUB_AUTH__REVOCATION_STALENESS_SECS` old; past that, writes are refused
//! (`UNAVAILABLE (session revocation list)`). A logout made during an outage
//! waits in identity's outbox and takes effect here once Redis is back.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use uuid::Uuid;

use crate::kv::Kv;

/// Revocations matter while a revoked session's access tokens live (15
/// minutes by default); this is kept with room to spare.
const SEEN_FOR: Duration = Duration::from_secs(30 * 60);
const SEEN_CAPACITY: u64 = 200_000;

/// The event identity writes for every session it ends.
pub const REVOKED_EVENT: &str = "identity.session.revoked";
/// Its family: the stream the feed tails.
pub const FAMILY: &str = "identity.session";

pub struct Revocations {
    seen: moka::sync::Cache<(Uuid, Uuid), ()>,
    /// Milliseconds after `born` when Redis last answered (0: never). An
    /// atomic: every authenticated request records it.
    last_contact_ms: AtomicU64,
    born: Instant,
    staleness_secs: AtomicU64,
}

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            seen: moka::sync::Cache::builder()
                .max_capacity(SEEN_CAPACITY)
                .time_to_live(SEEN_FOR)
                .build(),
            last_contact_ms: AtomicU64::new(0),
            born: Instant::now(),
            staleness_secs: AtomicU64::new(60),
        }
    }
}

impl Revocations {
    pub fn set_staleness(&self, staleness: Duration) {
        self.staleness_secs.store(staleness.as_secs(), Ordering::Relaxed);
    }

    pub fn note_revoked(&self, org: Uuid, sid: Uuid) {
        self.seen.insert((org, sid), ());
    }

    pub fn is_known_revoked(&self, org: Uuid, sid: Uuid) -> bool {
        self.seen.contains_key(&(org, sid))
    }

    /// Redis answered (a lookup, or the feed's read).
    pub fn contact(&self) {
        let now = u64::try_from(self.born.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.last_contact_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether this view is recent enough to trust for writes.
    pub fn is_fresh(&self) -> bool {
        let last = self.last_contact_ms.load(Ordering::Relaxed);
        if last == 0 {
            return false;
        }
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(last) <= self.staleness_secs.load(Ordering::Relaxed).saturating_mul(1000)
    }
}

/// Tails identity's session events into `view` for as long as the process
/// runs: every revocation of the last half hour first, then each new one
/// as it is published. `kv` must be a connection of its own (the read blocks).
pub fn spawn_feed(kv: Kv, prefix: &str, view: Arc<Revocations>) -> tokio::task::JoinHandle<()> {
    let key = crate::kv::stream_key(prefix, FAMILY);
    tokio::spawn(async move {
        let since = chrono::Utc::now().timestamp_millis() - SEEN_FOR.as_millis() as i64;
        let mut last = format!("{}-0", since.max(0));
        let mut failing = false;
        loop {
            match read(&kv, &key, &last, &view).await {
                Ok(next) => {
                    view.contact();
                    if failing {
                        tracing::info!("revocation feed reading again");
                        failing = false;
                    }
                    if let Some(next) = next {
                        last = next;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "revocation feed: Redis does not answer; the revocations seen so far still apply");
                        failing = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

type StreamReply = Vec<(String, Vec<(String, Vec<(String, String)>)>)>;

/// One blocking read (at most a second); the id of the last entry read.
async fn read(kv: &Kv, key: &str, after: &str, view: &Revocations) -> anyhow::Result<Option<String>> {
    let mut conn = kv.connection()?;
    let reply: Option<StreamReply> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(500)
        .arg("BLOCK")
        .arg(1000)
        .arg("STREAMS")
        .arg(key)
        .arg(after)
        .query_async(&mut conn)
        .await?;
    let mut last = None;
    for (_, entries) in reply.unwrap_or_default() {
        for (id, fields) in entries {
            let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            if field("type") == Some(REVOKED_EVENT) {
                let org = field("tenant").and_then(|t| Uuid::try_parse(t).ok());
                let payload: serde_json::Value = field("payload")
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default();
                if let (Some(org), Some(sessions)) = (org, payload["sessionIds"].as_array()) {
                    for sid in sessions
                        .iter()
                        .filter_map(|s| s.as_str())
                        .filter_map(|s| Uuid::try_parse(s).ok())
                    {
                        view.note_revoked(org, sid);
                    }
                }
            }
            last = Some(id);
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_is_fresh_only_after_redis_answered_and_within_the_staleness() {
        let view = Revocations::default();
        assert!(!view.is_fresh(), "never heard from Redis");
        view.contact();
        assert!(view.is_fresh());
        view.set_staleness(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert!(!view.is_fresh(), "past the staleness");
        let (org, sid) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(!view.is_known_revoked(org, sid));
        view.note_revoked(org, sid);
        assert!(view.is_known_revoked(org, sid));
        assert!(
            !view.is_known_revoked(Uuid::new_v4(), sid),
            "another organization's session"
        );
    }
}
