//! Rate limits per organization and per client: GCRA in Redis (one atomic
//! script, shared by every router replica), and a local GCRA per replica
//! when Redis cannot answer, so the edge keeps serving.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota as GovernorQuota};
use platform::kv::Kv;
use serde::Deserialize;

use crate::{auth::Caller, Rejection};

/// Sustained rate and burst of one bucket.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct Quota {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Shared by every caller of one organization.
    pub per_organization: Quota,
    /// Per user or partner client (per address for anonymous callers).
    pub per_client: Quota,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_organization: Quota {
                per_second: 200,
                burst: 400,
            },
            per_client: Quota {
                per_second: 20,
                burst: 40,
            },
        }
    }
}

/// GCRA over every bucket of a request in one round trip: each key stores
/// its theoretical arrival time (TAT) in ms; the request is counted in all
/// buckets only if all allow it. Returns {allowed, retry_after_ms}. Uses
/// Redis' clock so replicas agree. ARGV holds (emission, tolerance) pairs.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local new_tats = {}
local wait = 0
for i = 1, #KEYS do
  local emission = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  new_tats[i] = tat + emission
  local allow_at = new_tats[i] - tolerance
  if allow_at - now > wait then wait = allow_at - now end
end
if wait > 0 then
  return {0, wait}
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], new_tats[i], 'PX', math.max(1, new_tats[i] - now))
end
return {1, 0}
"#;

struct Bucket {
    quota: Quota,
    local: DefaultKeyedRateLimiter<String>,
}

impl Bucket {
    fn new(quota: Quota) -> anyhow::Result<Self> {
        let per_second = NonZeroU32::new(quota.per_second).ok_or_else(|| anyhow::anyhow!("per_second must be > 0"))?;
        let burst = NonZeroU32::new(quota.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Bucket {
            quota,
            local: governor::RateLimiter::keyed(GovernorQuota::per_second(per_second).allow_burst(burst)),
        })
    }

    /// (emission interval, tolerance) in ms.
    fn gcra_params(&self) -> (u64, u64) {
        let emission = (1000 / self.quota.per_second.max(1) as u64).max(1);
        (emission, emission * self.quota.burst.max(1) as u64)
    }
}

pub struct RateLimiter {
    kv: Kv,
    script: redis::Script,
    org: Bucket,
    client: Bucket,
}

/// Which store answered, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Redis,
    Local,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig, kv: Kv) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(RateLimiter {
            kv,
            script: redis::Script::new(GCRA),
            org: Bucket::new(config.per_organization)?,
            client: Bucket::new(config.per_client)?,
        }))
    }

    /// Checks (and counts) one request. `address` (the client address a proxy
    /// forwarded) identifies anonymous callers; without one they are not
    /// limited here, since one shared bucket would let a single client lock
    /// every sign-in out (identity's per-account lockout still applies).
    pub async fn check(&self, caller: Option<&Caller>, address: &str) -> (Result<(), Rejection>, Store) {
        if caller.is_none() && address.is_empty() {
            return (Ok(()), Store::Local);
        }
        let mut buckets: Vec<(&Bucket, String)> = Vec::with_capacity(2);
        match caller {
            Some(c) => {
                // Every key carries the tenant, as a hash tag: one request's
                // keys share a Redis Cluster slot, so one script can touch both.
                buckets.push((
                    &self.client,
                    format!("hub:{{{}}}:rl:client:{}", c.organization_id, c.subject),
                ));
                buckets.push((&self.org, format!("hub:{{{}}}:rl:org", c.organization_id)));
            }
            None => buckets.push((&self.client, format!("hub:anonymous:rl:address:{address}"))),
        }
        let (verdict, store) = self.check_buckets(&buckets).await;
        match verdict {
            Ok(()) => (Ok(()), store),
            Err(wait) => {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let mut r = Rejection::new(429, "RATE_LIMITED", format!("Too many requests; retry in {secs} s."));
                r.retry_after = Some(secs);
                (Err(r), store)
            }
        }
    }

    async fn check_buckets(&self, buckets: &[(&Bucket, String)]) -> (Result<(), Duration>, Store) {
        if let Ok(mut conn) = self.kv.connection() {
            let mut invocation = self.script.prepare_invoke();
            for (bucket, key) in buckets {
                let (emission, tolerance) = bucket.gcra_params();
                invocation.key(key).arg(emission).arg(tolerance);
            }
            let r: redis::RedisResult<(i64, i64)> = invocation.invoke_async(&mut conn).await;
            match r {
                Ok((1, _)) => return (Ok(()), Store::Redis),
                Ok((_, wait_ms)) => return (Err(Duration::from_millis(wait_ms.max(0) as u64)), Store::Redis),
                Err(e) => {
                    self.kv.report_failure();
                    tracing::warn!(error = %e, "rate limit store unavailable; limiting locally");
                }
            }
        }
        let now = governor::clock::DefaultClock::default().now();
        for (bucket, key) in buckets {
            if let Err(not_until) = bucket.local.check_key(key) {
                return (Err(not_until.wait_time_from(now)), Store::Local);
            }
        }
        (Ok(()), Store::Local)
    }

    /// Drops idle local buckets; call periodically.
    pub fn shrink(&self) {
        self.org.local.retain_recent();
        self.client.local.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn caller() -> Caller {
        Caller {
            organization_id: Uuid::new_v4(),
            subject: Uuid::new_v4(),
            partner: false,
        }
    }

    fn config(per_second: u32, burst: u32) -> RateLimitConfig {
        RateLimitConfig {
            per_organization: Quota {
                per_second: 1000,
                burst: 1000,
            },
            per_client: Quota { per_second, burst },
        }
    }

    async fn exhaust(limiter: &RateLimiter, c: &Caller, expected_store: Store) -> Rejection {
        for i in 0..100 {
            let (r, store) = limiter.check(Some(c), "127.0.0.1").await;
            assert_eq!(store, expected_store);
            if let Err(rej) = r {
                assert!(i >= 2, "the burst must pass first (blocked at {i})");
                return rej;
            }
        }
        panic!("never limited");
    }

    #[tokio::test]
    async fn redis_limits_after_the_burst_and_recovers() {
        let kv = Kv::new(Some("redis://127.0.0.1:6379")).unwrap();
        let limiter = RateLimiter::new(&config(5, 3), kv).unwrap();
        let c = caller();
        let rej = exhaust(&limiter, &c, Store::Redis).await;
        assert_eq!((rej.status, rej.code), (429, "RATE_LIMITED"));
        assert_eq!(rej.retry_after, Some(1));
        // Another client of another organization is unaffected.
        assert!(limiter.check(Some(&caller()), "x").await.0.is_ok());
        // A refused request spends nothing: the organization bucket is untouched.
        let org_key = format!("hub:{{{}}}:rl:org", c.organization_id);
        let mut conn = limiter.kv.connection().unwrap();
        let tat: Option<i64> = redis::cmd("GET").arg(&org_key).query_async(&mut conn).await.unwrap();
        assert!(
            tat.is_some(),
            "allowed requests were counted in the organization bucket"
        );
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            limiter.check(Some(&c), "x").await.0.is_ok(),
            "tokens come back at the sustained rate"
        );
    }

    #[tokio::test]
    async fn a_refused_request_spends_nothing_in_the_other_bucket() {
        let kv = Kv::new(Some("redis://127.0.0.1:6379")).unwrap();
        let limiter = RateLimiter::new(&config(1, 1), kv).unwrap();
        let c = caller();
        let org_key = format!("hub:{{{}}}:rl:org", c.organization_id);
        let mut conn = limiter.kv.connection().unwrap();
        assert!(limiter.check(Some(&c), "x").await.0.is_ok());
        let before: Option<i64> = redis::cmd("GET").arg(&org_key).query_async(&mut conn).await.unwrap();
        assert!(before.is_some(), "the allowed request was counted for the organization");
        assert!(
            limiter.check(Some(&c), "x").await.0.is_err(),
            "the client bucket is empty"
        );
        let after: Option<i64> = redis::cmd("GET").arg(&org_key).query_async(&mut conn).await.unwrap();
        assert_eq!(
            before, after,
            "the refused request did not spend the organization's budget"
        );
    }

    #[tokio::test]
    async fn with_redis_down_a_local_limiter_takes_over() {
        let kv = Kv::new(Some("redis://127.0.0.1:1")).unwrap();
        let limiter = RateLimiter::new(&config(5, 3), kv).unwrap();
        let rej = exhaust(&limiter, &caller(), Store::Local).await;
        assert_eq!(rej.code, "RATE_LIMITED");
    }

    #[tokio::test]
    async fn anonymous_callers_are_limited_per_address() {
        let limiter = RateLimiter::new(&config(1, 1), Kv::disabled()).unwrap();
        let addr = format!("10.0.0.{}", rand_octet());
        assert!(limiter.check(None, &addr).await.0.is_ok());
        assert!(limiter.check(None, &addr).await.0.is_err());
        assert!(limiter.check(None, "10.9.9.9").await.0.is_ok());
        for _ in 0..5 {
            assert!(
                limiter.check(None, "").await.0.is_ok(),
                "no address: not limited at the edge"
            );
        }
    }

    fn rand_octet() -> u8 {
        (Uuid::new_v4().as_u128() % 250) as u8
    }
}
