//! Tenant isolation: a token of organization A with ids of organization B on
//! root fields, nested fields and `_entities`; RLS alone with guards bypassed.

use medical::{appointment, patient};
use platform::{
    db::{Scope, TenantTx},
    Role,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, who, TestApp, Who};

struct Two {
    app: TestApp,
    a: Who,
    b_patient: Uuid,
    b_appointment: Value,
    b_doctor: Uuid,
    b_note: Value,
    b_invoice: Value,
}

async fn two_tenants() -> Two {
    let app = TestApp::spawn().await;
    let (a, b) = (who(), who());
    app.patient(a.org, "A-1", "Alpha").await;
    let b_patient = app.patient(b.org, "B-1", "Bravo").await;
    let b_appointment = app.appointment(b.org, b_patient, b.user, 9).await["data"]["scheduleAppointment"]["id"].clone();
    let b_note = app
        .ok(
            "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"B secret\" }) { id } }",
            json!({ "p": b_patient }),
            &app.token(b, Role::Practitioner),
        )
        .await["writeClinicalNote"]["id"]
        .clone();
    let b_invoice = app
        .ok(
            "mutation($p: ID!) { createInvoice(input: { patientId: $p, lines: [{ code: \"GS\", description: \"C\", quantity: 1, unitPriceCents: 100 }] }) { id } }",
            json!({ "p": b_patient }),
            &app.token(b, Role::BillingClerk),
        )
        .await["createInvoice"]["id"]
        .clone();
    app.ok(
        "mutation($p: ID!) { addAllergy(patientId: $p, input: { substance: \"Latex\", severity: SEVERE }) { substance } }",
        json!({ "p": b_patient }),
        &app.token(b, Role::Nurse),
    )
    .await;
    Two {
        app,
        a,
        b_patient,
        b_appointment,
        b_doctor: b.user,
        b_note,
        b_invoice,
    }
}

#[tokio::test]
async fn root_fields_never_return_another_organizations_rows() {
    let t = two_tenants().await;
    let doc = t.app.token(t.a, Role::Practitioner);
    let admin = t.app.token(t.a, Role::OrgAdmin);
    let d = t
        .app
        .ok(
            "query($p: ID!, $ap: ID!) { patient(id: $p) { id } appointment(id: $ap) { id } patients { edges { node { familyName } } } appointments { edges { node { id } } } }",
            json!({ "p": t.b_patient, "ap": t.b_appointment }),
            &doc,
        )
        .await;
    assert_eq!(
        d,
        json!({ "patient": null, "appointment": null, "patients": { "edges": [{ "node": { "familyName": "Alpha" } }] }, "appointments": { "edges": [] } })
    );
    let d = t
        .app
        .ok(
            "query($i: ID!) { invoice(id: $i) { id } invoices { edges { node { id } } } }",
            json!({ "i": t.b_invoice }),
            &admin,
        )
        .await;
    assert_eq!(d, json!({ "invoice": null, "invoices": { "edges": [] } }));
}

#[tokio::test]
async fn mutations_with_another_organizations_ids_find_nothing_and_change_nothing() {
    let t = two_tenants().await;
    let app = &t.app;
    let b_allergy: uuid::Uuid = sqlx::query_scalar("select id from medical.allergies")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let cases = [
        (Role::Secretary, "mutation($id: ID!) { updatePatient(id: $id, input: { familyName: \"Hacked\" }) { id } }", json!({ "id": t.b_patient }), "NOT_FOUND"),
        (Role::Secretary, "mutation($id: ID!) { deletePatient(id: $id) }", json!({ "id": t.b_patient }), "NOT_FOUND"),
        (Role::Nurse, "mutation($id: ID!) { setBloodType(patientId: $id, bloodType: AB_NEG) { id } }", json!({ "id": t.b_patient }), "NOT_FOUND"),
        (Role::Secretary, "mutation($id: ID!) { cancelAppointment(id: $id) { id } }", json!({ "id": t.b_appointment }), "NOT_FOUND"),
        (Role::Practitioner, "mutation($id: ID!) { signClinicalNote(id: $id) { id } }", json!({ "id": t.b_note }), "NOT_FOUND"),
        (Role::BillingClerk, "mutation($id: ID!) { issueInvoice(id: $id) { id } }", json!({ "id": t.b_invoice }), "NOT_FOUND"),
        (Role::Secretary, "mutation($p: ID!) { scheduleAppointment(input: { patientId: $p, practitionerId: $p, startsAt: \"2030-02-01T09:00:00Z\", endsAt: \"2030-02-01T09:30:00Z\" }) { id } }", json!({ "p": t.b_patient }), "BAD_USER_INPUT"),
        (Role::Practitioner, "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"x\" }) { id } }", json!({ "p": t.b_patient }), "BAD_USER_INPUT"),
        (Role::Practitioner, "mutation($id: ID!) { updateClinicalNote(id: $id, body: \"rewritten\") { id } }", json!({ "id": t.b_note }), "NOT_FOUND"),
        (Role::Nurse, "mutation($p: ID!) { addAllergy(patientId: $p, input: { substance: \"Nuts\", severity: MILD }) { substance } }", json!({ "p": t.b_patient }), "NOT_FOUND"),
        (Role::Nurse, "mutation($id: ID!) { removeAllergy(id: $id) }", json!({ "id": b_allergy }), "NOT_FOUND"),
        (Role::Practitioner, "mutation($p: ID!) { recordProcedure(input: { patientId: $p, code: \"DEQP003\", performedAt: \"2024-01-01T10:00:00Z\" }) { id } }", json!({ "p": t.b_patient }), "BAD_USER_INPUT"),
        (Role::BillingClerk, "mutation($id: ID!) { setInvoiceLines(id: $id, lines: [{ code: \"X\", description: \"x\", quantity: 9, unitPriceCents: 1 }]) { id } }", json!({ "id": t.b_invoice }), "NOT_FOUND"),
    ];
    let before = app.count("select count(*) from medical.audit_log").await;
    for (role, q, vars, expected) in cases {
        let body = app.gql(q, vars, &app.token(t.a, role)).await;
        assert_eq!(code(&body), Some(expected), "{q}: {body}");
    }
    let (family, deleted, blood): (String, Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        sqlx::query_as("select family_name, deleted_at, blood_type from medical.patients where id = $1")
            .bind(t.b_patient)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!((family.as_str(), deleted, blood), ("Bravo", None, None));
    assert_eq!(
        app.count("select count(*) from medical.appointments where status <> 'scheduled'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from medical.clinical_notes where signed_at is not null")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from medical.invoices where status <> 'draft'")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from medical.allergies").await, 1);
    assert_eq!(app.count("select count(*) from medical.procedures").await, 0);
    assert_eq!(
        app.count("select sum(quantity)::int8 from medical.invoice_lines").await,
        1
    );
    let body: Vec<u8> = sqlx::query_scalar("select body_enc from medical.clinical_notes")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let note = app.state.cipher.open_str(
        &platform::crypto::Sealed {
            data: body,
            key_id: "test1".into(),
        },
        &medical::note::model::body_aad(uuid::Uuid::parse_str(t.b_note.as_str().unwrap()).unwrap()),
    );
    assert_eq!(note.unwrap(), "B secret");
    assert_eq!(
        app.count("select count(*) from medical.audit_log").await,
        before,
        "nothing audited: nothing happened"
    );
}

#[tokio::test]
async fn entities_and_nested_fields_of_another_organization_resolve_to_nothing() {
    let t = two_tenants().await;
    let doc = t.app.token(t.a, Role::Practitioner);
    let q = "query($r: [_Any!]!) { _entities(representations: $r) {
        ... on Patient { id familyName notes { body } }
        ... on Appointment { id patient { familyName } }
        ... on User { id schedule(from: \"2030-01-01T00:00:00Z\", to: \"2030-02-01T00:00:00Z\") { id patient { familyName } } } } }";
    let reps = json!([
        { "__typename": "Patient", "id": t.b_patient },
        { "__typename": "Appointment", "id": t.b_appointment },
        { "__typename": "User", "id": t.b_doctor }
    ]);
    let d = t.app.ok(q, json!({ "r": reps }), &doc).await;
    assert_eq!(
        d["_entities"],
        json!([null, null, { "id": t.b_doctor.to_string(), "schedule": [] }])
    );
    assert!(!d.to_string().contains("Bravo") && !d.to_string().contains("B secret"));
}

#[tokio::test]
async fn row_level_security_alone_hides_other_tenants_when_guards_are_bypassed() {
    let t = two_tenants().await;
    let scope = Scope {
        organization_id: t.a.org,
        user_id: Some(t.a.user),
        roles: vec![Role::Practitioner],
        ..Default::default()
    };
    let mut tx = TenantTx::begin_scoped(&t.app.state.pool, &scope).await.unwrap();
    assert!(patient::db::by_ids(&mut tx, &[t.b_patient]).await.unwrap().is_empty());
    let b_appt = Uuid::parse_str(t.b_appointment.as_str().unwrap()).unwrap();
    assert!(appointment::db::by_ids(&mut tx, &[b_appt]).await.unwrap().is_empty());
    for table in [
        "patients",
        "appointments",
        "clinical_notes",
        "invoices",
        "invoice_lines",
        "audit_log",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table} where organization_id <> $1"))
            .bind(t.a.org)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} shows another tenant's rows");
    }
    drop(tx);
    // No tenant set: zero rows, never all rows.
    let mut conn = t.app.state.pool.acquire().await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
