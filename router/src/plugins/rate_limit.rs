//! `hub.rate_limit`: per organization and per client, in Redis (GCRA), 429
//! with `Retry-After`; a local limiter takes over while Redis is down.
//! Anonymous callers are limited per address only where trusted proxies
//! report it: the router's plugin API does not expose the TCP peer, so with
//! no proxy configured they share one budget.

use std::{ops::ControlFlow, sync::Arc, time::Duration};

use apollo_router::{
    layers::ServiceBuilderExt,
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::router,
};
use edge::{
    auth::Caller,
    rate_limit::{Quota, RateLimitConfig, RateLimiter},
};
use platform_base::kv::Kv;
use schemars::JsonSchema;
use serde::Deserialize;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use crate::{reject, CALLER};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConf {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    /// Shared by every caller of one organization.
    pub per_organization: QuotaConf,
    /// Per user or partner client; anonymous callers per address where the
    /// trusted proxies report one.
    pub per_client: QuotaConf,
    /// Shared by all anonymous callers whose address is unknown.
    #[serde(default = "default_anonymous")]
    pub anonymous: QuotaConf,
    /// Reverse proxies in front of the router that append the address they
    /// were called from to `X-Forwarded-For`. 0: the header is ignored.
    #[serde(default)]
    pub trusted_proxy_hops: usize,
    /// Prefix of the limiter's Redis keys (environments sharing one Redis).
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Empty: local limiting only (one budget per router replica).
    #[serde(default)]
    pub redis_url: Option<String>,
}

fn default_anonymous() -> QuotaConf {
    let q = RateLimitConfig::default().anonymous;
    QuotaConf {
        per_second: q.per_second,
        burst: q.burst,
    }
}

fn default_prefix() -> String {
    "hub".into()
}

impl From<&QuotaConf> for Quota {
    fn from(q: &QuotaConf) -> Self {
        Quota {
            per_second: q.per_second,
            burst: q.burst,
        }
    }
}

/// The limiter a configuration describes (also `hub.fhir`'s), with the task
/// that drops idle local buckets every minute (abort it on drop).
pub fn limiter(c: &Conf) -> Result<(Arc<RateLimiter>, tokio::task::JoinHandle<()>), BoxError> {
    let config = RateLimitConfig {
        per_organization: (&c.per_organization).into(),
        per_client: (&c.per_client).into(),
        anonymous: (&c.anonymous).into(),
        trusted_proxy_hops: c.trusted_proxy_hops,
        key_prefix: c.key_prefix.clone(),
    };
    let kv = Kv::new(c.redis_url.as_deref().filter(|u| !u.is_empty()))?;
    let limiter = RateLimiter::new(&config, kv)?;
    let l = limiter.clone();
    let sweeper = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            l.shrink();
        }
    });
    Ok((limiter, sweeper))
}

pub struct RateLimit {
    limiter: Arc<RateLimiter>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

#[async_trait::async_trait]
impl Plugin for RateLimit {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        let (limiter, sweeper) = limiter(&init.config)?;
        Ok(RateLimit { limiter, sweeper })
    }

    fn router_service(&self, service: router::BoxService) -> router::BoxService {
        let limiter = self.limiter.clone();
        ServiceBuilder::new()
            .checkpoint_async(move |req: router::Request| {
                let limiter = limiter.clone();
                async move {
                    let caller: Option<Caller> = req.context.get(CALLER).ok().flatten();
                    let forwarded_for = req
                        .router_request
                        .headers()
                        .get("x-forwarded-for")
                        .and_then(|v| v.to_str().ok());
                    match limiter.check(caller.as_ref(), forwarded_for, None).await.0 {
                        Ok(()) => Ok(ControlFlow::Continue(req)),
                        Err(rejection) => Ok(ControlFlow::Break(reject(&rejection, req.context)?)),
                    }
                }
            })
            .buffered()
            .service(service)
            .boxed()
    }
}

register_plugin!("hub", "rate_limit", RateLimit);
