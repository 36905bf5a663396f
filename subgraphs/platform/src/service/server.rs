//! HTTP bootstrap shared by all subgraphs: `/graphql` (router secret, JWT,
//! locale, request id, per-request loaders), `/health`, `/ready`, `/metrics`,
//! limits, and graceful shutdown.

use std::{
    future::IntoFuture,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{EmptySubscription, Executor, ObjectType, Schema, SchemaBuilder, SubscriptionType};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::json;
use sqlx::PgPool;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::Instrument;

use crate::{
    data::{db::Scope, reads::LoaderCtx},
    foundation::config::Settings,
    foundation::error::AppError,
    foundation::i18n::Locale,
    infra::kv::Kv,
    infra::metrics::Metrics,
    security::auth::RequestMeta,
    security::jwt::JwtVerifier,
};

pub use platform_base::headers::{REQUEST_ID_HEADER, ROUTER_SECRET_HEADER};

/// Adds per-request data (DataLoaders, …) to each GraphQL request, scoped to
/// its caller, so no cache outlives a request or crosses tenants.
pub type RequestHook = fn(async_graphql::Request, LoaderCtx) -> async_graphql::Request;

/// What every subgraph's HTTP app is made of.
pub struct Service<E> {
    pub executor: E,
    pub settings: Arc<Settings>,
    pub verifier: Arc<JwtVerifier>,
    pub pool: PgPool,
    pub reads: Arc<crate::data::reads::ReadPools>,
    pub kv: Kv,
    pub metrics: Metrics,
    pub per_request: RequestHook,
    /// The events prefix and this service's consumer groups (family, group),
    /// for `/metrics`.
    pub events: EventGroups,
    /// Why this instance must not serve (its keys differ from its peers'):
    /// `/ready` answers 503 `misconfigured` once set; the log says why.
    pub refusal: Arc<std::sync::OnceLock<String>>,
}

#[derive(Clone, Default)]
pub struct EventGroups {
    pub prefix: String,
    pub groups: Vec<(&'static str, &'static str)>,
}

/// A schema with the platform's limits, federation and localization applied.
pub fn schema_builder<Q, M>(query: Q, mutation: M, settings: &Settings) -> SchemaBuilder<Q, M, EmptySubscription>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    EmptySubscription: SubscriptionType,
{
    let limits = &settings.limits;
    let mut b = Schema::build(query, mutation, EmptySubscription)
        .enable_federation()
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_directives(limits.directives);
    if !settings.environment.is_development() {
        b = b.disable_introspection().disable_suggestions();
    }
    b
}

/// The federation SDL of a subgraph's roots, as committed in `schema.graphql`.
pub fn federation_sdl<Q, M>(query: Q, mutation: M) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    Schema::build(query, mutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().federation())
}

/// The HTTP app of a subgraph. `extra` holds service-specific routes; those
/// not listed in `public` require the router secret like `/graphql`, so a
/// route is public only by declaration.
pub fn app<E: Executor + Clone>(svc: Service<E>, extra: Router, public: &'static [&'static str]) -> Router {
    let body_limit = svc.settings.server.body_limit_bytes;
    let service = svc.settings.service.clone();
    // A worker answers nobody's requests: its only routes are the probes.
    let serving = svc.settings.server.mode == crate::foundation::config::ServerMode::Serve;
    // Extra routes read their caller with `rest::Call`, verified like /graphql.
    let extra = if serving {
        guard_extra_routes(extra, svc.settings.clone(), public).layer(axum::Extension(svc.verifier.clone()))
    } else {
        Router::new()
    };
    let svc = Arc::new(svc);
    let graphql_route = if serving {
        Router::new().route("/graphql", post(graphql::<E>))
    } else {
        Router::new()
    };
    graphql_route
        .route("/health", get(health::<E>))
        .route("/ready", get(ready::<E>))
        .route("/metrics", get(metrics::<E>))
        .with_state(svc)
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Extra routes keep the limit for bodies they extract whole (JSON,
        // forms); a route that streams its body (the content service's
        // uploads) enforces its own, per signed URL.
        .merge(extra)
        .layer(DefaultBodyLimit::max(body_limit))
        // One access-log line per request, carrying the request id the
        // router settled (or one generated here), like every line logged
        // while the request runs.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &axum::http::Request<axum::body::Body>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The route's pattern, never the path itself: a path
                    // can be a bearer secret (a signed `/files/{token}`
                    // link downloads the file), and whoever reads logs
                    // must not be able to use it.
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map(|m| m.as_str())
                        .unwrap_or("(no route)");
                    let span = tracing::info_span!(
                        "request",
                        otel.name = %format_args!("{} {route}", req.method()),
                        otel.kind = "server",
                        hub.service = %service,
                        method = %req.method(),
                        route = %route,
                        request_id = %id,
                        trace_id = tracing::field::Empty,
                        span_id = tracing::field::Empty,
                    );
                    crate::infra::telemetry::continue_trace(&span, crate::infra::telemetry::extract(req.headers()));
                    span
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn graphql<E: Executor>(State(svc): State<Arc<Service<E>>>, headers: HeaderMap, req: GraphQLRequest) -> Response {
    let started = Instant::now();
    let locale = Locale::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));

    if let Some(resp) = check_router_secret(&svc.settings, &headers, locale) {
        svc.metrics.http_requests.with_label_values(&["/graphql", "403"]).inc();
        return resp;
    }

    let mut request = req.into_inner();
    if let Err(e) = crate::foundation::validate::refuse_nul(&request.query, &request.variables) {
        svc.metrics.graphql_errors.with_label_values(&[e.code().as_str()]).inc();
        svc.metrics.http_requests.with_label_values(&["/graphql", "200"]).inc();
        return error_response(StatusCode::OK, &e, locale);
    }
    // Parsed once here, for the `_entities` cap and where reads go, and
    // handed to the executor.
    let mut writes = false;
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        writes = is_mutation(&doc, request.operation_name.as_deref());
        if let Err(e) =
            crate::foundation::limits::check_entities(&doc, &request.variables, svc.settings.limits.entities)
        {
            svc.metrics
                .graphql_errors
                .with_label_values(&["MAX_ENTITIES_LIMIT"])
                .inc();
            svc.metrics.http_requests.with_label_values(&["/graphql", "200"]).inc();
            return GraphQLResponse::from(async_graphql::Response::from_errors(vec![e])).into_response();
        }
        request.set_parsed_query(doc);
    }
    let mut request = request.data(locale);
    if let Some(id) = headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()) {
        request = request.data(RequestMeta {
            request_id: id.to_string(),
        });
    }
    let mut caller = None;
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    match crate::security::auth::bearer_token(authorization) {
        Ok(None) => {}
        Ok(Some(token)) => match svc.verifier.authenticate(token).await {
            Ok(auth) => {
                caller = Some(auth);
                request = request.data(crate::security::auth::BearerToken(token.to_string()));
            }
            Err(e) => {
                tracing::info!(reason = %e, "access token refused");
                svc.metrics.http_requests.with_label_values(&["/graphql", "401"]).inc();
                return error_response(StatusCode::UNAUTHORIZED, &AppError::Unauthenticated, locale);
            }
        },
        Err(_) => {
            svc.metrics.http_requests.with_label_values(&["/graphql", "401"]).inc();
            return error_response(StatusCode::UNAUTHORIZED, &AppError::Unauthenticated, locale);
        }
    }
    // A mutation's answer, and whatever its caller reads next, must show
    // what it wrote: both read the primary.
    let on_primary = writes || svc.reads.pinned(caller.as_ref()).await;
    let loaders = LoaderCtx::new(svc.reads.clone(), Scope::for_caller(caller.as_ref()), on_primary);
    let mut request = (svc.per_request)(request.data(loaders.clone()), loaders);
    let reads = Arc::new(crate::compliance::audit::ReadLog::default());
    request = request.data(reads.clone());
    if let Some(auth) = caller.clone() {
        request = request.data(auth);
    }
    let kind = if writes { "mutation" } else { "query" };
    let span = tracing::info_span!(
        "graphql",
        otel.name = %format_args!("{kind} {}", request.operation_name.as_deref().unwrap_or("(anonymous)")),
        graphql.operation.type = kind,
        graphql.operation.name = request.operation_name.as_deref().unwrap_or(""),
    );
    let mut response = crate::data::batch::drive(svc.executor.execute(request))
        .instrument(span)
        .await;
    if let Some(auth) = caller.as_ref().filter(|_| writes) {
        svc.reads.wrote(auth).await;
    }
    // Sensitive reads are audited before the answer leaves; if they cannot
    // be, nothing of it does.
    if let Some(auth) = &caller {
        let meta = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|id| RequestMeta {
                request_id: id.to_string(),
            });
        if let Err(e) = crate::compliance::audit::record_reads(&svc.pool, auth, meta.as_ref(), reads.take()).await {
            tracing::error!(error = %crate::foundation::error::error_chain(&e), "auditing a request's reads failed: not answering it");
            let err = async_graphql::Error::from(AppError::Unavailable("audit trail"));
            response = async_graphql::Response::from_errors(vec![err.into_server_error(Default::default())]);
        }
    }
    crate::foundation::error::present_errors(&mut response.errors, locale);

    for err in &response.errors {
        let code = match err.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(c)) => c.as_str(),
            _ => "GRAPHQL",
        };
        svc.metrics.graphql_errors.with_label_values(&[code]).inc();
    }
    svc.metrics
        .graphql_duration
        .with_label_values(&["any"])
        .observe(started.elapsed().as_secs_f64());
    svc.metrics.http_requests.with_label_values(&["/graphql", "200"]).inc();
    GraphQLResponse::from(response).into_response()
}

/// Whether the operation the request runs is a mutation.
fn is_mutation(doc: &async_graphql::parser::types::ExecutableDocument, name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let ty = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) => ops.values().next().map(|op| op.node.ty),
    };
    ty == Some(OperationType::Mutation)
}

/// Extra routes answer without the router secret only when declared public.
pub fn guard_extra_routes(extra: Router, settings: Arc<Settings>, public: &'static [&'static str]) -> Router {
    extra.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let settings = settings.clone();
            async move {
                if !is_public(public, req.uri().path()) {
                    let locale = Locale::from_accept_language(
                        req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
                    );
                    if let Some(refused) = check_router_secret(&settings, req.headers(), locale) {
                        return refused;
                    }
                }
                next.run(req).await
            }
        },
    ))
}

/// `path` is one of `public`, or under an entry ending in `/*`.
fn is_public(public: &[&str], path: &str) -> bool {
    public.iter().any(|p| match p.strip_suffix("/*") {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1),
        None => *p == path,
    })
}

fn check_router_secret(settings: &Settings, headers: &HeaderMap, locale: Locale) -> Option<Response> {
    if !settings.auth.require_router_secret {
        return None;
    }
    let expected = settings.auth.router_secret().unwrap_or_default();
    let given = headers
        .get(ROUTER_SECRET_HEADER)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !expected.is_empty() && constant_time_eq(expected.as_bytes(), given) {
        return None;
    }
    tracing::warn!("call to /graphql without the router secret refused");
    Some(error_response(StatusCode::FORBIDDEN, &AppError::Forbidden, locale))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use crate::security::rest::error_response;

async fn health<E>(State(svc): State<Arc<Service<E>>>) -> Response {
    Json(json!({ "status": "ok", "service": svc.settings.service })).into_response()
}

/// Ready when PostgreSQL answers. Redis being down is reported but does not
/// make the service unready: the platform keeps serving with fallbacks.
/// Anyone may call it, so it says only `ok`/`degraded`/`down` (or `disabled`)
/// per dependency, and `redis_persistence` `ok`/`off` (with a warning: Redis
/// without AOF loses unconsumed events on restart); the causes go to the log.
/// Set when the process received `SIGTERM`: `/ready` answers 503 from then
/// on, while requests are still served for `server.drain_secs`.
static DRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn ready<E>(State(svc): State<Arc<Service<E>>>) -> Response {
    if svc.refusal.get().is_some() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "misconfigured", "service": svc.settings.service })),
        )
            .into_response();
    }
    if DRAINING.load(std::sync::atomic::Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "service": svc.settings.service })),
        )
            .into_response();
    }
    let db = match sqlx::query_scalar::<_, i32>("select 1").fetch_one(&svc.pool).await {
        Ok(_) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "down"
        }
    };
    let redis = if !svc.kv.is_configured() {
        "disabled"
    } else {
        match svc.kv.ping().await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(error = %e, "readiness: redis unreachable, serving with fallbacks");
                "degraded"
            }
        }
    };
    // Events relayed and not yet consumed live only in Redis: without an
    // append-only file a Redis restart loses them. Ready still (the service
    // works), but said plainly.
    let mut warnings = vec![];
    let persistence = match (redis, svc.kv.persists_streams().await) {
        ("ok", Ok(true)) => "ok",
        ("ok", Ok(false)) => {
            warnings.push(
                "redis does not persist event streams (appendonly no): events not yet consumed are lost if Redis restarts; run it with appendonly yes",
            );
            "off"
        }
        ("ok", Err(e)) => {
            tracing::warn!(error = %e, "readiness: cannot read redis persistence");
            "unknown"
        }
        (other, _) => other,
    };
    let ok = db == "ok";
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "service": svc.settings.service,
        "checks": { "database": db, "redis": redis, "redis_persistence": persistence },
        "warnings": warnings,
    });
    (status, Json(body)).into_response()
}

async fn metrics<E>(State(svc): State<Arc<Service<E>>>) -> Response {
    // Read at scrape time; a database outage shows in /ready, not here.
    if let Ok(n) = crate::messaging::events::backlog(&svc.pool).await {
        svc.metrics.event_outbox_backlog.set(n);
    }
    if let Ok((reads, age)) = crate::compliance::audit::unsealed_reads(&svc.pool).await {
        svc.metrics.audit_reads_unsealed.set(reads);
        svc.metrics.audit_oldest_unsealed_read_age.set(age);
    }
    if svc.kv.is_configured() {
        let prefix = &svc.events.prefix;
        for (family, group) in &svc.events.groups {
            if let Ok(g) = crate::messaging::events::group_stats(&svc.kv, prefix, family, group).await {
                let labels = [*group, *family];
                svc.metrics
                    .event_consumer_pending
                    .with_label_values(&labels)
                    .set(g.pending);
                if let Some(lag) = g.lag {
                    svc.metrics.event_consumer_lag.with_label_values(&labels).set(lag);
                }
            }
        }
        if let Ok(n) = crate::messaging::events::dead_letters(&svc.kv, prefix).await {
            svc.metrics.event_dead_letter_backlog.set(n);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        svc.metrics.render(),
    )
        .into_response()
}

/// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(app: Router, settings: &Settings) -> anyhow::Result<()> {
    let addr = settings.server.addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(service = %settings.service, %addr, "listening");
    // The peer address is what per-address limits key on where no trusted
    // proxy reports the client (see `rate_limit::client_address`).
    // A rolling restart: on SIGTERM, readiness turns false first and the
    // service keeps serving for `drain_secs` (load balancers stop sending
    // it work), then it stops accepting and lets in-flight requests finish,
    // for at most `shutdown_grace_secs`.
    let drain = Duration::from_secs(settings.server.drain_secs);
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs.max(1));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<Instant>();
    let service = settings.service.clone();
    let draining = async move {
        shutdown_signal().await;
        DRAINING.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(service = %service, drain_secs = drain.as_secs(), "draining: not ready, still serving");
        tokio::time::sleep(drain).await;
        tracing::info!(service = %service, "no longer accepting connections; finishing requests in flight");
        let _ = stopped_tx.send(Instant::now());
    };
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(draining)
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        done = &mut server => done?,
        _ = async {
            if let Ok(since) = stopped_rx.await {
                tokio::time::sleep_until(tokio::time::Instant::from_std(since + grace)).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => tracing::warn!(service = %settings.service, "requests still in flight after the grace period: stopping anyway"),
    }
    tracing::info!(service = %settings.service, "stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundation::config::ServiceDefaults;
    use tower::ServiceExt;

    async fn status(app: &Router, path: &str, secret: Option<&str>) -> u16 {
        let mut req = axum::http::Request::get(path);
        if let Some(s) = secret {
            req = req.header(ROUTER_SECRET_HEADER, s);
        }
        let req = req.body(axum::body::Body::empty()).expect("request");
        app.clone().oneshot(req).await.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    #[tokio::test]
    async fn an_extra_route_is_public_only_when_declared() {
        let settings: Settings = Settings::figment(ServiceDefaults {
            service: "test",
            port: 0,
            schema: "test",
        })
        .merge(("auth.router_secret", "0123456789abcdef-secret"))
        .extract()
        .expect("settings");
        let extra = Router::new()
            .route("/.well-known/jwks.json", get(|| async { "keys" }))
            .route("/internal/export", get(|| async { "everything" }));
        let app = guard_extra_routes(extra, Arc::new(settings), &["/.well-known/jwks.json"]);
        assert_eq!(status(&app, "/.well-known/jwks.json", None).await, 200);
        assert_eq!(status(&app, "/internal/export", None).await, 403);
        assert_eq!(status(&app, "/internal/export", Some("wrong")).await, 403);
        assert_eq!(
            status(&app, "/internal/export", Some("0123456789abcdef-secret")).await,
            200
        );
    }

    #[test]
    fn a_public_prefix_opens_the_paths_under_it_only() {
        let public = ["/ocds/releases", "/ocds/records/*"];
        assert!(is_public(&public, "/ocds/releases"));
        assert!(is_public(&public, "/ocds/records/ocds-abc123-1"));
        assert!(!is_public(&public, "/ocds/records"));
        assert!(!is_public(&public, "/ocds/records/"));
        assert!(!is_public(&public, "/ocds/recordsX/1"));
        assert!(!is_public(&public, "/ocds/releases/x"));
    }
}
