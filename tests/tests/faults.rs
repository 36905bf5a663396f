//! Faults an operator's worst day brings, against real processes: a
//! subgraph that stops answering without dying. Durations are bounded (a
//! few seconds each) so the suite fits CI.

use std::time::{Duration, Instant};

use hub_e2e::{Platform, RouterOptions};
use serde_json::json;

const ME_AND_SCHEDULE: &str =
    "{ me { displayName schedule(from: \"2030-05-01T00:00:00Z\", to: \"2030-06-01T00:00:00Z\") { startsAt } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_subgraph_costs_its_fields_after_the_timeout_never_the_answer_or_the_routers_health() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let (_, whole) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    assert!(whole["errors"].is_null(), "{whole}");
    assert!(whole["data"]["me"]["schedule"].is_array(), "{whole}");

    // Medical stops answering: it holds its connections, as a hung process does.
    p.subgraph("medical").proc.pause();
    let started = Instant::now();
    let (status, partial) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    let took = started.elapsed();
    // The router itself stays healthy while medical hangs.
    let health = p.http.get(&r.health).send().await.expect("health").status().as_u16();
    p.subgraph("medical").proc.resume();
    assert_eq!(health, 200);
    assert_eq!(status, 200, "{partial}");
    assert!(took < Duration::from_secs(6), "the router held the request {took:?}");
    assert_eq!(
        partial["data"]["me"]["displayName"], "Dr Alice",
        "identity's part arrives: {partial}"
    );
    assert!(partial["data"]["me"]["schedule"].is_null(), "{partial}");
    let error = &partial["errors"][0];
    assert!(
        error["extensions"]["code"].as_str().is_some_and(|c| !c.is_empty()),
        "a stable code says why: {partial}"
    );
    println!("a paused subgraph answers {took:?}: {error}");

    // Medical answers again once resumed.
    let (_, again) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    assert!(again["errors"].is_null(), "{again}");
    assert!(again["data"]["me"]["schedule"].is_array());
}
