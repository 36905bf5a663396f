//! Sealed bids, before and after the deadline, from the supplier, a
//! competitor and the buyer, through root fields, nested fields and
//! `_entities`, with the guards and with RLS alone; the award transaction.

use platform::Role;
use serde_json::json;

use crate::helpers::*;

const TENDER_BIDS: &str = "query($id: ID!) { tender(id: $id) { bidCount bids { id amount { amount } } } }";
const ENTITY_BIDS: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tender { bidCount bids { id amount { amount } } } } }";

#[tokio::test]
async fn bids_are_sealed_until_the_deadline_and_then_open_to_the_buyers_officers_only() {
    let app = TestApp::spawn().await;
    let (buyer, acme, bati) = (Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    app.supplier(bati, "Bati", 200).await;
    let tender = app.tender(buyer, "T-1", 0).await;
    let acme_bid = app.bid(acme, tender, None, 90_000).await;
    let bati_bid = app.bid(bati, tender, None, 80_000).await;

    let officer = app.token(buyer, Role::ProcurementOfficer);
    let viewer = app.token(buyer.colleague(), Role::ProcurementViewer);
    let acme_user = app.token(acme.colleague(), Role::SupplierUser);
    let bati_admin = app.token(bati, Role::SupplierAdmin);
    let rep = json!({ "r": [{ "__typename": "Tender", "id": tender }] });

    // Before the deadline: the count is public, the bids are not.
    let before = app.ok(TENDER_BIDS, json!({ "id": tender }), &officer).await;
    assert_eq!(before["tender"]["bidCount"], 2);
    assert_eq!(
        before["tender"]["bids"],
        json!([]),
        "the buyer sees no bid before the deadline"
    );
    let ent = app.ok(ENTITY_BIDS, rep.clone(), &officer).await;
    assert_eq!(ent["_entities"][0]["bids"], json!([]), "nor through _entities");
    let own = app.ok(TENDER_BIDS, json!({ "id": tender }), &acme_user).await;
    assert_eq!(
        own["tender"]["bids"],
        json!([{ "id": acme_bid.to_string(), "amount": { "amount": 90_000 } }])
    );
    let own = app.ok(ENTITY_BIDS, rep.clone(), &bati_admin).await;
    assert_eq!(
        own["_entities"][0]["bids"],
        json!([{ "id": bati_bid.to_string(), "amount": { "amount": 80_000 } }])
    );
    // RLS alone says the same.
    let count = "select count(*) from procurement.bids";
    assert_eq!(app.count_as(buyer, "procurement_officer", count).await, 0);
    assert_eq!(app.count_as(acme, "supplier_user", count).await, 1);

    app.pass_deadline(tender).await;

    // After: the buyer's officers see every submitted bid, cheapest first.
    let after = app.ok(TENDER_BIDS, json!({ "id": tender }), &officer).await;
    let amounts: Vec<i64> = after["tender"]["bids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["amount"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [80_000, 90_000]);
    let ent = app.ok(ENTITY_BIDS, rep.clone(), &officer).await;
    assert_eq!(ent["_entities"][0]["bids"].as_array().unwrap().len(), 2);
    assert_eq!(app.count_as(buyer, "procurement_officer", count).await, 2);
    // A viewer of the buyer, and a competitor, still see nothing of the others.
    let v = app.ok(TENDER_BIDS, json!({ "id": tender }), &viewer).await;
    assert_eq!(v["tender"]["bids"], json!([]));
    assert_eq!(app.count_as(buyer, "procurement_viewer", count).await, 0);
    let competitor = app.ok(TENDER_BIDS, json!({ "id": tender }), &acme_user).await;
    assert_eq!(competitor["tender"]["bids"].as_array().unwrap().len(), 1);
    assert_eq!(app.count_as(acme, "supplier_user", count).await, 1);
    // Another buyer's officer never.
    let other = Who::new();
    let stranger = app.token(other, Role::ProcurementOfficer);
    let s = app.ok(TENDER_BIDS, json!({ "id": tender }), &stranger).await;
    assert_eq!(s["tender"]["bids"], json!([]));
    assert_eq!(app.count_as(other, "procurement_officer", count).await, 0);
}

#[tokio::test]
async fn bidding_rules_refuse_and_write_nothing() {
    let app = TestApp::spawn().await;
    let (buyer, acme, lapsed, unregistered) = (Who::new(), Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    app.supplier(lapsed, "Lapsed", -1).await;
    let tender = app.tender(buyer, "T-2", 0).await;
    let bids = "select count(*) from procurement.bids where status = 'submitted'";

    let wrong = app.try_bid(acme, tender, None, 1_000, "USD").await;
    assert_eq!(code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "amount.currency");
    // The reason reaches the client in its language.
    let (_, fr) = app
        .kit
        .gql_response(
            "mutation($i: CreateBidInput!) { createBid(input: $i) { id } }",
            json!({ "i": { "tenderId": tender, "amount": { "amount": 5, "currency": "CHF" } } }),
            Some(&app.token(acme, Role::SupplierUser)),
            &[("accept-language", "fr")],
        )
        .await;
    assert_eq!(
        fr["errors"][0]["message"],
        "Valeur invalide pour amount.currency : doit être dans la devise de l'appel d'offres."
    );
    let negative = app.try_bid(acme, tender, None, 0, "EUR").await;
    assert_eq!(code(&negative), Some("BAD_USER_INPUT"), "{negative}");

    app.bid(acme, tender, None, 1_000).await;
    let twice = app.try_bid(acme.colleague(), tender, None, 900, "EUR").await;
    assert_eq!(code(&twice), Some("CONFLICT"), "one active bid per supplier: {twice}");

    let blocked = app.try_bid(lapsed, tender, None, 1_000, "EUR").await;
    assert_eq!(
        code(&blocked),
        Some("CONFLICT"),
        "an expired certificate blocks: {blocked}"
    );
    let none = app.try_bid(unregistered, tender, None, 1_000, "EUR").await;
    assert_eq!(code(&none), Some("CONFLICT"), "{none}");
    assert_eq!(app.count(bids).await, 1);

    app.pass_deadline(tender).await;
    let late = app.try_bid(Who::new(), tender, None, 1_000, "EUR").await;
    assert_eq!(code(&late), Some("CONFLICT"), "{late}");
    let acme_bid: uuid::Uuid = sqlx::query_scalar("select id from procurement.bids")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let t = app.token(acme, Role::SupplierAdmin);
    let withdraw = app
        .gql(
            "mutation($id: ID!) { withdrawBid(id: $id) { id } }",
            json!({ "id": acme_bid }),
            &t,
        )
        .await;
    assert_eq!(
        code(&withdraw),
        Some("CONFLICT"),
        "no withdrawal after the deadline: {withdraw}"
    );
    assert_eq!(app.count(bids).await, 1);
}

const AWARD: &str = "mutation($i: AwardTenderInput!) { awardTender(input: $i) { status awards { value { amount } contract { status } } } }";

#[tokio::test]
async fn an_award_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let (buyer, acme, bati) = (Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    app.supplier(bati, "Bati", 200).await;
    let tender = app.tender(buyer, "T-3", 2).await;
    let lots = app.lots(tender).await;
    let a1 = app.bid(acme, tender, Some(lots[0]), 100).await;
    let b1 = app.bid(bati, tender, Some(lots[0]), 90).await;
    let b2 = app.bid(bati, tender, Some(lots[1]), 200).await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let input = |lot2_bid: uuid::Uuid| {
        json!({ "i": { "tenderId": tender, "contractStart": "2027-01-01", "contractEnd": "2027-12-31",
                       "awards": [{ "lotId": lots[0], "bidId": b1 }, { "lotId": lots[1], "bidId": lot2_bid }] } })
    };

    let early = app.gql(AWARD, input(b2), &officer).await;
    assert_eq!(code(&early), Some("CONFLICT"), "not before the deadline: {early}");
    app.pass_deadline(tender).await;

    // Lot 2 named with lot 1's bid: refused after lot 1 was written, so
    // everything written before must be gone.
    let wrong = app.gql(AWARD, input(a1), &officer).await;
    assert_eq!(code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "awards[1].bidId");
    assert_eq!(app.count("select count(*) from procurement.awards").await, 0);
    assert_eq!(app.count("select count(*) from procurement.contracts").await, 0);
    assert_eq!(
        app.count("select count(*) from procurement.bids where status <> 'submitted'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from procurement.tenders where status = 'published'")
            .await,
        1
    );

    let viewer = app.token(buyer.colleague(), Role::ProcurementViewer);
    assert_eq!(code(&app.gql(AWARD, input(b2), &viewer).await), Some("FORBIDDEN"));

    let done = app.ok(AWARD, input(b2), &officer).await;
    assert_eq!(done["awardTender"]["status"], "AWARDED");
    assert_eq!(
        done["awardTender"]["awards"],
        json!([{ "value": { "amount": 90 }, "contract": { "status": "PENDING" } },
               { "value": { "amount": 200 }, "contract": { "status": "PENDING" } }])
    );
    let status = |id: uuid::Uuid| {
        let admin = app.admin.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from procurement.bids where id = $1")
                .bind(id)
                .fetch_one(&admin)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(a1).await, "rejected");
    assert_eq!(status(b1).await, "accepted");
    assert_eq!(status(b2).await, "accepted");
    assert_eq!(
        code(&app.gql(AWARD, input(b2), &officer).await),
        Some("CONFLICT"),
        "awarded once"
    );
}

#[tokio::test]
async fn bid_counts_answer_only_for_tenders_the_caller_can_see_even_at_the_database() {
    let app = TestApp::spawn().await;
    let (buyer, acme, stranger) = (Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    let tender = app.tender(buyer, "T-9", 0).await;
    app.bid(acme, tender, None, 90_000).await;
    let counted = format!("select count(*) from procurement.bid_counts(array['{tender}'::uuid])");
    // The buyer, and an organization of the vertical: the tender is theirs
    // to see, so its count is too.
    assert_eq!(app.count_as(buyer, "procurement_viewer", &counted).await, 1);
    assert_eq!(app.count_as(stranger, "", &counted).await, 1);
    // An organization without the public vertical sees no such tender, and
    // the owner-run function must not count it for them either.
    let outside = testkit::tenancy::count_scoped(
        &app.admin,
        "hub_public",
        stranger.org,
        stranger.user,
        "org_admin",
        "medical",
        &counted,
    )
    .await;
    assert_eq!(outside, 0, "a bid count of a tender the caller cannot see");
}

#[tokio::test]
async fn a_submission_in_flight_at_the_deadline_is_either_counted_by_the_close_or_refused() {
    let app = TestApp::spawn().await;
    let (buyer, acme) = (Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    let tender = app.tender(buyer, "T-RACE", 0).await;
    let supplier = app.token(acme.colleague(), Role::SupplierUser);
    let draft = app
        .ok(
            "mutation($i: CreateBidInput!) { createBid(input: $i) { id } }",
            json!({ "i": { "tenderId": tender, "amount": { "amount": 70_000, "currency": "EUR" }, "technicalSummary": "Offer" } }),
            &supplier,
        )
        .await["createBid"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    sqlx::query("update procurement.tenders set submission_deadline = now() + interval '2 seconds', enquiry_deadline = null where id = $1")
        .bind(tender)
        .execute(&app.admin)
        .await
        .expect("deadline");

    // The submission begins before the deadline but is held (here: by a row
    // lock on its bid) until the buyer has closed the tender after it.
    let mut held = app.admin.begin().await.expect("begin");
    sqlx::query("select 1 from procurement.bids where id = $1::uuid for update")
        .bind(&draft)
        .execute(&mut *held)
        .await
        .expect("hold the bid");
    let submit = in_background(
        &app,
        &supplier,
        "mutation($id: ID!) { submitBid(id: $id) { id status } }",
        json!({ "id": draft }),
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let close = in_background(
        &app,
        &officer,
        "mutation($id: ID!) { closeTender(id: $id) { status } }",
        json!({ "id": tender }),
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    held.rollback().await.expect("release");
    let (submitted, closed) = (submit.await.expect("submit"), close.await.expect("close"));
    assert_eq!(closed["data"]["closeTender"]["status"], "CLOSED", "{closed}");

    // Whatever the order, the close counted every bid submitted on the tender.
    let bids_submitted = app
        .count(&format!(
            "select count(*) from procurement.bids where tender_id = '{tender}' and status <> 'draft'"
        ))
        .await;
    let counted: i64 = sqlx::query_scalar(
        "select (payload->>'bids')::bigint from procurement.event_outbox where type = 'procurement.tender.closed' and entity_id = $1",
    )
    .bind(tender)
    .fetch_one(&app.admin)
    .await
    .expect("close event");
    assert_eq!(
        bids_submitted, counted,
        "a bid submitted on a closed tender the close did not count: {submitted}"
    );
    // And a bid that is submitted moved before the deadline.
    let late = app
        .count(&format!(
            "select count(*) from procurement.bids b join procurement.tenders t on t.id = b.tender_id
              where b.tender_id = '{tender}' and b.submitted_at > t.submission_deadline"
        ))
        .await;
    assert_eq!(late, 0, "{submitted}");
    assert_eq!(
        submitted["data"]["submitBid"]["status"] == "SUBMITTED",
        bids_submitted == 1,
        "the answer says what happened: {submitted}"
    );
}

/// A GraphQL call that runs on its own while the test goes on.
fn in_background(
    app: &TestApp,
    token: &str,
    query: &'static str,
    variables: serde_json::Value,
) -> tokio::task::JoinHandle<serde_json::Value> {
    let (url, token) = (format!("{}/graphql", app.kit.url), token.to_string());
    tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    })
}
