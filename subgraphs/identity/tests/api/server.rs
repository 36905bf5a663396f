//! Identity's side of the HTTP surface: metrics by error code, localized
//! errors, limits. What every subgraph shares (readiness, router secret, body
//! limit, production introspection, golden SDL) is checked for all of them in
//! `subgraphs/registry/tests/platform.rs`.

use serde_json::json;

use crate::helpers::{code, TestApp};

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let r = app.http.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.get_json("/ready").await;
    // The test Redis keeps nothing on disk, and readiness says what that risks.
    assert_eq!(
        r["checks"],
        json!({ "database": "ok", "redis": "ok", "redis_persistence": "off" })
    );
    assert!(r["warnings"][0].as_str().unwrap().contains("appendonly yes"), "{r}");
    app.gql("{ me { id } }", json!({}), None).await;
    let text = app.get_text("/metrics").await;
    assert!(
        text.contains("hub_graphql_errors_total{code=\"UNAUTHENTICATED\",service=\"identity\"} 1"),
        "{text}"
    );
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
