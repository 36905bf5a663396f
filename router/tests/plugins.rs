//! Each Hub plugin through Apollo's TestHarness (the router's canned schema
//! and canned subgraph responses), configured as in router.yaml.

use std::sync::{Arc, Mutex};

use apollo_router::{
    services::{router, subgraph},
    TestHarness,
};
use http_body_util::BodyExt;
use platform_base::keys::KeyRing;
use platform_base::{Claims, Role};
use serde_json::{json, Value};
use tower::{BoxError, ServiceExt};
use uuid::Uuid;

use hub_router as _;

const SECRET: &str = "plugin-test-secret-0123";
const QUERY: &str = "{ topProducts { upc } }";

/// Serves a key ring's JWKS; returns its URL.
async fn jwks(keys: &KeyRing) -> String {
    let set = keys.jwks();
    let app = axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(set) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks")
}

fn token(keys: &KeyRing, client: Option<&str>, org: Uuid) -> String {
    let now = chrono::Utc::now().timestamp();
    keys.sign(&Claims {
        iss: "http://issuer".into(),
        aud: "hub".into(),
        sub: Uuid::new_v4().to_string(),
        org,
        roles: vec![Role::OrgAdmin],
        verticals: vec![],
        sid: None,
        jti: Uuid::new_v4(),
        iat: now,
        nbf: now,
        exp: now + 300,
        amr: vec![],
        client: client.map(str::to_string),
        scopes: vec![],
    })
    .unwrap()
}

fn manifest(bodies: &[&str]) -> (std::path::PathBuf, Vec<String>) {
    let ops: Vec<Value> = bodies
        .iter()
        .map(|b| {
            let id = platform_base::digest::sha256_hex(b);
            json!({ "id": id, "name": "Op", "type": "query", "body": b })
        })
        .collect();
    let ids = ops.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
    let path = std::env::temp_dir().join(format!("pq-{}.json", Uuid::new_v4()));
    std::fs::write(
        &path,
        json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": ops }).to_string(),
    )
    .unwrap();
    (path, ids)
}

struct Setup {
    router: router::BoxCloneService,
    keys: KeyRing,
    pq_ids: Vec<String>,
    seen_headers: Arc<Mutex<Vec<http::HeaderMap>>>,
}

async fn setup(plugins: Value) -> Setup {
    let keys = KeyRing::from_pems(&[platform_base::keys::generate_ed25519_pem().unwrap()]).unwrap();
    let url = jwks(&keys).await;
    let (path, pq_ids) = manifest(&[QUERY]);
    let mut config = json!({
        "plugins": {
            "hub.headers": { "router_secret": SECRET },
            "hub.auth": { "issuer": "http://issuer", "audience": "hub", "jwks_url": url, "redis_url": "redis://127.0.0.1:6379" },
            "hub.rate_limit": { "per_organization": { "per_second": 1000, "burst": 1000 }, "per_client": { "per_second": 1000, "burst": 1000 } },
            "hub.persisted_queries": { "manifest": path, "allow_ad_hoc": true },
            "hub.limits": { "max_depth": 12, "max_aliases": 30, "max_root_fields": 20 }
        }
    });
    for (k, v) in plugins.as_object().unwrap() {
        config["plugins"][k] = v.clone();
    }
    let seen = Arc::new(Mutex::new(vec![]));
    let seen2 = seen.clone();
    let router = TestHarness::builder()
        .configuration_json(config)
        .unwrap()
        .subgraph_hook(move |_name, service| {
            let seen = seen2.clone();
            service
                .map_request(move |req: subgraph::Request| {
                    seen.lock().unwrap().push(req.subgraph_request.headers().clone());
                    req
                })
                .boxed()
        })
        .build_router()
        .await
        .unwrap();
    Setup {
        router,
        keys,
        pq_ids,
        seen_headers: seen,
    }
}

async fn call(s: &Setup, body: Value, headers: &[(&str, &str)]) -> (u16, Value, http::HeaderMap) {
    let mut b = router::Request::fake_builder()
        .method(http::Method::POST)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = s.router.clone().oneshot(b.build().unwrap()).await.unwrap();
    let status = resp.response.status().as_u16();
    let headers = resp.response.headers().clone();
    let bytes = resp
        .response
        .into_body()
        .collect()
        .await
        .map_err(BoxError::from)
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
}

fn code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn auth_lets_valid_and_anonymous_callers_through_and_stops_forgeries_with_401() {
    let s = setup(json!({})).await;
    let good = token(&s.keys, None, Uuid::new_v4());
    let (status, body, _) = call(
        &s,
        json!({ "query": QUERY }),
        &[("authorization", &format!("Bearer {good}"))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["topProducts"].is_array());
    let (status, _, _) = call(&s, json!({ "query": QUERY }), &[]).await;
    assert_eq!(status, 200, "anonymous callers pass; subgraphs decide");
    let stranger = KeyRing::from_pems(&[platform_base::keys::generate_ed25519_pem().unwrap()]).unwrap();
    let forged = token(&stranger, None, Uuid::new_v4());
    let before = s.seen_headers.lock().unwrap().len();
    for bad in [
        format!("Bearer {forged}"),
        "Bearer not.a.jwt".into(),
        "Basic Zm9vOmJhcg==".into(),
    ] {
        let (status, body, _) = call(&s, json!({ "query": QUERY }), &[("authorization", &bad)]).await;
        assert_eq!((status, code(&body)), (401, Some("UNAUTHENTICATED")), "{bad}: {body}");
    }
    assert_eq!(s.seen_headers.lock().unwrap().len(), before, "no subgraph was called");
}

#[tokio::test]
async fn headers_drop_internal_ones_and_add_the_router_secret() {
    let s = setup(json!({})).await;
    let t = token(&s.keys, None, Uuid::new_v4());
    let auth = format!("Bearer {t}");
    call(
        &s,
        json!({ "query": QUERY }),
        &[
            ("authorization", &auth),
            ("x-hub-router-secret", "spoofed"),
            ("x-hub-tenant", "evil"),
            ("accept-language", "fr"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ],
    )
    .await;
    let seen = s.seen_headers.lock().unwrap();
    assert!(!seen.is_empty());
    for h in seen.iter() {
        assert_eq!(h.get("x-hub-router-secret").unwrap(), SECRET);
        assert!(h.get("x-hub-tenant").is_none());
        assert_eq!(h.get("authorization").unwrap(), auth.as_str());
        assert_eq!(h.get("accept-language").unwrap(), "fr");
        assert!(h.get("traceparent").is_some());
    }
}

#[tokio::test]
async fn persisted_queries_enforce_the_safelist() {
    let s = setup(json!({})).await;
    let partner = format!("Bearer {}", token(&s.keys, Some("partner"), Uuid::new_v4()));
    let id = s.pq_ids[0].clone();
    let (status, body, _) = call(
        &s,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } } }),
        &[("authorization", &partner)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["topProducts"].is_array());
    let (_, body, _) = call(&s, json!({ "query": QUERY }), &[("authorization", &partner)]).await;
    assert_eq!(code(&body), Some("PERSISTED_QUERY_ID_REQUIRED"));
    let (_, body, _) = call(
        &s,
        json!({ "documentId": "ff".repeat(32) }),
        &[("authorization", &partner)],
    )
    .await;
    assert_eq!(code(&body), Some("PERSISTED_QUERY_NOT_IN_LIST"));
    let (_, body, _) = call(&s, json!({ "documentId": id, "query": "{ me { id } }" }), &[]).await;
    assert_eq!(code(&body), Some("CANNOT_SEND_PQ_ID_AND_BODY"));
    let (status, _, _) = call(&s, json!({ "query": QUERY }), &[]).await;
    assert_eq!(status, 200, "first-party ad-hoc allowed by this configuration");
}

#[tokio::test]
async fn limits_refuse_deep_and_wide_operations() {
    let s = setup(json!({ "hub.limits": { "max_depth": 1, "max_aliases": 1, "max_root_fields": 1 } })).await;
    let (status, body, _) = call(&s, json!({ "query": QUERY }), &[]).await;
    assert_eq!((status, code(&body)), (400, Some("MAX_DEPTH_LIMIT")), "{body}");
    let (_, body, _) = call(&s, json!({ "query": "{ a: __typename b: __typename }" }), &[]).await;
    assert_eq!(code(&body), Some("MAX_ALIASES_LIMIT"));
    let (_, body, _) = call(&s, json!({ "query": "{ __typename __typename }" }), &[]).await;
    assert_eq!(code(&body), Some("MAX_ROOT_FIELDS_LIMIT"), "{body}");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = setup(json!({ "hub.rate_limit": { "per_organization": { "per_second": 1000, "burst": 1000 }, "per_client": { "per_second": 1, "burst": 1 } } })).await;
    let t = format!("Bearer {}", token(&s.keys, None, Uuid::new_v4()));
    let mut last = (0, Value::Null, http::HeaderMap::new());
    for _ in 0..5 {
        last = call(&s, json!({ "query": "{ __typename }" }), &[("authorization", &t)]).await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!((last.0, code(&last.1)), (429, Some("RATE_LIMITED")), "{}", last.1);
    assert_eq!(last.2.get("retry-after").unwrap(), "1");
}
