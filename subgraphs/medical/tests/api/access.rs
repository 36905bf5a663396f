//! Each role's view of each field.

use platform::{Role, Vertical};
use serde_json::{json, Value};

use crate::helpers::{code, who, TestApp};

const EVERYTHING: &str = "query($id: ID!) { patient(id: $id) {
    id givenName familyName mrn birthDate sex contact { phone } insuranceNumber createdAt
    bloodType allergies { substance } notes { id } procedures { code notes } invoices { id } } }";

/// Which top-level fields of `patient` came back as data (not error).
fn visible(body: &Value) -> Vec<String> {
    let denied: Vec<String> = body["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .filter_map(|e| {
                    e["path"]
                        .as_array()
                        .and_then(|p| p.get(1))
                        .and_then(|f| f.as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut fields: Vec<String> = match body["data"]["patient"].as_object() {
        Some(o) => o.keys().filter(|k| !denied.contains(k)).cloned().collect(),
        None => vec![],
    };
    fields.sort();
    fields
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn each_role_sees_exactly_its_fields_of_a_patient() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let admin_fields = [
        "id",
        "givenName",
        "familyName",
        "mrn",
        "birthDate",
        "sex",
        "contact",
        "insuranceNumber",
        "createdAt",
    ];
    let clinical = ["bloodType", "allergies", "notes", "procedures"];
    let cases: Vec<(Role, Vec<String>)> = vec![
        (Role::Practitioner, sorted(&[&admin_fields[..], &clinical[..]].concat())),
        (Role::Nurse, sorted(&[&admin_fields[..], &clinical[..]].concat())),
        (
            Role::Secretary,
            sorted(&[&admin_fields[..], &["procedures"][..]].concat()),
        ),
        // Administrators and auditors see that notes exist (their text is
        // checked in `history`), to read their history.
        (
            Role::OrgAdmin,
            sorted(&[&admin_fields[..], &["invoices", "notes"][..]].concat()),
        ),
        (
            Role::BillingClerk,
            sorted(&["id", "givenName", "familyName", "invoices"]),
        ),
        // An auditor knows whose record a history is, and nothing of it.
        (
            Role::Auditor,
            sorted(&["id", "givenName", "familyName", "invoices", "notes"]),
        ),
    ];
    for (role, expected) in cases {
        let body = app.gql(EVERYTHING, json!({ "id": patient }), &app.token(w, role)).await;
        assert_eq!(visible(&body), expected, "{role}: {body}");
        for e in body["errors"].as_array().into_iter().flatten() {
            assert_eq!(e["extensions"]["code"], "FORBIDDEN", "{role}: {e}");
        }
    }
    // Anyone else (procurement) sees nothing at all.
    let body = app
        .gql(
            EVERYTHING,
            json!({ "id": patient }),
            &app.token(w, Role::ProcurementOfficer),
        )
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"));
    assert!(body["data"].is_null() || body["data"]["patient"].is_null(), "{body}");
}

#[tokio::test]
async fn a_secretary_sees_procedures_but_never_their_notes() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    app.enroll(w, &[Role::Practitioner]).await;
    let doc = app.token(w, Role::Practitioner);
    app.ok(
        "mutation($i: RecordProcedureInput!) { recordProcedure(input: $i) { id } }",
        json!({ "i": { "patientId": patient, "code": "DEQP003", "performedAt": "2024-01-01T10:00:00Z", "notes": "ECG: sinus rhythm" } }),
        &doc,
    )
    .await;
    let q = "query($id: ID!) { patient(id: $id) { procedures { code notes performer { id } } } }";
    let body = app
        .gql(q, json!({ "id": patient }), &app.token(w, Role::Secretary))
        .await;
    assert_eq!(body["data"]["patient"]["procedures"][0]["code"], "DEQP003", "{body}");
    assert_eq!(code(&body), Some("FORBIDDEN"));
    assert!(!body.to_string().contains("sinus"), "{body}");
    let body = app.ok(q, json!({ "id": patient }), &doc).await;
    assert_eq!(body["patient"]["procedures"][0]["notes"], "ECG: sinus rhythm");
}

#[tokio::test]
async fn without_the_medical_vertical_nothing_is_visible_or_writable() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let t = app.token_with(w, &[Role::Practitioner], &[Vertical::Public]);
    let body = app
        .gql(
            "query($id: ID!) { patient(id: $id) { id } }",
            json!({ "id": patient }),
            &t,
        )
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"));
    let body = app
        .gql(
            "mutation($id: ID!) { setBloodType(patientId: $id, bloodType: O_NEG) { id } }",
            json!({ "id": patient }),
            &t,
        )
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"));
    assert_eq!(
        app.count("select count(*) from medical.patients where blood_type is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn only_clinicians_write_clinical_data() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let q = "mutation($id: ID!) { addAllergy(patientId: $id, input: { substance: \"Latex\", severity: SEVERE }) { substance } }";
    for role in [Role::Secretary, Role::OrgAdmin, Role::BillingClerk] {
        let body = app.gql(q, json!({ "id": patient }), &app.token(w, role)).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{role}");
    }
    assert_eq!(app.count("select count(*) from medical.allergies").await, 0);
    let body = app.ok(q, json!({ "id": patient }), &app.token(w, Role::Nurse)).await;
    assert_eq!(body["addAllergy"]["substance"], "Latex");
}

#[tokio::test]
async fn anonymous_callers_get_nothing() {
    let app = TestApp::spawn().await;
    let w = who();
    let _ = app.patient(w.org, "MRN-1", "Martin").await;
    let body = app
        .kit
        .gql("{ patients { edges { node { id } } } }", json!({}), None)
        .await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
}

#[tokio::test]
async fn a_partner_token_reads_no_patient_data_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    // An insurer's client-credentials token of the same organization: no role.
    let insurer = testkit::Caller::partner(w.org, uuid::Uuid::new_v4(), &[Vertical::Medical], &["medical:read"]);
    let token = app.kit.token(&insurer);
    let body = app.gql(EVERYTHING, json!({ "id": patient }), &token).await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert!(body["data"]["patient"].is_null(), "{body}");
    let body = app
        .gql(
            "mutation($id: ID!) { deletePatient(id: $id) }",
            json!({ "id": patient }),
            &token,
        )
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(
        app.count("select count(*) from medical.patients where deleted_at is null")
            .await,
        1
    );
}

#[tokio::test]
async fn partner_scopes_open_appointments_or_invoices_and_nothing_clinical() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let booked = app.appointment(w.org, patient, w.user, 9).await;
    assert!(booked["errors"].is_null(), "{booked}");
    app.ok(
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
        json!({ "i": { "patientId": patient, "lines": [
            { "code": "GS", "description": "Consultation", "quantity": 1, "unitPriceCents": 3000 }
        ] } }),
        &app.token(w, Role::BillingClerk),
    )
    .await;
    let partner = |scopes: &[&str]| {
        let c = testkit::Caller::partner(w.org, uuid::Uuid::new_v4(), &[Vertical::Medical], scopes);
        app.kit.token(&c)
    };
    let (reader, biller) = (partner(&["medical:read"]), partner(&["medical:billing"]));
    let appointments = "{ appointments { edges { node { startsAt patient { familyName } } } } }";
    let invoices = "{ invoices { edges { node { totalCents patient { familyName } } } } }";
    let clinical = "{ appointments { edges { node { patient { allergies { substance } contact { phone } } } } } }";

    let d = app.ok(appointments, json!({}), &reader).await;
    assert_eq!(d["appointments"]["edges"][0]["node"]["patient"]["familyName"], "Martin");
    assert_eq!(code(&app.gql(invoices, json!({}), &reader).await), Some("FORBIDDEN"));
    let body = app.gql(clinical, json!({}), &reader).await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert!(!body.to_string().contains("+33"), "{body}");

    let d = app.ok(invoices, json!({}), &biller).await;
    assert_eq!(d["invoices"]["edges"][0]["node"]["totalCents"], 3000);
    assert_eq!(d["invoices"]["edges"][0]["node"]["patient"]["familyName"], "Martin");
    assert_eq!(
        code(&app.gql(appointments, json!({}), &biller).await),
        Some("FORBIDDEN")
    );

    // A partner without a scope, or of an organization without the vertical, reads nothing.
    assert_eq!(
        code(&app.gql(appointments, json!({}), &partner(&[])).await),
        Some("FORBIDDEN")
    );
    let no_vertical = app.kit.token(&testkit::Caller::partner(
        w.org,
        uuid::Uuid::new_v4(),
        &[],
        &["medical:read"],
    ));
    assert_eq!(
        code(&app.gql(appointments, json!({}), &no_vertical).await),
        Some("FORBIDDEN")
    );
}
