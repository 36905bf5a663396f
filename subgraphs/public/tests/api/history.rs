//! A tender's history: the buyer's own trail, for its administrators; an
//! officer works the tender but does not read its trail; another
//! organization reading the published tender sees none of the buyer's entries.

use platform::Role;
use serde_json::json;

use crate::helpers::{code, TestApp, Who};

const HISTORY: &str = "query($id: ID!) { tender(id: $id) { reference history(first: 10) {
    nodes { action actorKind actorId } pageInfo { hasNextPage } } } }";

#[tokio::test]
async fn a_tenders_history_is_its_buyers_trail_for_its_administrators() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let tender = app.tender(buyer, "HIST-1", 1).await;

    let mine = app
        .ok(
            HISTORY,
            json!({ "id": tender }),
            &app.token(buyer.colleague(), Role::OrgAdmin),
        )
        .await;
    let actions: Vec<&str> = mine["tender"]["history"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["action"].as_str())
        .collect();
    assert!(
        actions.first().is_some_and(|a| a.starts_with("tender.publish")),
        "newest first: {mine}"
    );
    assert_eq!(actions.last(), Some(&"tender.create"), "{mine}");
    assert_eq!(mine["tender"]["history"]["nodes"][0]["actorId"], buyer.user.to_string());

    let officer = app
        .gql(
            HISTORY,
            json!({ "id": tender }),
            &app.token(buyer, Role::ProcurementOfficer),
        )
        .await;
    assert_eq!(code(&officer), Some("FORBIDDEN"), "{officer}");

    // Another organization's administrator reads the published tender, not its trail.
    let other = app
        .ok(HISTORY, json!({ "id": tender }), &app.token(Who::new(), Role::OrgAdmin))
        .await;
    assert_eq!(other["tender"]["reference"], "HIST-1");
    assert_eq!(other["tender"]["history"]["nodes"], json!([]), "{other}");
}
