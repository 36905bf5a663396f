//! Procurement's domain events: each step of a tender's life, a submitted
//! bid and a signed contract are announced in the step's transaction.

use platform::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, TestApp, Who};

/// (type, tenant, payload) of every procurement event, in order.
async fn events(app: &TestApp) -> Vec<(String, Uuid, Value)> {
    sqlx::query_as("select type, organization_id, payload from procurement.event_outbox order by seq")
        .fetch_all(&app.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tenders_life_bids_and_contract_are_announced() {
    let app = TestApp::spawn().await;
    let (buyer, acme) = (Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    let tender = app.tender(buyer, "T-EV", 1).await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let amend = "mutation($id: ID!, $i: AmendTenderInput!) { amendTender(id: $id, input: $i) { id } }";
    app.ok(
        amend,
        json!({ "id": tender, "i": { "title": "Cleaning, amended", "rationale": "Scope clarified" } }),
        &officer,
    )
    .await;
    // A refused amendment announces nothing.
    let refused = app
        .gql(
            amend,
            json!({ "id": tender, "i": { "rationale": "Nothing" } }),
            &officer,
        )
        .await;
    assert_eq!(code(&refused), Some("BAD_USER_INPUT"));
    let lot = app.lots(tender).await[0];
    let bid = app.bid(acme, tender, Some(lot), 1_000).await;
    app.pass_deadline(tender).await;
    app.ok(
        "mutation($id: ID!) { closeTender(id: $id) { status } }",
        json!({ "id": tender }),
        &officer,
    )
    .await;
    let awarded = app
        .ok(
            "mutation($i: AwardTenderInput!) { awardTender(input: $i) { awards { contract { id } } } }",
            json!({ "i": { "tenderId": tender, "contractStart": "2027-01-01", "contractEnd": "2027-12-31",
                           "awards": [{ "lotId": lot, "bidId": bid }] } }),
            &officer,
        )
        .await;
    let contract = awarded["awardTender"]["awards"][0]["contract"]["id"].clone();
    app.ok(
        "mutation($id: ID!) { signContract(id: $id) { status } }",
        json!({ "id": contract }),
        &officer,
    )
    .await;

    let got = events(&app).await;
    let kinds: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "procurement.tender.published",
            "procurement.tender.amended",
            "procurement.bid.submitted",
            "procurement.tender.closed",
            "procurement.contract.signed",
        ]
    );
    let tenants: Vec<Uuid> = got.iter().map(|e| e.1).collect();
    assert_eq!(tenants, vec![buyer.org, buyer.org, acme.org, buyer.org, buyer.org]);
    assert_eq!(got[1].2["changes"]["title"]["to"], "Cleaning, amended");
    assert_eq!(got[1].2["rationale"], "Scope clarified");
    assert_eq!(got[1].2["title"], "Cleaning, amended");
    assert_eq!(got[2].2["tenderId"], tender.to_string());
    assert_eq!(got[2].2["buyerId"], buyer.org.to_string());
    assert_eq!(got[4].2["contractId"], contract);
    assert!(got[4].2["signedAt"].is_string(), "{}", got[4].2);
}

#[tokio::test]
async fn bidders_and_followers_are_the_audience_of_amendments_and_reminders() {
    let app = TestApp::spawn().await;
    let (buyer, acme, watcher) = (Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    let tender = app.tender(buyer, "T-AUD", 1).await;
    let lot = app.lots(tender).await[0];
    app.bid(acme, tender, Some(lot), 1_000).await;
    let follow = "mutation($id: ID!) { followTender(id: $id) { id } }";
    let w = app.token(watcher, Role::SupplierUser);
    app.ok(follow, json!({ "id": tender }), &w).await;
    app.ok(follow, json!({ "id": tender }), &w).await;
    // A buyer's officer cannot follow (suppliers do), a stranger's id is not found.
    let officer = app.token(buyer, Role::ProcurementOfficer);
    assert_eq!(
        code(&app.gql(follow, json!({ "id": tender }), &officer).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        code(&app.gql(follow, json!({ "id": Uuid::new_v4() }), &w).await),
        Some("NOT_FOUND")
    );

    app.ok(
        "mutation($id: ID!, $i: AmendTenderInput!) { amendTender(id: $id, input: $i) { id } }",
        json!({ "id": tender, "i": { "title": "New title", "rationale": "Typo" } }),
        &officer,
    )
    .await;
    let amended = &events(&app)
        .await
        .into_iter()
        .find(|e| e.0 == "procurement.tender.amended")
        .unwrap()
        .2;
    assert_eq!(amended["audience"]["organizations"], json!([acme.org]));
    assert_eq!(
        amended["audience"]["users"],
        json!([{ "userId": watcher.user, "organizationId": watcher.org }])
    );

    // The reminder: not while the deadline is more than a day away, once when it is less.
    let pool = app.runtime.pool.clone();
    let day = std::time::Duration::from_secs(24 * 3600);
    sqlx::query("update procurement.tenders set submission_deadline = now() + interval '30 hours' where id = $1")
        .bind(tender)
        .execute(&app.admin)
        .await
        .unwrap();
    assert_eq!(public::tender::audience::remind_once(&pool, day).await.unwrap(), 0);
    sqlx::query("update procurement.tenders set submission_deadline = now() + interval '3 hours' where id = $1")
        .bind(tender)
        .execute(&app.admin)
        .await
        .unwrap();
    assert_eq!(public::tender::audience::remind_once(&pool, day).await.unwrap(), 1);
    assert_eq!(
        public::tender::audience::remind_once(&pool, day).await.unwrap(),
        0,
        "once"
    );
    let reminders: Vec<_> = events(&app)
        .await
        .into_iter()
        .filter(|e| e.0 == "procurement.tender.deadline_approaching")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].1, buyer.org);
    assert_eq!(reminders[0].2["audience"], amended["audience"]);
    assert_eq!(reminders[0].2["title"], "New title");

    // Unfollowing leaves only the bidder.
    app.ok(
        "mutation($id: ID!) { unfollowTender(id: $id) { id } }",
        json!({ "id": tender }),
        &w,
    )
    .await;
    assert_eq!(app.count("select count(*) from procurement.tender_followers").await, 0);
}

#[tokio::test]
async fn two_replicas_running_the_reminder_job_announce_a_deadline_once() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let tender = app.tender(buyer, "T-TWICE", 1).await;
    sqlx::query("update procurement.tenders set submission_deadline = now() + interval '3 hours' where id = $1")
        .bind(tender)
        .execute(&app.admin)
        .await
        .expect("deadline");
    // Both replicas run their background jobs, whose first reminder pass
    // is at start: at the same moment, on the same tender.
    let jobs = |f: figment::Figment| f.merge(("server.background_jobs", true));
    let (_one, _two) = tokio::join!(app.replica(jobs), app.replica(jobs));
    let reminders =
        "select count(*) from procurement.event_outbox where type = 'procurement.tender.deadline_approaching'";
    for _ in 0..100 {
        if app.count(reminders).await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Both passes are over well within this (each is one statement and a commit).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        app.count(reminders).await,
        1,
        "one reminder, whichever replica claimed it"
    );
}
