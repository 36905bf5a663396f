//! DataLoaders keep the number of SQL statements per request constant: 100
//! appointments with their patients cost what 10 do. Its own test binary,
//! because it counts every statement the process logs.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use platform::Role;
use serde_json::json;
use tracing_subscriber::{layer::SubscriberExt, Layer};
use uuid::Uuid;

use helpers::{who, TestApp};

/// Counts the statements sqlx executes (it logs each under `sqlx::query`).
struct CountStatements(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
            if std::env::var("SHOW_SQL").is_ok() {
                struct V;
                impl tracing::field::Visit for V {
                    fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                        if f.name() == "summary" {
                            eprintln!("SQL {v:?}");
                        }
                    }
                }
                event.record(&mut V);
            }
        }
    }
}

#[tokio::test]
async fn listing_100_appointments_with_patients_costs_the_same_statements_as_10() {
    let counter = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
        .with(CountStatements(counter.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("subscriber");

    let app = TestApp::spawn().await;
    let w = who();
    // 100 appointments over 25 patients and 4 practitioners.
    let mut patients = vec![];
    for i in 0..25 {
        patients.push(app.patient(w.org, &format!("M-{i}"), &format!("Family{i:02}")).await);
    }
    let doctors: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let sec = app.token(w, Role::Secretary);
    for i in 0..100 {
        let start =
            chrono::DateTime::parse_from_rfc3339("2030-03-01T08:00:00Z").unwrap() + chrono::Duration::hours(i / 4);
        app.ok(
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
            json!({ "i": {
                "patientId": patients[i as usize % 25], "practitionerId": doctors[i as usize % 4],
                "startsAt": start.to_rfc3339(), "endsAt": (start + chrono::Duration::minutes(30)).to_rfc3339()
            } }),
            &sec,
        )
        .await;
    }

    let q = "query($n: Int) { appointments(first: $n) { edges { node { startsAt patient { familyName allergies { substance } } practitioner { id } } } } }";
    let doc = app.token(w, Role::Practitioner);
    let mut costs = vec![];
    for n in [10, 100] {
        let before = counter.load(Ordering::SeqCst);
        let d = app.ok(q, json!({ "n": n }), &doc).await;
        assert_eq!(d["appointments"]["edges"].as_array().unwrap().len(), n);
        costs.push(counter.load(Ordering::SeqCst) - before);
    }
    println!("statements for 10 appointments: {}, for 100: {}", costs[0], costs[1]);
    assert!(costs[0] > 0, "the counter must see the statements");
    assert_eq!(
        costs[0], costs[1],
        "statements must not grow with the number of appointments"
    );
}
