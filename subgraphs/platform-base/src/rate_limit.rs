//! Rate limiting shared by the edge and the services: GCRA buckets in Redis
//! (one atomic script for all of a request's buckets, so every replica
//! agrees), a local GCRA per process while Redis cannot answer, and the
//! client address as seen through a configured number of trusted proxies.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota as GovernorQuota};
use serde::Deserialize;

use crate::kv::Kv;

/// Sustained rate and burst of one bucket.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Quota {
    pub per_second: u32,
    pub burst: u32,
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

/// One kind of bucket (per client, per organization, per address …): its
/// quota, and the local limiter that stands in while Redis is down.
pub struct Bucket {
    quota: Quota,
    local: DefaultKeyedRateLimiter<String>,
}

impl Bucket {
    pub fn new(quota: Quota) -> anyhow::Result<Self> {
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

    /// Drops idle local keys; call periodically.
    pub fn shrink(&self) {
        self.local.retain_recent();
    }
}

/// Which store answered, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Redis,
    Local,
}

pub struct Limiter {
    kv: Kv,
    script: redis::Script,
}

impl Limiter {
    pub fn new(kv: Kv) -> Self {
        Limiter {
            kv,
            script: redis::Script::new(GCRA),
        }
    }

    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// Counts one request in every bucket, or in none: `Err` carries how long
    /// to wait. On Redis Cluster the keys of one call must share a slot (give
    /// them one hash tag).
    pub async fn check(&self, buckets: &[(&Bucket, String)]) -> (Result<(), Duration>, Store) {
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
}

/// Whole seconds a client should wait (at least one), for `Retry-After`.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// The client's address as the outermost trusted proxy saw it.
///
/// With no trusted proxy (`trusted_hops == 0`) `X-Forwarded-For` is the
/// client's own word and is ignored: the TCP peer is the client. Behind
/// `n` trusted proxies, each appends the address it was called from, so the
/// `n`-th entry from the right is the client and everything left of it is
/// whatever the client sent. A request with fewer entries than trusted hops
/// did not come through the proxies: its address is unknown (`None`), and
/// callers fall back to a shared budget rather than believe it.
pub fn client_address(forwarded_for: Option<&str>, peer: Option<IpAddr>, trusted_hops: usize) -> Option<IpAddr> {
    if trusted_hops == 0 {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let entry = hops.len().checked_sub(trusted_hops).and_then(|i| hops.get(i))?;
    entry.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_client_address_is_what_the_outermost_trusted_proxy_saw() {
        let peer = ip("10.0.0.2");
        // No proxy: the header is the client's own claim.
        assert_eq!(client_address(Some("1.2.3.4"), peer, 0), peer);
        assert_eq!(client_address(None, None, 0), None);
        // One proxy appended the real address; what the client sent is left of it.
        assert_eq!(client_address(Some("6.6.6.6, 203.0.113.7"), peer, 1), ip("203.0.113.7"));
        assert_eq!(client_address(Some("203.0.113.7"), peer, 1), ip("203.0.113.7"));
        // Two proxies: the second appended the first's address.
        assert_eq!(
            client_address(Some("6.6.6.6,203.0.113.7, 10.1.1.1"), peer, 2),
            ip("203.0.113.7")
        );
        // Fewer entries than trusted hops, or garbage: unknown, never believed.
        assert_eq!(client_address(Some("203.0.113.7"), peer, 2), None);
        assert_eq!(client_address(None, peer, 1), None);
        assert_eq!(client_address(Some("6.6.6.6, not-an-ip"), peer, 1), None);
        assert_eq!(client_address(Some("2001:db8::1"), peer, 1), ip("2001:db8::1"));
    }

    fn key() -> String {
        format!("hub:test:rl:{}", Uuid::new_v4())
    }

    #[tokio::test]
    async fn a_request_counts_in_all_buckets_or_in_none() {
        let limiter = Limiter::new(Kv::new(Some("redis://127.0.0.1:6379")).unwrap());
        let tight = Bucket::new(Quota {
            per_second: 1,
            burst: 1,
        })
        .unwrap();
        // Slow but deep: its key lives a second, long enough to compare.
        let loose = Bucket::new(Quota {
            per_second: 1,
            burst: 100,
        })
        .unwrap();
        let (a, b) = (key(), key());
        let buckets = [(&tight, a.clone()), (&loose, b.clone())];
        assert_eq!(limiter.check(&buckets).await, (Ok(()), Store::Redis));
        let mut conn = limiter.kv.connection().unwrap();
        let before: Option<i64> = redis::cmd("GET").arg(&b).query_async(&mut conn).await.unwrap();
        let (refused, _) = limiter.check(&buckets).await;
        let wait = refused.expect_err("the tight bucket is empty");
        assert_eq!(retry_after_secs(wait), 1);
        let after: Option<i64> = redis::cmd("GET").arg(&b).query_async(&mut conn).await.unwrap();
        assert_eq!(before, after, "the refused request spent nothing in the loose bucket");
    }

    #[tokio::test]
    async fn with_redis_down_each_process_limits_locally() {
        let limiter = Limiter::new(Kv::new(Some("redis://127.0.0.1:1")).unwrap());
        let bucket = Bucket::new(Quota {
            per_second: 1,
            burst: 2,
        })
        .unwrap();
        let k = key();
        let mut verdicts = Vec::new();
        for _ in 0..4 {
            let (r, store) = limiter.check(&[(&bucket, k.clone())]).await;
            assert_eq!(store, Store::Local);
            verdicts.push(r.is_ok());
        }
        assert_eq!(verdicts, [true, true, false, false]);
    }
}
