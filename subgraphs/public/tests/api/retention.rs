//! Retention on procurement files: ten years after a tender concluded, the
//! offers that did not win go; a live tender's bids stay; a second run
//! finds nothing.

use chrono::Utc;
use platform::{kit::SubgraphApp, retention, Role};
use serde_json::json;

use crate::helpers::{TestApp, Who};

#[tokio::test]
async fn offers_of_a_tender_concluded_ten_years_ago_go_and_live_ones_stay() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let old = app.tender(buyer, "RET-OLD", 0).await;
    let live = app.tender(buyer, "RET-LIVE", 0).await;
    let supplier = Who::new();
    app.supplier(supplier, "Vieux Fournisseur", 365).await;
    let lost = app.bid(supplier, old, None, 1_000).await;
    let kept = app.bid(supplier, live, None, 2_000).await;
    app.ok(
        "mutation($id: ID!) { cancelTender(id: $id, reason: \"Budget withdrawn\") { status } }",
        json!({ "id": old }),
        &app.token(buyer, Role::ProcurementOfficer),
    )
    .await;
    sqlx::query("update procurement.tenders set updated_at = now() - interval '11 years' where id = $1")
        .bind(old)
        .execute(&app.admin)
        .await
        .expect("backdate");
    let run = || {
        retention::run(
            &app.admin,
            "procurement",
            public::Public::RETENTION,
            &app.settings.retention,
            Utc::now(),
            false,
        )
    };
    let done = run().await.expect("retention");
    let bids = |id| format!("select count(*) from procurement.bids where id = '{id}'");
    assert_eq!(app.count(&bids(lost)).await, 0, "{done:?}");
    assert_eq!(app.count(&bids(kept)).await, 1, "a live tender's bid stays");
    let again = run().await.expect("retention");
    assert!(again.iter().all(|o| o.rows == 0), "{again:?}");
}
