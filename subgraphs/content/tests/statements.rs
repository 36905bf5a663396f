//! 50 patients with their documents and versions cost the statements 5 do:
//! the owners' pages are one windowed statement, their versions another.
//! Its own test binary, because it counts every statement the process logs.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::sync::Arc;

use platform::Role;
use serde_json::json;
use testkit::statements::Statements;
use uuid::Uuid;

use helpers::{TestApp, Who, PDF};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documents_of_many_patients_cost_a_bounded_number_of_statements() {
    let statements = Statements::install();
    let app = Arc::new(TestApp::spawn().await);
    let clinic = Who::new();
    let doctor = app.medical(clinic, Role::Practitioner);
    let patients: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    for p in &patients {
        app.uploaded(&doctor, ("PATIENT", *p), "CLINICAL", PDF.to_vec()).await;
    }
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Patient {
               documents(first: 5) { nodes { title currentVersion { sha256 } versions { number } } } } } }";
    let (app2, doctor2, patients) = (app.clone(), doctor.clone(), Arc::new(patients));
    let cost = statements
        .assert_constant("patients' documents with versions", [5, 50], 8, move |n| {
            let (app, token, patients) = (app2.clone(), doctor2.clone(), patients.clone());
            async move {
                let reps: Vec<_> = patients[..n]
                    .iter()
                    .map(|id| json!({ "__typename": "Patient", "id": id }))
                    .collect();
                let d = app.ok(q, json!({ "r": reps }), &token).await;
                assert_eq!(d["_entities"].as_array().map(Vec::len), Some(n));
                assert_eq!(
                    d["_entities"][n - 1]["documents"]["nodes"][0]["versions"][0]["number"],
                    1
                );
            }
        })
        .await;
    assert!(
        cost <= 4,
        "one scope, one page statement, one versions statement: {cost}"
    );
}
