//! Loaders keep the number of SQL statements per request constant: a list's
//! nested loads cost the same whatever the list's length, and the same under
//! concurrent load as one request at a time (batches are cut by the request,
//! not by a timer: `platform::batch`). Its own test binary, because it counts
//! every statement the process logs; a multi-threaded runtime, because that
//! is where timer-cut batches split.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::sync::Arc;

use platform::Role;
use serde_json::json;
use testkit::statements::Statements;
use uuid::Uuid;

use helpers::{who, TestApp};

/// Requests sent at once in the loaded phase, as a dashboard's users would.
const CONCURRENCY: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_list_costs_the_same_statements_at_any_length_and_under_load() {
    let statements = Statements::install();
    let app = Arc::new(TestApp::spawn().await);
    let w = who();
    // 50 patients with two allergies and an invoice each; 100 appointments
    // over them and 4 practitioners.
    let doc = app.token(w, Role::Practitioner);
    let billing = app.token(w, Role::BillingClerk);
    let mut patients = vec![];
    for i in 0..50 {
        let p = app.patient(w.org, &format!("M-{i}"), &format!("Family{i:02}")).await;
        for substance in ["latex", "penicillin"] {
            app.ok(
                "mutation($p: ID!, $s: String!) { addAllergy(patientId: $p, input: { substance: $s, severity: MILD }) { id } }",
                json!({ "p": p, "s": substance }),
                &doc,
            )
            .await;
        }
        app.ok(
            "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
            json!({ "i": { "patientId": p, "lines": [{ "code": "C1", "description": "Consultation", "quantity": 1, "unitPriceCents": 2500 }] } }),
            &billing,
        )
        .await;
        patients.push(p);
    }
    let mut doctors: Vec<Uuid> = vec![];
    for _ in 0..4 {
        doctors.push(app.practitioner(w.org).await);
    }
    let sec = app.token(w, Role::Secretary);
    for i in 0..100 {
        let start =
            chrono::DateTime::parse_from_rfc3339("2030-03-01T08:00:00Z").unwrap() + chrono::Duration::hours(i / 4);
        app.ok(
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
            json!({ "i": {
                "patientId": patients[i as usize % 50], "practitionerId": doctors[i as usize % 4],
                "startsAt": start.to_rfc3339(), "endsAt": (start + chrono::Duration::minutes(30)).to_rfc3339()
            } }),
            &sec,
        )
        .await;
    }

    let lists = [
        (
            "appointments with their patients and allergies",
            "query($n: Int) { appointments(first: $n) { edges { node { startsAt patient { familyName allergies { substance } } practitioner { id } } } } }",
            &doc,
            [10, 100],
        ),
        (
            "patients with their allergies, notes and procedures",
            "query($n: Int) { patients(first: $n) { nodes { familyName allergies { substance } notes { id } procedures { id } } } }",
            &doc,
            [5, 50],
        ),
        (
            "invoices with their lines and patients",
            "query($n: Int) { invoices(first: $n) { nodes { status lines { code } patient { familyName } } } }",
            &billing,
            [5, 50],
        ),
    ];
    for (what, q, token, lengths) in lists {
        let (app, token, q) = (app.clone(), token.clone(), q.to_string());
        statements
            .assert_constant(what, lengths, CONCURRENCY, move |n| {
                let (app, token, q) = (app.clone(), token.clone(), q.clone());
                async move {
                    app.ok(&q, json!({ "n": n }), &token).await;
                }
            })
            .await;
    }
}
