//! `history(first, after)`: who did what to a record, for the roles that
//! may know, newest first, paged; nothing of another organization.

use platform::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, who, TestApp, Who};

const HISTORY: &str = "query($id: ID!, $after: String) { patient(id: $id) { history(first: 1, after: $after) {
    nodes { action actorKind actorId changedFields details { name value } }
    pageInfo { hasNextPage endCursor } } } }";

#[tokio::test]
async fn a_patients_history_lists_changes_newest_first_for_admins_auditors_and_practitioners_only() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "H-1", "Histoire").await;
    let editor = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    app.ok(
        "mutation($id: ID!) { updatePatient(id: $id, input: { familyName: \"Histoire-Neuve\", contact: { phone: \"+33 1 00 00 00 00\" } }) { id } }",
        json!({ "id": patient }),
        &app.token(editor, Role::Secretary),
    )
    .await;

    for role in [Role::OrgAdmin, Role::Auditor, Role::Practitioner] {
        let first = app.ok(HISTORY, json!({ "id": patient }), &app.token(w, role)).await;
        let page = &first["patient"]["history"];
        let newest = &page["nodes"][0];
        assert_eq!(newest["action"], "patient.update", "{role}: {first}");
        assert_eq!(newest["actorKind"], "USER");
        assert_eq!(newest["actorId"], editor.user.to_string(), "who");
        let mut fields: Vec<&str> = newest["changedFields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f.as_str())
            .collect();
        fields.sort();
        assert_eq!(fields, ["contact", "familyName"], "what, never the values");
        assert!(!first.to_string().contains("+33 1"), "no sensitive value: {first}");
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        let next = app
            .ok(
                HISTORY,
                json!({ "id": patient, "after": page["pageInfo"]["endCursor"] }),
                &app.token(w, role),
            )
            .await;
        assert_eq!(next["patient"]["history"]["nodes"][0]["action"], "patient.create");
        assert_eq!(next["patient"]["history"]["pageInfo"]["hasNextPage"], false);
    }

    for role in [Role::Nurse, Role::Secretary, Role::BillingClerk] {
        let body = app.gql(HISTORY, json!({ "id": patient }), &app.token(w, role)).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{role}: {body}");
    }

    // An administrator of another organization, with this patient's id.
    let other = who();
    let body = app
        .gql(HISTORY, json!({ "id": patient }), &app.token(other, Role::OrgAdmin))
        .await;
    assert!(body["data"]["patient"].is_null(), "{body}");
}

#[tokio::test]
async fn admins_and_auditors_reach_the_history_of_notes_appointments_and_invoices_but_not_their_health_data() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "H-2", "Trace").await;
    let doctor = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    let doc = app.token(doctor, Role::Practitioner);
    let note = app
        .ok(
            "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"Chest pain on effort\" }) { id } }",
            json!({ "p": patient }),
            &doc,
        )
        .await["writeClinicalNote"]["id"]
        .clone();
    app.ok(
        "mutation($id: ID!) { signClinicalNote(id: $id) { signedAt } }",
        json!({ "id": note }),
        &doc,
    )
    .await;
    let booked = app.appointment(w.org, patient, Uuid::new_v4(), 10).await;
    assert!(booked["errors"].is_null(), "{booked}");
    app.ok(
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
        json!({ "i": { "patientId": patient, "lines": [
            { "code": "GS", "description": "Consultation", "quantity": 1, "unitPriceCents": 3000 }] } }),
        &app.token(w, Role::BillingClerk),
    )
    .await;

    let h = "history(first: 5) { nodes { action actorId } }";
    let notes = format!(
        "query($id: ID!) {{ patient(id: $id) {{ notes {{ id signedAt {h} }} invoices {{ totalCents {h} }} }} }}"
    );
    let listed =
        format!("{{ appointments(first: 5) {{ nodes {{ status {h} }} }} invoices(first: 5) {{ nodes {{ {h} }} }} }}");
    for role in [Role::OrgAdmin, Role::Auditor] {
        let t = app.token(w, role);
        let body = app.ok(&notes, json!({ "id": patient }), &t).await;
        assert_eq!(
            testkit::history_actions(&body, "/patient/notes/0/history"),
            ["clinical_note.sign", "clinical_note.write"],
            "{role}"
        );
        assert_eq!(
            body["patient"]["notes"][0]["history"]["nodes"][0]["actorId"],
            doctor.user.to_string()
        );
        assert_eq!(
            testkit::history_actions(&body, "/patient/invoices/0/history"),
            ["invoice.create"],
            "{role}"
        );
        let body = app.ok(&listed, json!({}), &t).await;
        assert_eq!(
            body["appointments"]["nodes"][0]["status"], "SCHEDULED",
            "{role}: {body}"
        );
        assert_eq!(
            testkit::history_actions(&body, "/appointments/nodes/0/history").len(),
            1,
            "{role}: {body}"
        );
        assert_eq!(
            testkit::history_actions(&body, "/invoices/nodes/0/history"),
            ["invoice.create"]
        );

        // The health data stays with the care team.
        let text = app
            .gql(
                "query($id: ID!) { patient(id: $id) { notes { body } } }",
                json!({ "id": patient }),
                &t,
            )
            .await;
        assert_eq!(code(&text), Some("FORBIDDEN"), "{role}: {text}");
        assert!(!text.to_string().contains("Chest pain"), "{role}: {text}");
        if role == Role::Auditor {
            // Why a patient comes is health data; the practice's admin schedules, so reads it.
            let reason = app
                .gql("{ appointments(first: 5) { nodes { reason } } }", json!({}), &t)
                .await;
            assert_eq!(code(&reason), Some("FORBIDDEN"), "{role}: {reason}");
        }
    }
    // Nobody else gained anything: a secretary still sees no note at all.
    let body = app
        .gql(&notes, json!({ "id": patient }), &app.token(w, Role::Secretary))
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert!(!body.to_string().contains("clinical_note"), "{body}");
}
