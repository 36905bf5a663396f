//! `hub.auth`: verifies the access token at the edge with the subgraphs'
//! own verification code; an invalid, expired, forged or revoked token is a
//! 401 before any subgraph is called. No token: anonymous, subgraphs decide.

use std::{ops::ControlFlow, sync::Arc};

use apollo_router::{
    layers::ServiceBuilderExt,
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::router,
};
use edge::auth::EdgeAuth;
use schemars::JsonSchema;
use serde::Deserialize;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use crate::{reject, CALLER};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    pub issuer: String,
    pub audience: String,
    /// identity's JWKS; re-fetched on unknown `kid`.
    pub jwks_url: String,
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Revocation list; empty means none.
    #[serde(default)]
    pub redis_url: Option<String>,
}

fn default_leeway() -> u64 {
    30
}

/// The token check a configuration describes (also `hub.fhir`'s).
pub fn edge_auth(c: &Conf) -> Result<EdgeAuth, BoxError> {
    let redis = c.redis_url.as_deref().filter(|u| !u.is_empty());
    Ok(EdgeAuth::new(
        &c.issuer,
        &c.audience,
        c.leeway_secs,
        &c.jwks_url,
        redis,
    )?)
}

pub struct Auth {
    auth: Arc<EdgeAuth>,
}

#[async_trait::async_trait]
impl Plugin for Auth {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        Ok(Auth {
            auth: Arc::new(edge_auth(&init.config)?),
        })
    }

    fn router_service(&self, service: router::BoxService) -> router::BoxService {
        let auth = self.auth.clone();
        ServiceBuilder::new()
            .checkpoint_async(move |req: router::Request| {
                let auth = auth.clone();
                async move {
                    let header = req
                        .router_request
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap_or_default());
                    match auth.check(header).await {
                        Ok(Some(caller)) => {
                            req.context.insert(CALLER, caller)?;
                            Ok(ControlFlow::Continue(req))
                        }
                        Ok(None) => Ok(ControlFlow::Continue(req)),
                        Err(rejection) => Ok(ControlFlow::Break(reject(&rejection, req.context)?)),
                    }
                }
            })
            .buffered()
            .service(service)
            .boxed()
    }
}

register_plugin!("hub", "auth", Auth);
