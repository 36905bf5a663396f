//! `hub.headers`: client-sent internal headers (`x-hub-*`, the router
//! secret) never go further; subgraphs get `Authorization`, `traceparent`,
//! `Accept-Language`, the request id and the router secret. Every client
//! request gets one request id (the client's if well formed, else a new
//! one), returned in the `x-request-id` response header.

use apollo_router::{
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::{router, subgraph},
};
use edge::headers::{is_internal, settle_request_id, FORWARDED, REQUEST_ID, ROUTER_SECRET_HEADER};
use http::HeaderValue;
use schemars::JsonSchema;
use serde::Deserialize;
use tower::{BoxError, ServiceBuilder, ServiceExt};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    /// Shared secret subgraphs require on every call.
    pub router_secret: String,
}

const CONTEXT_KEY: &str = "hub::request_id";

pub struct Headers {
    secret: HeaderValue,
}

#[async_trait::async_trait]
impl Plugin for Headers {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        if init.config.router_secret.len() < 16 {
            return Err("hub.headers: router_secret must be at least 16 characters".into());
        }
        Ok(Headers {
            secret: HeaderValue::from_str(&init.config.router_secret)?,
        })
    }

    fn router_service(&self, service: router::BoxService) -> router::BoxService {
        ServiceBuilder::new()
            .map_request(|mut req: router::Request| {
                let headers = req.router_request.headers_mut();
                let internal: Vec<_> = headers.keys().filter(|k| is_internal(k.as_str())).cloned().collect();
                for name in internal {
                    tracing::debug!(header = %name, "dropping a client-sent internal header");
                    headers.remove(name);
                }
                let id = settle_request_id(headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()));
                if let Ok(value) = HeaderValue::from_str(&id) {
                    headers.insert(REQUEST_ID, value);
                }
                let _ = req.context.insert(CONTEXT_KEY, id);
                req
            })
            .map_response(|mut resp: router::Response| {
                let id = resp.context.get::<_, String>(CONTEXT_KEY).ok().flatten();
                if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                    resp.response.headers_mut().insert(REQUEST_ID, value);
                }
                resp
            })
            .service(service)
            .boxed()
    }

    fn subgraph_service(&self, _name: &str, service: subgraph::BoxService) -> subgraph::BoxService {
        let secret = self.secret.clone();
        ServiceBuilder::new()
            .map_request(move |mut req: subgraph::Request| {
                let client = req.supergraph_request.headers().clone();
                let headers = req.subgraph_request.headers_mut();
                let internal: Vec<_> = headers.keys().filter(|k| is_internal(k.as_str())).cloned().collect();
                for name in internal {
                    headers.remove(name);
                }
                for name in FORWARDED {
                    if let Some(v) = client.get(name) {
                        headers.insert(name, v.clone());
                    }
                }
                headers.insert(ROUTER_SECRET_HEADER, secret.clone());
                req
            })
            .service(service)
            .boxed()
    }
}

register_plugin!("hub", "headers", Headers);
