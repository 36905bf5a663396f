//! `hub.fhir`: the medical FHIR API on the router host (`/fhir/…`), so a
//! FHIR client needs one base URL and one token, like every other client.
//! Router plugins do not see web endpoints' traffic, so this endpoint
//! applies the same edge policy itself, with the same code: the token check
//! (401 before the subgraph is called), the per-organization and per-client
//! rate limits (429 with `Retry-After`), one request id, internal headers
//! dropped and the router secret added. Errors are OperationOutcomes, as a
//! FHIR client expects.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use apollo_router::{
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::router,
    Endpoint, ListenAddr,
};
use edge::{
    auth::{Caller, EdgeAuth},
    headers::{is_internal, settle_request_id, FORWARDED, REQUEST_ID, ROUTER_SECRET_HEADER},
    rate_limit::RateLimiter,
    Rejection,
};
use http::{HeaderValue, Method, StatusCode};
use multimap::MultiMap;
use schemars::JsonSchema;
use serde::Deserialize;
use tower::{BoxError, ServiceExt};

use super::{auth, rate_limit};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    /// The router's own listen address (`supergraph.listen`): the FHIR
    /// API shares its host and port.
    pub listen: String,
    /// The medical service's base URL (it serves `/fhir/…`).
    pub upstream: String,
    /// The secret subgraphs require (as `hub.headers`).
    pub router_secret: String,
    /// Token checks, configured as `hub.auth`.
    pub auth: auth::Conf,
    /// Budgets, configured as `hub.rate_limit` (the same Redis keys: one
    /// budget for GraphQL and FHIR calls of a caller).
    pub rate_limit: rate_limit::Conf,
    /// The router's public URL (`https://api.example`), the base of every
    /// link and `fullUrl` FHIR clients get; empty: `http://` + the
    /// request's `Host` (development).
    #[serde(default)]
    pub public_url: String,
    /// How long the medical service may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// Tells the medical service its public base URL (internal: a client's
/// own `x-hub-*` headers never pass the edge).
const FHIR_BASE_HEADER: &str = "x-hub-fhir-base";

fn default_timeout() -> u64 {
    10
}

struct Edge {
    upstream: String,
    public_url: Option<String>,
    secret: HeaderValue,
    auth: EdgeAuth,
    limiter: Arc<RateLimiter>,
    http: reqwest::Client,
}

pub struct Fhir {
    listen: ListenAddr,
    edge: Arc<Edge>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Drop for Fhir {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

#[async_trait::async_trait]
impl Plugin for Fhir {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        let c = init.config;
        let listen: SocketAddr = c
            .listen
            .parse()
            .map_err(|e| format!("hub.fhir: listen `{}` is not host:port: {e}", c.listen))?;
        if c.router_secret.len() < 16 {
            return Err("hub.fhir: router_secret must be at least 16 characters".into());
        }
        let auth = auth::edge_auth(&c.auth)?;
        let (limiter, sweeper) = rate_limit::limiter(&c.rate_limit)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs.max(1)))
            .build()?;
        Ok(Fhir {
            listen: listen.into(),
            edge: Arc::new(Edge {
                upstream: c.upstream.trim_end_matches('/').to_string(),
                public_url: Some(c.public_url.trim_end_matches('/').to_string()).filter(|u| !u.is_empty()),
                secret: HeaderValue::from_str(&c.router_secret)?,
                auth,
                limiter,
                http,
            }),
            sweeper,
        })
    }

    fn web_endpoints(&self) -> MultiMap<ListenAddr, Endpoint> {
        let edge = self.edge.clone();
        let service = tower::service_fn(move |req: router::Request| {
            let edge = edge.clone();
            async move { Ok::<_, BoxError>(edge.handle(req).await) }
        })
        .boxed();
        let mut map = MultiMap::new();
        map.insert(
            self.listen.clone(),
            Endpoint::from_router_service("/fhir/{*path}".into(), service),
        );
        map
    }
}

impl Edge {
    async fn handle(&self, req: router::Request) -> router::Response {
        let context = req.context.clone();
        let headers = req.router_request.headers();
        let request_id = settle_request_id(headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()));
        let mut resp = match self.forward(req, &request_id).await {
            Ok(r) => r,
            Err(rejection) => outcome(&rejection),
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        resp.extensions_mut().insert(context);
        router::Response::from(resp.map(router::body::from_bytes))
    }

    async fn forward(&self, req: router::Request, request_id: &str) -> Result<http::Response<bytes::Bytes>, Rejection> {
        let (parts, _) = req.router_request.into_parts();
        // A read-only API: nothing but GET (and HEAD) reaches the service.
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return Err(Rejection::new(
                405,
                "METHOD_NOT_ALLOWED",
                "The FHIR API is read-only: use GET.",
            ));
        }
        let headers = &parts.headers;
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let caller: Option<Caller> = self.auth.check(authorization).await?;
        let forwarded_for = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        self.limiter.check(caller.as_ref(), forwarded_for, None).await.0?;

        // The router secret goes with this call: only FHIR interactions may
        // be forwarded, never a path out of the FHIR base.
        let path = edge::fhir::upstream_path(parts.uri.path(), parts.uri.query())?;
        let mut call = self.http.get(format!("{}{path}", self.upstream));
        for name in FORWARDED {
            if name == REQUEST_ID || is_internal(name) {
                continue;
            }
            if let Some(v) = headers.get(name) {
                call = call.header(name, v.clone());
            }
        }
        // Where the client reached us: the base of the links it gets back.
        let base = match (
            &self.public_url,
            headers.get(http::header::HOST).and_then(|h| h.to_str().ok()),
        ) {
            (Some(url), _) => Some(format!("{url}/fhir")),
            (None, Some(host)) => Some(format!("http://{host}/fhir")),
            (None, None) => None,
        };
        if let Some(v) = base.and_then(|b| HeaderValue::from_str(&b).ok()) {
            call = call.header(FHIR_BASE_HEADER, v);
        }
        call = call
            .header(REQUEST_ID, request_id)
            .header(ROUTER_SECRET_HEADER, self.secret.clone());
        let upstream = call.send().await.map_err(|e| {
            tracing::warn!(error = %e, "hub.fhir: the medical service did not answer");
            Rejection::new(
                503,
                "UNAVAILABLE",
                "The medical service is unavailable; try again shortly.",
            )
        })?;
        let status = upstream.status().as_u16();
        let mut out = http::Response::builder().status(status);
        for name in [http::header::CONTENT_TYPE, http::header::WWW_AUTHENTICATE] {
            if let Some(v) = upstream.headers().get(&name) {
                out = out.header(name, v.clone());
            }
        }
        let body = upstream.bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "hub.fhir: the medical service's answer broke off");
            Rejection::new(502, "UNAVAILABLE", "The medical service's answer broke off; try again.")
        })?;
        out.body(body)
            .map_err(|_| Rejection::new(502, "INTERNAL", "The medical service sent an unusable answer."))
    }
}

/// An edge rejection as a FHIR client reads it.
fn outcome(r: &Rejection) -> http::Response<bytes::Bytes> {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = http::Response::new(bytes::Bytes::from(r.operation_outcome().to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    if let Some(s) = r.retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            h.insert(http::header::RETRY_AFTER, v);
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        h.insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

register_plugin!("hub", "fhir", Fhir);
