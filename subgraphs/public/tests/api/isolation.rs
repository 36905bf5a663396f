//! Organizations stay apart where the rules say so: a buyer's drafts, a
//! supplier's tax id and compliance documents, on root fields, nested
//! fields and `_entities`, with the guards and with RLS alone.

use platform::{Role, Vertical};
use serde_json::json;
use testkit::Caller;

use crate::helpers::*;

#[tokio::test]
async fn drafts_and_confidential_supplier_data_stay_with_their_owners() {
    let app = TestApp::spawn().await;
    let (buyer, other_buyer, acme, bati) = (Who::new(), Who::new(), Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    app.supplier(bati, "Bati", 200).await;
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let d = app
        .ok(
            "mutation($i: CreateTenderInput!) { createTender(input: $i) { id } }",
            json!({ "i": { "reference": "SECRET-1", "title": "Not yet", "procurementMethod": "OPEN", "mainCategory": "GOODS",
                           "cpvCodes": ["30200000"], "estimatedValue": { "amount": 100, "currency": "EUR" },
                           "submissionDeadline": "2031-01-01T00:00:00Z" } }),
            &officer,
        )
        .await;
    let draft = d["createTender"]["id"].clone();

    // Another buyer: root field, list and _entities all see nothing of the draft.
    let stranger = app.token(other_buyer, Role::ProcurementOfficer);
    assert!(app
        .ok(
            "query($id: ID!) { tender(id: $id) { id } }",
            json!({ "id": draft }),
            &stranger
        )
        .await["tender"]
        .is_null());
    assert_eq!(
        app.ok("{ tenders { nodes { id } } }", json!({}), &stranger).await["tenders"]["nodes"],
        json!([])
    );
    let ent = app
        .ok(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tender { id } } }",
            json!({ "r": [{ "__typename": "Tender", "id": draft }] }),
            &stranger,
        )
        .await;
    assert!(ent["_entities"][0].is_null(), "{ent}");
    assert_eq!(
        app.count_as(
            other_buyer,
            "procurement_officer",
            "select count(*) from procurement.tenders"
        )
        .await,
        0
    );
    assert_eq!(
        app.count_as(buyer, "procurement_viewer", "select count(*) from procurement.tenders")
            .await,
        1
    );

    // Tax ids: the supplier itself and buyers' officers; a competitor is refused
    // by the guard, and RLS shows it only its own.
    let supplier_q = "{ suppliers { nodes { legalName taxId } } }";
    let r = app
        .gql(supplier_q, json!({}), &app.token(acme, Role::SupplierUser))
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "a competitor's tax id: {r}");
    let own = app
        .ok(
            "{ mySupplierProfile { taxId complianceStatus complianceDocuments { title } } }",
            json!({}),
            &app.token(acme, Role::SupplierUser),
        )
        .await;
    assert_eq!(own["mySupplierProfile"]["taxId"], "TAX-Acme");
    assert_eq!(own["mySupplierProfile"]["complianceStatus"], "COMPLIANT");
    let all = app.ok(supplier_q, json!({}), &officer).await;
    assert_eq!(
        all["suppliers"]["nodes"],
        json!([{ "legalName": "Acme", "taxId": "TAX-Acme" }, { "legalName": "Bati", "taxId": "TAX-Bati" }])
    );
    let viewer = app.token(buyer.colleague(), Role::ProcurementViewer);
    let r = app.gql("{ suppliers { nodes { taxId } } }", json!({}), &viewer).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
    let public = app
        .ok(
            "{ suppliers { nodes { legalName registrationNumber certificationLevel } } }",
            json!({}),
            &viewer,
        )
        .await;
    assert_eq!(public["suppliers"]["nodes"].as_array().map(Vec::len), Some(2));
    let taxes = "select count(*) from procurement.supplier_tax_ids";
    assert_eq!(app.count_as(acme, "supplier_admin", taxes).await, 1);
    assert_eq!(app.count_as(buyer, "procurement_viewer", taxes).await, 0);
    assert_eq!(app.count_as(buyer, "procurement_officer", taxes).await, 2);
    let docs = "select count(*) from procurement.compliance_documents";
    assert_eq!(app.count_as(bati, "supplier_user", docs).await, 1);

    // Another vertical reads nothing at all, whatever its roles; RLS agrees.
    let clinic = app.token_with(Who::new(), &[Role::OrgAdmin], &[Vertical::Medical]);
    assert_eq!(
        code(&app.gql("{ suppliers { nodes { id } } }", json!({}), &clinic).await),
        Some("FORBIDDEN")
    );
    let mut tx = app.admin.begin().await.unwrap();
    sqlx::raw_sql(&format!(
        "set local role hub_public; select set_config('app.organization_id', '{}', true), set_config('app.verticals', 'medical', true)",
        uuid::Uuid::new_v4()
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from procurement.suppliers")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0, "the medical vertical sees no supplier");
    tx.rollback().await.unwrap();

    // Partners read published tenders and contracts, never supplier profiles.
    let portal = app.kit.token(&Caller::partner(
        Who::new().org,
        uuid::Uuid::new_v4(),
        &[Vertical::Public],
        &["procurement:read"],
    ));
    assert_eq!(
        code(&app.gql("{ suppliers { nodes { id } } }", json!({}), &portal).await),
        Some("FORBIDDEN")
    );
    assert!(app.ok("{ contracts { nodes { id } } }", json!({}), &portal).await["contracts"]["nodes"].is_array());
}
