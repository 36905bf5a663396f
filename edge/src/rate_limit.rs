//! Rate limits at the edge: per organization and per client (user or
//! partner), per address for anonymous callers, and one shared budget for
//! anonymous callers whose address is unknown. Buckets are GCRA in Redis
//! (`platform_base::rate_limit`), with a local limiter per replica while Redis
//! cannot answer, so the edge keeps serving.

use std::{net::IpAddr, sync::Arc};

use platform_base::{
    kv::Kv,
    rate_limit::{client_address, retry_after_secs, Bucket, Limiter, Store},
};
use serde::Deserialize;

pub use platform_base::rate_limit::Quota;

use crate::{auth::Caller, Rejection};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Shared by every caller of one organization.
    pub per_organization: Quota,
    /// Per user or partner client, and per address for anonymous callers.
    pub per_client: Quota,
    /// One budget shared by all anonymous callers whose address is unknown
    /// (no trusted proxy told it).
    pub anonymous: Quota,
    /// Reverse proxies in front of the edge that append to `X-Forwarded-For`;
    /// 0 means none, and the header is ignored.
    pub trusted_proxy_hops: usize,
    /// Prefix of every Redis key, so environments can share one Redis.
    pub key_prefix: String,
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
            anonymous: Quota {
                per_second: 50,
                burst: 100,
            },
            trusted_proxy_hops: 0,
            key_prefix: "hub".into(),
        }
    }
}

pub struct RateLimiter {
    limiter: Limiter,
    org: Bucket,
    client: Bucket,
    anonymous: Bucket,
    trusted_proxy_hops: usize,
    prefix: String,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig, kv: Kv) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(RateLimiter {
            limiter: Limiter::new(kv),
            org: Bucket::new(config.per_organization)?,
            client: Bucket::new(config.per_client)?,
            anonymous: Bucket::new(config.anonymous)?,
            trusted_proxy_hops: config.trusted_proxy_hops,
            prefix: config.key_prefix.clone(),
        }))
    }

    /// Checks (and counts) one request. Anonymous callers are told apart by
    /// the address the trusted proxies report (`forwarded_for`) or the TCP
    /// peer when there is no proxy; without either they share one budget, so
    /// rotating a spoofed `X-Forwarded-For` buys nothing.
    pub async fn check(
        &self,
        caller: Option<&Caller>,
        forwarded_for: Option<&str>,
        peer: Option<IpAddr>,
    ) -> (Result<(), Rejection>, Store) {
        let p = &self.prefix;
        let mut buckets: Vec<(&Bucket, String)> = Vec::with_capacity(2);
        match caller {
            Some(c) => {
                // Every key carries the tenant, as a hash tag: one request's
                // keys share a Redis Cluster slot, so one script can touch both.
                buckets.push((
                    &self.client,
                    format!("{p}:{{{}}}:rl:client:{}", c.organization_id, c.subject),
                ));
                buckets.push((&self.org, format!("{p}:{{{}}}:rl:org", c.organization_id)));
            }
            None => match client_address(forwarded_for, peer, self.trusted_proxy_hops) {
                Some(address) => buckets.push((&self.client, format!("{p}:anonymous:rl:address:{address}"))),
                None => buckets.push((&self.anonymous, format!("{p}:anonymous:rl:shared"))),
            },
        }
        let (verdict, store) = self.limiter.check(&buckets).await;
        match verdict {
            Ok(()) => (Ok(()), store),
            Err(wait) => {
                let secs = retry_after_secs(wait);
                let mut r = Rejection::new(429, "RATE_LIMITED", format!("Too many requests; retry in {secs} s."));
                r.retry_after = Some(secs);
                (Err(r), store)
            }
        }
    }

    /// Drops idle local buckets; call periodically.
    pub fn shrink(&self) {
        self.org.shrink();
        self.client.shrink();
        self.anonymous.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
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
            anonymous: Quota { per_second, burst },
            trusted_proxy_hops: 1,
            key_prefix: format!("hub-test-{}", Uuid::new_v4()),
        }
    }

    async fn exhaust(limiter: &RateLimiter, c: &Caller, expected_store: Store) -> Rejection {
        for i in 0..100 {
            let (r, store) = limiter.check(Some(c), None, None).await;
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
        assert!(limiter.check(Some(&caller()), None, None).await.0.is_ok());
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            limiter.check(Some(&c), None, None).await.0.is_ok(),
            "tokens come back at the sustained rate"
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
    async fn anonymous_callers_are_limited_per_trusted_address_and_share_a_budget_without_one() {
        let limiter = RateLimiter::new(&config(1, 1), Kv::disabled()).unwrap();
        let octet = Uuid::new_v4().as_u128() % 250;
        let addr = format!("10.0.0.{octet}");
        // Behind one trusted proxy, whatever the client put left of its address is ignored.
        assert!(limiter
            .check(None, Some(&format!("1.1.1.1, {addr}")), None)
            .await
            .0
            .is_ok());
        assert!(limiter
            .check(None, Some(&format!("2.2.2.2, {addr}")), None)
            .await
            .0
            .is_err());
        assert!(limiter.check(None, Some("10.9.9.9"), None).await.0.is_ok());
        // Without a usable address, every anonymous caller draws on one budget.
        assert!(limiter.check(None, None, None).await.0.is_ok());
        assert!(limiter.check(None, Some("garbage"), None).await.0.is_err());
        // Users are never counted against the anonymous budget.
        assert!(limiter.check(Some(&caller()), None, None).await.0.is_ok());
    }
}
