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

#[tokio::test]
async fn auditors_read_the_history_of_bids_and_contracts_on_sealed_bid_terms() {
    let app = TestApp::spawn().await;
    let (buyer, acme) = (Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    let tender = app.tender(buyer, "HIST-2", 1).await;
    let lot = app.lots(tender).await[0];
    let bid = app.bid(acme, tender, Some(lot), 100).await;
    let buyers_auditor = app.token(buyer.colleague(), Role::Auditor);
    let acmes_auditor = app.token(acme.colleague(), Role::Auditor);
    let bids = "query($id: ID!) { tender(id: $id) { history(first: 5) { nodes { action } }
        bids { id amount { amount } history(first: 5) { nodes { action } } } } }";

    // Before the deadline the bid is sealed for the buyer, its auditor included.
    let sealed = app.ok(bids, json!({ "id": tender }), &buyers_auditor).await;
    assert_eq!(sealed["tender"]["bids"], json!([]), "{sealed}");
    assert!(testkit::history_actions(&sealed, "/tender/history").contains(&"tender.create".to_string()));
    // The supplier's auditor reads its own bid's trail at any time.
    let own = app.ok(bids, json!({ "id": tender }), &acmes_auditor).await;
    assert_eq!(own["tender"]["bids"][0]["id"], bid.to_string(), "{own}");
    assert_eq!(
        testkit::history_actions(&own, "/tender/bids/0/history"),
        ["bid.submitted", "bid.create"]
    );
    assert_eq!(own["tender"]["history"]["nodes"], json!([]), "not the buyer's trail");
    let mine = app
        .ok("{ myBids(first: 5) { nodes { id } } }", json!({}), &acmes_auditor)
        .await;
    assert_eq!(mine["myBids"]["nodes"][0]["id"], bid.to_string());

    app.pass_deadline(tender).await;
    let opened = app.ok(bids, json!({ "id": tender }), &buyers_auditor).await;
    assert_eq!(opened["tender"]["bids"][0]["amount"]["amount"], 100, "{opened}");
    assert_eq!(
        opened["tender"]["bids"][0]["history"]["nodes"],
        json!([]),
        "the supplier's trail stays the supplier's"
    );
    app.ok(
        "mutation($i: AwardTenderInput!) { awardTender(input: $i) { status } }",
        json!({ "i": { "tenderId": tender, "contractStart": "2027-01-01", "contractEnd": "2027-12-31",
                       "awards": [{ "lotId": lot, "bidId": bid }] } }),
        &app.token(buyer, Role::ProcurementOfficer),
    )
    .await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let listed = app
        .ok("{ contracts(first: 5) { nodes { id } } }", json!({}), &officer)
        .await;
    app.ok(
        "mutation($id: ID!) { signContract(id: $id) { status } }",
        json!({ "id": listed["contracts"]["nodes"][0]["id"] }),
        &officer,
    )
    .await;
    let contracts = app
        .ok(
            "{ contracts(first: 5) { nodes { status history(first: 5) { nodes { action } } } } }",
            json!({}),
            &buyers_auditor,
        )
        .await;
    assert_eq!(contracts["contracts"]["nodes"][0]["status"], "ACTIVE", "{contracts}");
    assert!(
        !testkit::history_actions(&contracts, "/contracts/nodes/0/history").is_empty(),
        "{contracts}"
    );
    // Deciding stays the officers': an auditor awards nothing.
    let denied = app
        .gql(
            "mutation($id: ID!) { withdrawBid(id: $id) { status } }",
            json!({ "id": bid }),
            &acmes_auditor,
        )
        .await;
    assert_eq!(code(&denied), Some("FORBIDDEN"), "{denied}");
    // RLS alone says the same: the buyer's auditor sees the opened bid, another organization's does not.
    let sql = format!("select count(*) from procurement.bids where id = '{bid}'");
    assert_eq!(app.count_as(buyer.colleague(), "auditor", &sql).await, 1);
    assert_eq!(app.count_as(Who::new(), "auditor", &sql).await, 0);
}
