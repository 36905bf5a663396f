//! Redis access shared by the services. Redis is optional in development and
//! may fail in production: every caller gets a clear "unavailable" instead of
//! a hang, and decides whether to fall back or refuse. After a failure, Redis
//! is not asked again for a few seconds (a circuit breaker), so an outage
//! costs one timeout, not one per request.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::{aio::ConnectionManager, AsyncCommands};
use uuid::Uuid;

/// How long Redis is left alone after a failure.
const BACKOFF: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Kv {
    conn: Option<ConnectionManager>,
    down_until: Arc<Mutex<Option<Instant>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("redis is not configured")]
    NotConfigured,
    #[error("redis is unavailable (recent failure; retrying shortly)")]
    Unavailable,
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl Kv {
    /// Connects lazily, so a service starts (and reports not-ready) when Redis is down.
    pub fn new(url: Option<&str>) -> anyhow::Result<Self> {
        Self::with_response_timeout(url, Duration::from_millis(500))
    }

    /// A separate connection whose commands may take up to `timeout`: for
    /// blocking reads (event consumers), which must not hold up the
    /// request path's shared connection.
    pub fn with_response_timeout(url: Option<&str>, timeout: Duration) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Kv::disabled());
        };
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Kv {
            conn: Some(conn),
            down_until: Arc::default(),
        })
    }

    pub fn disabled() -> Self {
        Kv {
            conn: None,
            down_until: Arc::default(),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.conn.is_some()
    }

    /// A handle for commands this module does not wrap (scripts, …); report
    /// their failures with [`Kv::report_failure`] so the breaker opens.
    pub fn connection(&self) -> Result<ConnectionManager, KvError> {
        let conn = self.conn.clone().ok_or(KvError::NotConfigured)?;
        let open = self
            .down_until
            .lock()
            .map(|d| d.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false);
        if open {
            return Err(KvError::Unavailable);
        }
        Ok(conn)
    }

    pub fn report_failure(&self) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + BACKOFF);
        }
    }

    fn checked<T>(&self, r: redis::RedisResult<T>) -> Result<T, KvError> {
        r.map_err(|e| {
            self.report_failure();
            KvError::Redis(e)
        })
    }

    pub async fn ping(&self) -> Result<(), KvError> {
        // Readiness always asks Redis itself, breaker or not.
        let mut c = self.conn.clone().ok_or(KvError::NotConfigured)?;
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    /// Whether Redis writes an append-only file, so streams survive its
    /// restart (`INFO persistence`, which managed Redis allows where
    /// `CONFIG GET` is often disabled).
    pub async fn persists_streams(&self) -> Result<bool, KvError> {
        let mut c = self.conn.clone().ok_or(KvError::NotConfigured)?;
        let info: String = redis::cmd("INFO").arg("persistence").query_async(&mut c).await?;
        Ok(info.lines().any(|l| l.trim() == "aof_enabled:1"))
    }

    /// Marks a session revoked until its last access token has expired.
    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis SET", otel.kind = "client", db.system.name = "redis", db.operation.name = "SET"))]
    pub async fn revoke_session(&self, org: Uuid, sid: Uuid, ttl: Duration) -> Result<(), KvError> {
        let mut c = self.connection()?;
        let r = c.set_ex(revoked_key(org, sid), 1, ttl.as_secs().max(1)).await;
        self.checked(r)
    }

    /// Counts one event of a tenant in a fixed window (`window` from the
    /// first event); returns the count so far and the seconds left.
    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis INCR", otel.kind = "client", db.system.name = "redis", db.operation.name = "INCR"))]
    pub async fn count_in_window(&self, org: Uuid, name: &str, window: Duration) -> Result<(u64, u64), KvError> {
        let mut c = self.connection()?;
        let key = counter_key(org, name);
        let r: redis::RedisResult<(u64, i64)> = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(window.as_secs().max(1))
            .arg("NX")
            .ignore()
            .ttl(&key)
            .query_async(&mut c)
            .await;
        let (n, ttl) = self.checked(r)?;
        Ok((n, ttl.max(1) as u64))
    }

    /// The count of a window and the seconds it has left (0, 0 when none).
    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis GET", otel.kind = "client", db.system.name = "redis", db.operation.name = "GET"))]
    pub async fn window_count(&self, org: Uuid, name: &str) -> Result<(u64, u64), KvError> {
        let mut c = self.connection()?;
        let key = counter_key(org, name);
        let r: redis::RedisResult<(Option<u64>, i64)> = redis::pipe().get(&key).ttl(&key).query_async(&mut c).await;
        let (n, ttl) = self.checked(r)?;
        Ok((n.unwrap_or(0), ttl.max(0) as u64))
    }

    /// Sends `who`'s reads to the primary for `window` (read-your-writes).
    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis SET", otel.kind = "client", db.system.name = "redis", db.operation.name = "SET"))]
    pub async fn pin_reads(&self, org: Uuid, who: Uuid, window: Duration) -> Result<(), KvError> {
        let mut c = self.connection()?;
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let r = c.pset_ex(wrote_key(org, who), 1, ms).await;
        self.checked(r)
    }

    /// Whether `who` wrote within their read-your-writes window.
    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis EXISTS", otel.kind = "client", db.system.name = "redis", db.operation.name = "EXISTS"))]
    pub async fn reads_pinned(&self, org: Uuid, who: Uuid) -> Result<bool, KvError> {
        let mut c = self.connection()?;
        let r = c.exists(wrote_key(org, who)).await;
        self.checked(r)
    }

    #[tracing::instrument(name = "redis", level = "info", skip_all, fields(otel.name = "redis EXISTS", otel.kind = "client", db.system.name = "redis", db.operation.name = "EXISTS"))]
    pub async fn is_session_revoked(&self, org: Uuid, sid: Uuid) -> Result<bool, KvError> {
        let mut c = self.connection()?;
        let r = c.exists(revoked_key(org, sid)).await;
        self.checked(r)
    }
}

/// Every key carries the tenant, so a tenant's keys can be found and purged.
fn revoked_key(org: Uuid, sid: Uuid) -> String {
    format!("hub:{org}:revoked-session:{sid}")
}

fn wrote_key(org: Uuid, who: Uuid) -> String {
    format!("hub:{org}:wrote:{who}")
}

fn counter_key(org: Uuid, name: &str) -> String {
    format!("hub:{org}:count:{name}")
}

/// The Redis stream of an event family (`<prefix>:<family>`): where the
/// relays write and the consumers and the revocation feed read.
pub fn stream_key(prefix: &str, family: &str) -> String {
    format!("{prefix}:{family}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn after_a_failure_redis_is_skipped_instead_of_timing_out_again() {
        let kv = Kv::new(Some("redis://127.0.0.1:1")).unwrap();
        assert!(matches!(
            kv.is_session_revoked(Uuid::nil(), Uuid::nil()).await,
            Err(KvError::Redis(_))
        ));
        let started = Instant::now();
        assert!(matches!(
            kv.is_session_revoked(Uuid::nil(), Uuid::nil()).await,
            Err(KvError::Unavailable)
        ));
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "the breaker answers at once"
        );
    }
}
