//! `hub.persisted_queries`: the safelist. Requests name a persisted
//! operation by `extensions.persistedQuery.sha256Hash` or `documentId`;
//! partners may send nothing else; first-party ad-hoc operations only where
//! `allow_ad_hoc` is on. Runs at the router stage, before the router parses
//! the operation, so an id-only request gets its body substituted in time.

use std::{ops::ControlFlow, path::PathBuf, sync::Arc, time::Duration};

use apollo_router::{
    layers::ServiceBuilderExt,
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::router,
};
use edge::{
    auth::Caller,
    persisted::{decide, ManifestStore, PqDecision, PqRequest},
    Rejection,
};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use crate::{reject, CALLER};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    /// Apollo persisted query manifest (JSON).
    pub manifest: PathBuf,
    /// Whether first-party (non-partner) callers may send ad-hoc operations.
    #[serde(default)]
    pub allow_ad_hoc: bool,
    /// How often the manifest file is checked for changes.
    #[serde(default = "default_reload_ms")]
    pub reload_interval_ms: u64,
}

fn default_reload_ms() -> u64 {
    1000
}

pub struct PersistedQueries {
    store: Arc<ManifestStore>,
    allow_ad_hoc: bool,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for PersistedQueries {
    fn drop(&mut self) {
        // A configuration reload builds a new plugin; stop the old watcher.
        self.watcher.abort();
    }
}

#[async_trait::async_trait]
impl Plugin for PersistedQueries {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        let store = ManifestStore::load(&init.config.manifest)?;
        tracing::info!(operations = store.len(), "persisted query manifest loaded");
        let watcher = store.watch(Duration::from_millis(init.config.reload_interval_ms.max(100)));
        Ok(PersistedQueries {
            store,
            allow_ad_hoc: init.config.allow_ad_hoc,
            watcher,
        })
    }

    fn router_service(&self, service: router::BoxService) -> router::BoxService {
        let store = self.store.clone();
        let allow_ad_hoc = self.allow_ad_hoc;
        ServiceBuilder::new()
            .checkpoint_async(move |req: router::Request| {
                let store = store.clone();
                async move {
                    let partner = req
                        .context
                        .get::<_, Caller>(CALLER)
                        .ok()
                        .flatten()
                        .is_some_and(|c| c.partner);
                    let (router_request, context) = (req.router_request, req.context);
                    let (mut parts, body) = router_request.into_parts();
                    let bytes = body.collect().await.map_err(BoxError::from)?.to_bytes();
                    let outcome = if parts.method == http::Method::GET {
                        rewrite_query_string(&mut parts, &store, partner, allow_ad_hoc)
                    } else {
                        rewrite_json_body(&bytes, &store, partner, allow_ad_hoc)
                    };
                    match outcome {
                        Err(rejection) => Ok(ControlFlow::Break(reject(&rejection, context)?)),
                        Ok(new_body) => {
                            let body = router::body::from_bytes(new_body.unwrap_or(bytes.to_vec()));
                            let request = http::Request::from_parts(parts, body);
                            Ok(ControlFlow::Continue(router::Request::from((request, context))))
                        }
                    }
                }
            })
            .buffered()
            .service(service)
            .boxed()
    }
}

/// `Ok(Some(body))` to replace the body, `Ok(None)` to keep it.
fn rewrite_json_body(
    bytes: &[u8],
    store: &ManifestStore,
    partner: bool,
    ad_hoc: bool,
) -> Result<Option<Vec<u8>>, Rejection> {
    let Ok(mut json) = serde_json::from_slice::<Value>(bytes) else {
        // Not JSON: the router answers with its own parse error, but a
        // partner never gets that far with a body.
        return if partner { Err(bad_request()) } else { Ok(None) };
    };
    let Some(obj) = json.as_object_mut() else {
        return Err(Rejection::new(
            400,
            "BATCHING_NOT_SUPPORTED",
            "Send one operation per request.",
        ));
    };
    let id = obj
        .get("documentId")
        .and_then(Value::as_str)
        .or_else(|| {
            obj.get("extensions")?
                .get("persistedQuery")?
                .get("sha256Hash")?
                .as_str()
        })
        .map(str::to_string);
    let query = obj.get("query").and_then(Value::as_str).map(str::to_string);
    match decide(
        store,
        &PqRequest {
            id: id.as_deref(),
            query: query.as_deref(),
        },
        partner,
        ad_hoc,
    )? {
        PqDecision::AdHoc => Ok(None),
        PqDecision::Persisted(body) => {
            obj.insert("query".into(), Value::String(body));
            obj.remove("documentId");
            if let Some(ext) = obj.get_mut("extensions").and_then(Value::as_object_mut) {
                ext.remove("persistedQuery");
            }
            serde_json::to_vec(&json).map(Some).map_err(|_| bad_request())
        }
    }
}

fn rewrite_query_string(
    parts: &mut http::request::Parts,
    store: &ManifestStore,
    partner: bool,
    ad_hoc: bool,
) -> Result<Option<Vec<u8>>, Rejection> {
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).map_err(|_| bad_request())?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let extensions: Option<Value> = get("extensions").and_then(|e| serde_json::from_str(&e).ok());
    let id = get("documentId").or_else(|| {
        extensions
            .as_ref()?
            .get("persistedQuery")?
            .get("sha256Hash")?
            .as_str()
            .map(str::to_string)
    });
    let query = get("query");
    match decide(
        store,
        &PqRequest {
            id: id.as_deref(),
            query: query.as_deref(),
        },
        partner,
        ad_hoc,
    )? {
        PqDecision::AdHoc => Ok(None),
        PqDecision::Persisted(body) => {
            params.retain(|(n, _)| n != "query" && n != "documentId" && n != "extensions");
            params.push(("query".into(), body));
            let qs = serde_urlencoded::to_string(&params).map_err(|_| bad_request())?;
            let uri = format!("{}?{qs}", parts.uri.path());
            parts.uri = uri.parse().map_err(|_| bad_request())?;
            Ok(None)
        }
    }
}

fn bad_request() -> Rejection {
    Rejection::new(400, "BAD_REQUEST", "The request could not be read.")
}

register_plugin!("hub", "persisted_queries", PersistedQueries);
