//! `hub.rate_limit`: per organization and per client, in Redis (GCRA), 429
//! with `Retry-After`; a local limiter takes over while Redis is down.

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
use platform::kv::Kv;
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
    /// Per user or partner client; anonymous callers per `X-Forwarded-For`
    /// address (not limited without one).
    pub per_client: QuotaConf,
    /// Empty: local limiting only (one budget per router replica).
    #[serde(default)]
    pub redis_url: Option<String>,
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
        let c = init.config;
        let config = RateLimitConfig {
            per_organization: Quota {
                per_second: c.per_organization.per_second,
                burst: c.per_organization.burst,
            },
            per_client: Quota {
                per_second: c.per_client.per_second,
                burst: c.per_client.burst,
            },
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
        Ok(RateLimit { limiter, sweeper })
    }

    fn router_service(&self, service: router::BoxService) -> router::BoxService {
        let limiter = self.limiter.clone();
        ServiceBuilder::new()
            .checkpoint_async(move |req: router::Request| {
                let limiter = limiter.clone();
                async move {
                    let caller: Option<Caller> = req.context.get(CALLER).ok().flatten();
                    let address = req
                        .router_request
                        .headers()
                        .get("x-forwarded-for")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.split(',').next())
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    match limiter.check(caller.as_ref(), &address).await.0 {
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
