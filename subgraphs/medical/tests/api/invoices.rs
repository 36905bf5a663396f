//! Invoices: totals, lifecycle, frozen lines at both walls.

use platform::{
    db::{Scope, TenantTx},
    Role,
};
use serde_json::json;

use crate::helpers::{code, who, TestApp};

const CREATE: &str =
    "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id status totalCents lines { totalCents } } }";

fn lines() -> serde_json::Value {
    json!([
        { "code": "GS", "description": "Consultation", "quantity": 1, "unitPriceCents": 3000 },
        { "code": "K", "description": "Dressing", "quantity": 3, "unitPriceCents": 450 }
    ])
}

#[tokio::test]
async fn an_invoice_is_drafted_issued_and_paid_with_its_lines_frozen_once_issued() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "M-1", "Un").await;
    let clerk = app.token(w, Role::BillingClerk);
    let d = app
        .ok(
            CREATE,
            json!({ "i": { "patientId": patient, "lines": lines() } }),
            &clerk,
        )
        .await;
    assert_eq!(d["createInvoice"]["totalCents"], 4350);
    assert_eq!(
        d["createInvoice"]["lines"],
        json!([{ "totalCents": 3000 }, { "totalCents": 1350 }])
    );
    let id = d["createInvoice"]["id"].clone();

    let set = "mutation($id: ID!, $l: [InvoiceLineInput!]!) { setInvoiceLines(id: $id, lines: $l) { totalCents } }";
    let one = json!([{ "code": "GS", "description": "Consultation", "quantity": 2, "unitPriceCents": 3000 }]);
    assert_eq!(
        app.ok(set, json!({ "id": id, "l": one }), &clerk).await["setInvoiceLines"]["totalCents"],
        6000
    );
    let step = |m: &str| format!("mutation($id: ID!) {{ {m}(id: $id) {{ status issuedAt paidAt }} }}");
    assert_eq!(
        code(&app.gql(&step("markInvoicePaid"), json!({ "id": id }), &clerk).await),
        Some("CONFLICT"),
        "not issued yet"
    );
    let issued = app.ok(&step("issueInvoice"), json!({ "id": id }), &clerk).await;
    assert_eq!(issued["issueInvoice"]["status"], "ISSUED");
    assert!(issued["issueInvoice"]["issuedAt"].is_string());
    assert_eq!(
        code(&app.gql(set, json!({ "id": id, "l": lines() }), &clerk).await),
        Some("CONFLICT")
    );

    // Second wall: the trigger refuses line changes on an issued invoice.
    let scope = Scope {
        organization_id: w.org,
        user_id: Some(w.user),
        roles: vec![Role::BillingClerk],
        ..Default::default()
    };
    let mut tx = TenantTx::begin_scoped(&app.state.pool, &scope).await.unwrap();
    let err = sqlx::query("update invoice_lines set unit_price_cents = 1")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot change"), "{err}");
    drop(tx);

    assert_eq!(
        app.ok(&step("markInvoicePaid"), json!({ "id": id }), &clerk).await["markInvoicePaid"]["status"],
        "PAID"
    );
    assert_eq!(
        code(&app.gql(&step("voidInvoice"), json!({ "id": id }), &clerk).await),
        Some("CONFLICT")
    );
    let total: i64 = app
        .count("select sum(quantity * unit_price_cents)::int8 from medical.invoice_lines")
        .await;
    assert_eq!(total, 6000);
}

#[tokio::test]
async fn negative_amounts_and_bad_lines_are_refused_with_nothing_written() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "M-1", "Un").await;
    let clerk = app.token(w, Role::BillingClerk);
    for (l, field) in [
        (
            json!([{ "code": "GS", "description": "x", "quantity": 1, "unitPriceCents": -100 }]),
            "lines[0].unitPriceCents",
        ),
        (
            json!([{ "code": "GS", "description": "x", "quantity": 0, "unitPriceCents": 100 }]),
            "lines[0].quantity",
        ),
        (
            json!([{ "code": " ", "description": "x", "quantity": 1, "unitPriceCents": 100 }]),
            "lines[0].code",
        ),
        (json!([]), "lines"),
        (
            json!([{ "code": "GS", "description": "x", "quantity": 10000, "unitPriceCents": 2000000000 }]),
            "lines",
        ),
    ] {
        let body = app
            .gql(CREATE, json!({ "i": { "patientId": patient, "lines": l } }), &clerk)
            .await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{l}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("select count(*) from medical.invoices").await, 0);
    assert_eq!(app.count("select count(*) from medical.invoice_lines").await, 0);
    // Only billing clerks draft invoices; practitioners cannot even see them.
    let doc = app.token(w, Role::Practitioner);
    assert_eq!(
        code(
            &app.gql(CREATE, json!({ "i": { "patientId": patient, "lines": lines() } }), &doc)
                .await
        ),
        Some("FORBIDDEN")
    );
    assert_eq!(
        code(&app.gql("{ invoices { edges { node { id } } } }", json!({}), &doc).await),
        Some("FORBIDDEN")
    );
}
