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
