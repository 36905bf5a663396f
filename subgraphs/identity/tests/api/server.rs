//! The HTTP surface: health, readiness, metrics, router secret, limits,
//! localized errors, golden SDL.

use serde_json::json;

use crate::helpers::{code, TestApp};

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let r = app.http.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r: serde_json::Value = app
        .http
        .get(format!("{}/ready", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["checks"], json!({ "database": "ok", "redis": "ok" }));
    app.gql("{ me { id } }", json!({}), None).await;
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("hub_graphql_errors_total{code=\"UNAUTHENTICATED\",service=\"identity\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn ready_reports_an_unreachable_database() {
    let app = TestApp::spawn_unmigrated(|f| {
        f.merge(("database.url", "postgres://postgres@127.0.0.1:1/nowhere"))
            .merge(("database.acquire_timeout_ms", 300))
    })
    .await;
    let r = app.http.get(format!("{}/ready", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["checks"]["database"].as_str().unwrap().starts_with("error"),
        "{body}"
    );
    // Liveness is not readiness: the process itself is fine.
    assert_eq!(
        app.http
            .get(format!("{}/health", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn without_the_router_secret_graphql_is_refused_when_required() {
    let app = TestApp::spawn_with(|f| {
        f.merge(("auth.require_router_secret", true))
            .merge(("auth.router_secret", "s3cret-from-router"))
    })
    .await;
    let (status, body) = app.gql_response("{ __typename }", json!({}), None, &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), Some("FORBIDDEN"));
    let (status, _) = app
        .gql_response("{ __typename }", json!({}), None, &[("x-hub-router-secret", "wrong")])
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .gql_response(
            "{ __typename }",
            json!({}),
            None,
            &[("x-hub-router-secret", "s3cret-from-router")],
        )
        .await;
    assert_eq!((status, &body["data"]), (200, &json!({ "__typename": "Query" })));
}

#[tokio::test]
async fn errors_speak_the_callers_language() {
    let app = TestApp::spawn().await;
    let q = "{ me { id } }";
    for (lang, expected) in [
        ("fr-FR,fr;q=0.9", "Authentification requise."),
        ("de", "Anmeldung erforderlich."),
        ("es", "Authentication required."),
    ] {
        let (_, body) = app.gql_response(q, json!({}), None, &[("accept-language", lang)]).await;
        assert_eq!(body["errors"][0]["message"], expected, "{lang}");
        assert_eq!(code(&body), Some("UNAUTHENTICATED"));
    }
}

#[tokio::test]
async fn depth_and_entity_limits_are_enforced() {
    let app = TestApp::spawn_with(|f| f.merge(("limits.depth", 3)).merge(("limits.entities", 2))).await;
    let deep = "{ currentOrganization { members { edges { node { user { id } } } } } }";
    let body = app.gql(deep, json!({}), None).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );
    let reps: Vec<_> = (0..3)
        .map(|_| json!({ "__typename": "User", "id": uuid::Uuid::new_v4().to_string() }))
        .collect();
    let body = app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
            json!({ "r": reps }),
            None,
        )
        .await;
    assert_eq!(code(&body), Some("MAX_ENTITIES_LIMIT"), "{body}");
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused() {
    let app = TestApp::spawn_with(|f| f.merge(("server.body_limit_bytes", 1024))).await;
    let big = format!("{{ __typename }} # {}", "x".repeat(4096));
    let (status, _) = {
        let r = app
            .http
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": big }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 413);
}

#[test]
fn the_committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap_or_default();
    assert!(
        committed == identity::sdl(),
        "subgraphs/identity/schema.graphql is stale: run `cargo run -p hub -- schema export` and commit it"
    );
}

#[tokio::test]
async fn production_turns_introspection_and_field_suggestions_off() {
    const SECRET: &str = "production-router-secret";
    let app = TestApp::spawn_with(|f| {
        f.merge(("environment", "production"))
            .merge(("auth.require_router_secret", true))
            .merge(("auth.router_secret", SECRET))
    })
    .await;
    let via_router = [("x-hub-router-secret", SECRET)];
    let (_, body) = app
        .gql_response("{ __schema { types { name } } }", json!({}), None, &via_router)
        .await;
    // async-graphql answers a disabled introspection with null: nothing leaks.
    assert!(body["data"]["__schema"].is_null(), "introspection must be off: {body}");
    assert!(!body.to_string().contains("AuthPayload"), "{body}");
    let (_, body) = app
        .gql_response("{ currentOrganizatio { id } }", json!({}), None, &via_router)
        .await;
    assert!(body["errors"].is_array(), "{body}");
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    // Development keeps both for the frontend teams.
    let dev = TestApp::spawn().await;
    let body = dev.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}
