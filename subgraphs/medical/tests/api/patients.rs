//! Patient records: validation, uniqueness, search, encryption at rest.

use platform::Role;
use serde_json::json;

use crate::helpers::{code, who, TestApp};

const CREATE: &str = "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id mrn } }";

fn input(mrn: &str) -> serde_json::Value {
    json!({ "mrn": mrn, "givenName": "Jeanne", "familyName": "Durand", "birthDate": "1990-02-03", "sex": "FEMALE" })
}

#[tokio::test]
async fn invalid_patients_are_refused_field_by_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let t = app.token(who(), Role::Secretary);
    let mut cases = vec![];
    for (field, value, expected_field) in [
        ("mrn", json!("has spaces!"), "mrn"),
        ("givenName", json!("   "), "givenName"),
        ("birthDate", json!("2999-01-01"), "birthDate"),
        ("contact", json!({ "email": "not-an-email" }), "contact.email"),
        ("contact", json!({ "phone": "call me maybe" }), "contact.phone"),
        ("insuranceNumber", json!("1-80-05;DROP"), "insuranceNumber"),
    ] {
        let mut i = input("MRN-9");
        i[field] = value;
        cases.push((i, expected_field));
    }
    for (i, expected_field) in cases {
        let body = app.gql(CREATE, json!({ "i": i }), &t).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{i}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], expected_field, "{body}");
    }
    let body = app.gql(CREATE, json!({ "i": { "mrn": "X", "givenName": "A", "familyName": "B", "birthDate": "03/02/1990", "sex": "FEMALE" } }), &t).await;
    assert!(body["errors"].is_array(), "a malformed date is refused: {body}");
    assert_eq!(app.count("select count(*) from medical.patients").await, 0);
    assert_eq!(app.count("select count(*) from medical.audit_log").await, 0);
}

#[tokio::test]
async fn medical_record_numbers_are_unique_per_organization_only() {
    let app = TestApp::spawn().await;
    let (a, b) = (who(), who());
    let ta = app.token(a, Role::Secretary);
    app.ok(CREATE, json!({ "i": input("MRN-1") }), &ta).await;
    let body = app.gql(CREATE, json!({ "i": input("MRN-1") }), &ta).await;
    assert_eq!(code(&body), Some("CONFLICT"), "{body}");
    app.ok(CREATE, json!({ "i": input("MRN-1") }), &app.token(b, Role::Secretary))
        .await;
    assert_eq!(app.count("select count(*) from medical.patients").await, 2);
}

#[tokio::test]
async fn contact_insurance_and_notes_are_not_plaintext_in_the_database() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let doc = app.token(w, Role::Practitioner);
    app.ok(
        "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"Suspected arrhythmia, refer to cardiology\" }) { id } }",
        json!({ "p": patient }),
        &doc,
    )
    .await;
    let raw: (Vec<u8>, Vec<u8>, String) =
        sqlx::query_as("select contact_enc, insurance_enc, contact_key_id from medical.patients")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    let note: Vec<u8> = sqlx::query_scalar("select body_enc from medical.clinical_notes")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    for (bytes, secret) in [
        (&raw.0, "rue Secrète"),
        (&raw.0, "11 22 33"),
        (&raw.1, "69 123"),
        (&note, "arrhythmia"),
    ] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(secret),
            "{secret} stored in clear"
        );
    }
    assert_eq!(raw.2, "test1", "the key id is stored beside the value");
    // Through the API the values read back in clear, for those allowed.
    let d = app
        .ok(
            "query($id: ID!) { patient(id: $id) { contact { address } insuranceNumber notes { body } } }",
            json!({ "id": patient }),
            &doc,
        )
        .await;
    assert_eq!(d["patient"]["contact"]["address"], "1 rue Secrète");
    assert_eq!(d["patient"]["insuranceNumber"], "1 80 05 69 123 456");
    assert_eq!(
        d["patient"]["notes"][0]["body"],
        "Suspected arrhythmia, refer to cardiology"
    );
}

#[tokio::test]
async fn patients_are_searched_by_mrn_or_name_prefix_and_paginated() {
    let app = TestApp::spawn().await;
    let w = who();
    for (mrn, family) in [
        ("A-1", "Martin"),
        ("A-2", "Martinez"),
        ("B-1", "Bernard"),
        ("B-2", "Dupont"),
        ("C-1", "Marchand"),
    ] {
        app.patient(w.org, mrn, family).await;
    }
    let t = app.token(w, Role::BillingClerk);
    let q = "query($s: String, $f: Int, $a: String) { patients(search: $s, first: $f, after: $a) { edges { node { familyName } } pageInfo { hasNextPage endCursor } } }";
    let names = |d: &serde_json::Value| -> Vec<String> {
        d["patients"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["familyName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&app.ok(q, json!({ "s": "mart" }), &t).await),
        vec!["Martin", "Martinez"]
    );
    assert_eq!(
        names(&app.ok(q, json!({ "s": "B-" }), &t).await),
        vec!["Bernard", "Dupont"]
    );
    assert_eq!(
        names(&app.ok(q, json!({ "s": "%" }), &t).await),
        Vec::<String>::new(),
        "wildcards are literal"
    );
    let first = app.ok(q, json!({ "f": 2 }), &t).await;
    assert_eq!(names(&first), vec!["Bernard", "Dupont"]);
    let next = app
        .ok(
            q,
            json!({ "f": 2, "a": first["patients"]["pageInfo"]["endCursor"] }),
            &t,
        )
        .await;
    assert_eq!(names(&next), vec!["Marchand", "Martin"]);
    assert_eq!(
        code(&app.gql(q, json!({ "f": 1000 }), &t).await),
        Some("BAD_USER_INPUT")
    );
}

#[tokio::test]
async fn updates_change_only_given_fields_and_deleted_patients_disappear_from_lists() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-1", "Martin").await;
    let sec = app.token(w, Role::Secretary);
    let d = app
        .ok(
            "mutation($id: ID!) { updatePatient(id: $id, input: { familyName: \"Martin-Leroy\", contact: { phone: \"+33 1 00 00 00 00\" } }) { familyName mrn contact { phone email } } }",
            json!({ "id": patient }),
            &sec,
        )
        .await;
    assert_eq!(
        d["updatePatient"],
        json!({ "familyName": "Martin-Leroy", "mrn": "MRN-1", "contact": { "phone": "+33 1 00 00 00 00", "email": null } })
    );
    let details: serde_json::Value =
        sqlx::query_scalar("select details from medical.audit_log where action = 'patient.update'")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(
        details,
        json!({ "fields": ["familyName", "contact"] }),
        "the audit names fields, never values"
    );

    app.ok(
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": patient }),
        &sec,
    )
    .await;
    let d = app
        .ok(
            "query($id: ID!) { patient(id: $id) { id } patients { edges { node { id } } } }",
            json!({ "id": patient }),
            &sec,
        )
        .await;
    assert_eq!(d, json!({ "patient": null, "patients": { "edges": [] } }));
    let body = app
        .gql(
            "mutation($id: ID!) { deletePatient(id: $id) }",
            json!({ "id": patient }),
            &sec,
        )
        .await;
    assert_eq!(code(&body), Some("NOT_FOUND"));
    assert_eq!(
        app.count("select count(*) from medical.patients where deleted_at is not null")
            .await,
        1,
        "kept for history"
    );
}

#[tokio::test]
async fn a_nul_character_in_a_search_is_bad_input_not_an_internal_error() {
    let app = TestApp::spawn().await;
    let w = who();
    let body = app
        .gql(
            r#"{ patients(search: "Mar\u0000tin") { edges { node { id } } } }"#,
            json!({}),
            &app.token(w, Role::Secretary),
        )
        .await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
}
