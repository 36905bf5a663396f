//! Clinical notes: author-only signing, immutability at both walls, amendments.

use platform::{
    db::{Scope, TenantTx},
    Role,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, who, TestApp, Who};

const WRITE: &str = "mutation($i: WriteClinicalNoteInput!) { writeClinicalNote(input: $i) { id signedAt } }";

#[tokio::test]
async fn a_signed_note_never_changes_neither_through_the_api_nor_in_the_database() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "M-1", "Un").await;
    let author = app.token(w, Role::Practitioner);
    let colleague = app.token(
        Who {
            org: w.org,
            user: Uuid::new_v4(),
        },
        Role::Nurse,
    );
    let d = app
        .ok(
            WRITE,
            json!({ "i": { "patientId": patient, "body": "Draft text" } }),
            &author,
        )
        .await;
    let id = d["writeClinicalNote"]["id"].as_str().unwrap().to_string();

    let edit = "mutation($id: ID!, $b: String!) { updateClinicalNote(id: $id, body: $b) { body } }";
    let sign = "mutation($id: ID!) { signClinicalNote(id: $id) { signedAt signedBy { id } } }";
    assert_eq!(
        code(&app.gql(edit, json!({ "id": id, "b": "Not mine" }), &colleague).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        code(&app.gql(sign, json!({ "id": id }), &colleague).await),
        Some("FORBIDDEN"),
        "only the author signs"
    );
    assert_eq!(
        app.ok(edit, json!({ "id": id, "b": "Final text" }), &author).await["updateClinicalNote"]["body"],
        "Final text"
    );
    let signed = app.ok(sign, json!({ "id": id }), &author).await;
    assert_eq!(signed["signClinicalNote"]["signedBy"]["id"], w.user.to_string());

    assert_eq!(
        code(&app.gql(edit, json!({ "id": id, "b": "Changed" }), &author).await),
        Some("CONFLICT")
    );
    assert_eq!(
        code(&app.gql(sign, json!({ "id": id }), &author).await),
        Some("CONFLICT")
    );

    // Second wall: even a direct statement from the service's own role fails.
    let scope = Scope {
        organization_id: w.org,
        user_id: Some(w.user),
        roles: vec![Role::Practitioner],
        ..Default::default()
    };
    let mut tx = TenantTx::begin_scoped(&app.state.pool, &scope).await.unwrap();
    let err = sqlx::query("update clinical_notes set body_enc = '\\x00'")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signed"), "{err}");
    drop(tx);
    let mut tx = TenantTx::begin_scoped(&app.state.pool, &scope).await.unwrap();
    assert!(sqlx::query("delete from clinical_notes")
        .execute(&mut *tx)
        .await
        .is_err());
    drop(tx);
    let d = app
        .ok(
            "query($p: ID!) { patient(id: $p) { notes { body } } }",
            json!({ "p": patient }),
            &author,
        )
        .await;
    assert_eq!(d["patient"]["notes"][0]["body"], "Final text");
}

#[tokio::test]
async fn corrections_are_new_notes_that_amend_a_signed_one() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "M-1", "Un").await;
    let doc = app.token(w, Role::Practitioner);
    let first = app
        .ok(
            WRITE,
            json!({ "i": { "patientId": patient, "body": "Dose 10 mg" } }),
            &doc,
        )
        .await["writeClinicalNote"]["id"]
        .clone();
    // Only signed notes can be amended.
    let early = app
        .gql(
            WRITE,
            json!({ "i": { "patientId": patient, "body": "Dose 5 mg", "amendsId": first } }),
            &doc,
        )
        .await;
    assert_eq!(code(&early), Some("BAD_USER_INPUT"));
    app.ok(
        "mutation($id: ID!) { signClinicalNote(id: $id) { id } }",
        json!({ "id": first }),
        &doc,
    )
    .await;
    let fix = app
        .ok(
            WRITE,
            json!({ "i": { "patientId": patient, "body": "Correction: dose 5 mg", "amendsId": first } }),
            &doc,
        )
        .await;
    let fix_id = fix["writeClinicalNote"]["id"].clone();
    let d = app
        .ok(
            "query($p: ID!) { patient(id: $p) { notes { id body amends { id body } } } }",
            json!({ "p": patient }),
            &doc,
        )
        .await;
    let notes = d["patient"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[1]["id"], fix_id);
    assert_eq!(notes[1]["amends"]["body"], "Dose 10 mg");
}

#[tokio::test]
async fn bad_notes_are_refused_with_nothing_written() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "M-1", "Un").await;
    let doc = app.token(w, Role::Practitioner);
    for i in [
        json!({ "patientId": patient, "body": "   " }),
        json!({ "patientId": Uuid::new_v4(), "body": "Text" }),
        json!({ "patientId": patient, "body": "x".repeat(20_001) }),
        json!({ "patientId": patient, "body": "Text", "amendsId": Uuid::new_v4() }),
    ] {
        assert_eq!(
            code(&app.gql(WRITE, json!({ "i": i }), &doc).await),
            Some("BAD_USER_INPUT")
        );
    }
    assert_eq!(app.count("select count(*) from medical.clinical_notes").await, 0);
    let rec = "mutation($i: RecordProcedureInput!) { recordProcedure(input: $i) { id } }";
    let body = app
        .gql(
            rec,
            json!({ "i": { "patientId": patient, "code": "NOT-A-CODE", "performedAt": "2024-01-01T10:00:00Z" } }),
            &doc,
        )
        .await;
    assert_eq!(
        (code(&body), body["errors"][0]["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("code"))
    );
    assert_eq!(app.count("select count(*) from medical.procedures").await, 0);
}
