//! Tenders: drafts seen by their buyer only, publication, amendments,
//! who reads published tenders (the vertical, partners with
//! `procurement:read`, not other verticals).

use platform::{Role, Vertical};
use serde_json::json;
use testkit::Caller;

use crate::helpers::*;

const CREATE: &str = "mutation($i: CreateTenderInput!) { createTender(input: $i) { id status ocid } }";

fn draft(reference: &str, deadline_in_days: i64) -> serde_json::Value {
    json!({ "i": {
        "reference": reference, "title": "Cleaning", "procurementMethod": "OPEN", "mainCategory": "SERVICES",
        "cpvCodes": ["90910000"], "estimatedValue": { "amount": 10_000_000_000i64, "currency": "EUR" },
        "submissionDeadline": (chrono::Utc::now() + chrono::Duration::days(deadline_in_days)).to_rfc3339()
    } })
}

#[tokio::test]
async fn drafts_are_the_buyers_and_published_tenders_the_verticals() {
    let app = TestApp::spawn().await;
    let (buyer, other) = (Who::new(), Who::new());
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let d = app.ok(CREATE, draft("D-1", 5), &officer).await;
    let unnamed = app
        .gql(
            "mutation($id: ID!) { publishTender(id: $id) { status } }",
            json!({ "id": d["createTender"]["id"] }),
            &officer,
        )
        .await;
    assert_eq!(
        code(&unnamed),
        Some("CONFLICT"),
        "OCDS needs the buyer's identity: {unnamed}"
    );
    app.buyer(buyer).await;
    assert_eq!(d["createTender"]["status"], "DRAFT");
    assert!(d["createTender"]["ocid"].is_null());
    let id = d["createTender"]["id"].clone();
    let q = "query($id: ID!) { tender(id: $id) { reference estimatedValue { amount } } }";

    let stranger = app.token(other, Role::ProcurementOfficer);
    let partner = app.kit.token(&Caller::partner(
        other.org,
        uuid::Uuid::new_v4(),
        &[Vertical::Public],
        &["procurement:read"],
    ));
    assert!(app.ok(q, json!({ "id": id }), &stranger).await["tender"].is_null());
    assert!(app.ok(q, json!({ "id": id }), &partner).await["tender"].is_null());
    let seen = app.ok(q, json!({ "id": id }), &officer).await;
    assert_eq!(
        seen["tender"]["estimatedValue"]["amount"], 10_000_000_000i64,
        "beyond 32 bits"
    );

    let p = app
        .ok(
            "mutation($id: ID!) { publishTender(id: $id) { status ocid } }",
            json!({ "id": id }),
            &officer,
        )
        .await;
    assert_eq!(p["publishTender"]["status"], "PUBLISHED");
    assert_eq!(
        p["publishTender"]["ocid"],
        format!("ocds-hubdev-{}", id.as_str().unwrap())
    );
    assert_eq!(
        app.ok(q, json!({ "id": id }), &stranger).await["tender"]["reference"],
        "D-1"
    );
    assert_eq!(
        app.ok(q, json!({ "id": id }), &partner).await["tender"]["reference"],
        "D-1"
    );
    let list = app
        .ok(
            "{ tenders(cpv: \"9091\") { nodes { reference } } }",
            json!({}),
            &partner,
        )
        .await;
    assert_eq!(list["tenders"]["nodes"], json!([{ "reference": "D-1" }]));

    // Another vertical, and a partner without the scope, are refused.
    let clinic = app.token_with(other, &[Role::OrgAdmin], &[Vertical::Medical]);
    assert_eq!(code(&app.gql(q, json!({ "id": id }), &clinic).await), Some("FORBIDDEN"));
    let nosy = app.kit.token(&Caller::partner(
        other.org,
        uuid::Uuid::new_v4(),
        &[Vertical::Public],
        &["medical:read"],
    ));
    assert_eq!(code(&app.gql(q, json!({ "id": id }), &nosy).await), Some("FORBIDDEN"));
    // Drafts are invisible to RLS alone, published tenders visible with the vertical.
    assert_eq!(
        app.count_as(other, "procurement_officer", "select count(*) from procurement.tenders")
            .await,
        1
    );
}

#[tokio::test]
async fn publication_and_amendments_check_the_deadlines() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let officer = app.token(buyer, Role::ProcurementOfficer);
    app.buyer(buyer).await;
    let past = app.ok(CREATE, draft("P-1", -1), &officer).await;
    let r = app
        .gql(
            "mutation($id: ID!) { publishTender(id: $id) { status } }",
            json!({ "id": past["createTender"]["id"] }),
            &officer,
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "submissionDeadline");

    let bad = app
        .gql(
            CREATE,
            json!({ "i": { "reference": "X", "title": "t", "procurementMethod": "OPEN", "mainCategory": "GOODS",
            "cpvCodes": ["9091"], "estimatedValue": { "amount": 1, "currency": "EUR" },
            "submissionDeadline": "2030-01-01T00:00:00Z" } }),
            &officer,
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "cpvCodes[0]", "{bad}");
    let dup = app.gql(CREATE, draft("P-1", 3), &officer).await;
    assert_eq!(code(&dup), Some("CONFLICT"), "{dup}");

    let tender = app.tender(buyer, "A-1", 0).await;
    let amend = "mutation($id: ID!, $i: AmendTenderInput!) { amendTender(id: $id, input: $i) { submissionDeadline amendments { rationale changes } } }";
    let earlier = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = app
        .gql(
            amend,
            json!({ "id": tender, "i": { "submissionDeadline": earlier, "rationale": "sooner" } }),
            &officer,
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "deadlines are only extended: {r}");
    let later = (chrono::Utc::now() + chrono::Duration::days(9)).to_rfc3339();
    let ok = app
        .ok(amend, json!({ "id": tender, "i": { "submissionDeadline": later, "title": "Cleaning, amended", "rationale": "Site visit added" } }), &officer)
        .await;
    let a = &ok["amendTender"]["amendments"][0];
    assert_eq!(a["rationale"], "Site visit added");
    assert_eq!(a["changes"]["title"]["to"], "Cleaning, amended");
    assert!(a["changes"]["submissionDeadline"]["from"].is_string());
    app.pass_deadline(tender).await;
    let r = app
        .gql(
            amend,
            json!({ "id": tender, "i": { "title": "Too late", "rationale": "late" } }),
            &officer,
        )
        .await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");
    assert_eq!(app.count("select count(*) from procurement.amendments").await, 1);
}
