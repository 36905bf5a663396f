//! The platform's HTTP surface, checked the same way for every registered
//! subgraph: liveness, readiness (database down → 503), metrics, the body
//! limit, the router secret, the `_entities` cap, and production turning
//! introspection and field suggestions off. The registry's tests run each
//! check for every subgraph it lists.

use serde_json::{json, Value};

use crate::{code, TestApp};
use platform::kit::Subgraph;

pub async fn health_ready_and_metrics_answer(sg: &'static Subgraph) {
    let app = TestApp::spawn(sg).await;
    let health = app.get_json("/health").await;
    assert_eq!(health, json!({ "status": "ok", "service": sg.name }), "{}", sg.name);
    let ready = app.get_json("/ready").await;
    assert_eq!(
        ready["checks"],
        json!({ "database": "ok", "redis": "ok", "redis_persistence": "off" }),
        "{}: {ready}",
        sg.name
    );
    let (status, _) = app
        .gql_response("{ __typename }", json!({}), Some("not-a-token"), &[])
        .await;
    assert_eq!(status, 401, "{}: a malformed token is refused", sg.name);
    let metrics = app.get_text("/metrics").await;
    let line = format!(
        "hub_http_requests_total{{route=\"/graphql\",status=\"401\",service=\"{}\"}} 1",
        sg.name
    );
    assert!(metrics.contains(&line), "{}: {metrics}", sg.name);
}

pub async fn ready_reports_an_unreachable_database(sg: &'static Subgraph) {
    let app = TestApp::spawn_unmigrated(sg, |f| {
        f.merge(("database.url", "postgres://postgres@127.0.0.1:1/nowhere"))
            .merge(("database.acquire_timeout_ms", 300))
    })
    .await;
    let r = app.http.get(format!("{}/ready", app.url)).send().await.expect("ready");
    assert_eq!(r.status(), 503, "{}", sg.name);
    let body: Value = r.json().await.expect("json");
    // Only the state: the cause (host, port, driver message) stays in the log.
    assert_eq!(body["checks"]["database"], "down", "{}: {body}", sg.name);
    assert!(!body.to_string().contains("127.0.0.1"), "{}: {body}", sg.name);
    // Liveness is not readiness: the process itself is fine.
    let r = app
        .http
        .get(format!("{}/health", app.url))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200, "{}", sg.name);
}

pub async fn without_the_router_secret_graphql_is_refused(sg: &'static Subgraph) {
    const SECRET: &str = "s3cret-from-the-router";
    let app = TestApp::spawn_with(sg, |f| {
        f.merge(("auth.require_router_secret", true))
            .merge(("auth.router_secret", SECRET))
    })
    .await;
    let (status, body) = app.gql_response("{ __typename }", json!({}), None, &[]).await;
    assert_eq!(status, 403, "{}: {body}", sg.name);
    assert_eq!(code(&body), Some("FORBIDDEN"), "{}", sg.name);
    let wrong = [("x-hub-router-secret", "wrong")];
    let (status, _) = app.gql_response("{ __typename }", json!({}), None, &wrong).await;
    assert_eq!(status, 403, "{}", sg.name);
    let right = [("x-hub-router-secret", SECRET)];
    let (status, body) = app.gql_response("{ __typename }", json!({}), None, &right).await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "__typename": "Query" })),
        "{}",
        sg.name
    );
}

/// Only `/health`, `/ready`, `/metrics` and the subgraph's declared public
/// paths answer without the router secret.
pub async fn only_declared_paths_are_public(sg: &'static Subgraph) {
    let app = TestApp::spawn_with(sg, |f| {
        f.merge(("auth.require_router_secret", true))
            .merge(("auth.router_secret", "s3cret-from-the-router"))
    })
    .await;
    for path in ["/health", "/ready", "/metrics"].iter().chain(sg.public_paths) {
        let get = app.http.get(format!("{}{path}", app.url)).send().await.expect("get");
        let post = app.http.post(format!("{}{path}", app.url)).send().await.expect("post");
        assert!(
            get.status() != 403 && post.status() != 403,
            "{}: {path} is declared public but refused",
            sg.name
        );
    }
    let (status, _) = app.gql_response("{ __typename }", json!({}), None, &[]).await;
    assert_eq!(status, 403, "{}: /graphql without the secret", sg.name);
}

pub async fn request_bodies_over_the_limit_are_refused(sg: &'static Subgraph) {
    let app = TestApp::spawn_with(sg, |f| f.merge(("server.body_limit_bytes", 1024))).await;
    let big = format!("{{ __typename }} # {}", "x".repeat(4096));
    let r = app
        .http
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": big }))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 413, "{}", sg.name);
    let (status, _) = app.gql_response("{ __typename }", json!({}), None, &[]).await;
    assert_eq!(status, 200, "{}: small bodies still pass", sg.name);
}

pub async fn entities_calls_are_capped(sg: &'static Subgraph) {
    let app = TestApp::spawn_with(sg, |f| f.merge(("limits.entities", 2))).await;
    let reps: Vec<Value> = (0..3)
        .map(|_| json!({ "__typename": "Unknown", "id": uuid::Uuid::new_v4().to_string() }))
        .collect();
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }";
    let body = app.gql(q, json!({ "r": reps }), None).await;
    assert_eq!(code(&body), Some("MAX_ENTITIES_LIMIT"), "{}: {body}", sg.name);
}

pub async fn production_turns_introspection_and_suggestions_off(sg: &'static Subgraph) {
    const SECRET: &str = "production-router-secret";
    // Migrated as the administrator (as `hub migrate` does); the production
    // process itself connects as its own role only.
    let dev = TestApp::spawn(sg).await;
    let service_url = dev.service_url();
    let app = dev
        .replica(|f| {
            f.merge(("environment", "production"))
                .merge(("database.url", service_url))
                .merge(("auth.require_router_secret", true))
                .merge(("auth.router_secret", SECRET))
                // Production requires one (this PostgreSQL trusts local connections anyway).
                .merge(("database.role_password", "production-role-password"))
                // Production mail goes through SMTP (connected to on first send).
                .merge(("mail.transport", "smtp"))
                .merge(("mail.smtp_url", "smtp://127.0.0.1:2525"))
        })
        .await;
    let via_router = [("x-hub-router-secret", SECRET)];
    let (_, body) = app
        .gql_response("{ __schema { types { name } } }", json!({}), None, &via_router)
        .await;
    // async-graphql answers a disabled introspection with null: nothing leaks.
    assert!(
        body["data"]["__schema"].is_null(),
        "{}: introspection must be off: {body}",
        sg.name
    );
    assert!(!body.to_string().contains("Mutation"), "{}: {body}", sg.name);
    let (_, body) = app.gql_response("{ __typenam }", json!({}), None, &via_router).await;
    assert!(body["errors"].is_array(), "{}: {body}", sg.name);
    assert!(!body.to_string().contains("Did you mean"), "{}: {body}", sg.name);
    // Development keeps both for the frontend teams.
    let body = dev.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{}", sg.name);
}

/// A production serving process never holds the database administrator's
/// credentials: given the administrator's URL, or the retention job's
/// credentials, it refuses to start and says why.
pub async fn production_refuses_administrator_credentials(sg: &'static Subgraph) {
    let dev = TestApp::spawn(sg).await;
    let dir = std::env::temp_dir().join(format!("hub-prod-{}", uuid::Uuid::new_v4().simple()));
    let production = |url: &str| {
        crate::test_figment(sg, url, &dir)
            .merge(("environment", "production"))
            .merge(("auth.require_router_secret", true))
            .merge(("auth.router_secret", "production-router-secret"))
            .merge(("database.role_password", "production-role-password"))
            .merge(("mail.transport", "off"))
    };
    let start = |fig| async move {
        match (sg.app)(fig, platform::kit::Options::default()).await {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    };
    let refused = start(production(dev.admin_url())).await;
    assert!(
        refused.contains("connects as `postgres`") && refused.contains("hub migrate"),
        "{}: started with the administrator's URL: {refused}",
        sg.name
    );
    let refused = start(production(&dev.service_url()).merge(("retention.database_url", dev.admin_url()))).await;
    assert!(
        refused.contains("HUB_RETENTION__DATABASE_URL is set on a serving process"),
        "{}: a serving process took retention's credentials: {refused}",
        sg.name
    );
    let _ = std::fs::remove_dir_all(&dir);
}

pub async fn nul_characters_are_bad_user_input_never_internal(sg: &'static Subgraph) {
    let app = TestApp::spawn(sg).await;
    let (status, body) = app
        .gql_response(
            "query($input: String) { __typename }",
            json!({ "input": { "email": "a\u{0}b@example.com" } }),
            None,
            &[("accept-language", "fr")],
        )
        .await;
    assert_eq!(status, 200, "{}: {body}", sg.name);
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{}: {body}", sg.name);
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.email",
        "{}: {body}",
        sg.name
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Valeur invalide"),
        "{}: {body}",
        sg.name
    );
}
