//! Redis access shared by the services. Redis is optional in development and
//! may fail in production: every caller gets a clear "unavailable" instead of
//! a hang, and decides whether to fall back or refuse.

use std::time::Duration;

use redis::{aio::ConnectionManager, AsyncCommands};
use uuid::Uuid;

#[derive(Clone)]
pub struct Kv {
    conn: Option<ConnectionManager>,
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("redis is not configured")]
    NotConfigured,
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl Kv {
    /// Connects lazily, so a service starts (and reports not-ready) when Redis is down.
    pub fn new(url: Option<&str>) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Kv { conn: None });
        };
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Kv { conn: Some(conn) })
    }

    pub fn disabled() -> Self {
        Kv { conn: None }
    }

    pub fn is_configured(&self) -> bool {
        self.conn.is_some()
    }

    /// A handle for commands this module does not wrap (scripts, …).
    pub fn connection(&self) -> Result<ConnectionManager, KvError> {
        self.conn()
    }

    fn conn(&self) -> Result<ConnectionManager, KvError> {
        self.conn.clone().ok_or(KvError::NotConfigured)
    }

    pub async fn ping(&self) -> Result<(), KvError> {
        let mut c = self.conn()?;
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    /// Marks a session revoked until its last access token has expired.
    pub async fn revoke_session(&self, org: Uuid, sid: Uuid, ttl: Duration) -> Result<(), KvError> {
        let mut c = self.conn()?;
        let _: () = c.set_ex(revoked_key(org, sid), 1, ttl.as_secs().max(1)).await?;
        Ok(())
    }

    pub async fn is_session_revoked(&self, org: Uuid, sid: Uuid) -> Result<bool, KvError> {
        let mut c = self.conn()?;
        Ok(c.exists(revoked_key(org, sid)).await?)
    }
}

/// Every key carries the tenant, so a tenant's keys can be found and purged.
fn revoked_key(org: Uuid, sid: Uuid) -> String {
    format!("hub:{org}:revoked-session:{sid}")
}
