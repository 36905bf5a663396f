//! One request followed end to end: the real router and subgraphs export
//! their spans over OTLP/HTTP to a real receiver (oteltap, started here),
//! and one booking is one trace — the router's spans, medical's request, its
//! SQL, and the confirmation consumer's work, each under its parent — with
//! no personal data in any span.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hub_e2e::{free_port, repo_root, Platform, RouterOptions};
use serde_json::{json, Value};

/// `tests/otel/receiver.py` in the venv `hub test` installs: every span it
/// receives, as JSON, collected by a reader thread.
struct Receiver {
    child: Child,
    spans: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        let python = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/hub-otel-venv/bin/python");
        let mut child = Command::new(&python)
            .arg(repo_root().join("tests/otel/receiver.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{} (hub test installs it): {e}", python.display()));
        let stdout = child.stdout.take().expect("receiver stdout");
        let spans = Arc::new(Mutex::new(vec![]));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = spans.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = ready_tx.send(());
                } else if let Ok(span) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(span);
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the OTLP receiver listens");
        Receiver { child, spans }
    }

    fn spans(&self) -> Vec<Value> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until a span matches `pred`.
    async fn until(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.spans().into_iter().find(|s| pred(s)) {
                return s;
            }
            if Instant::now() > deadline {
                let names: Vec<String> = self.spans().iter().map(|s| s["name"].to_string()).collect();
                panic!("no span {what} arrived; received: {names:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"][key].as_str()
}

/// Whether `span` descends from `ancestor` within `trace` (by span ids).
fn descends(trace: &HashMap<String, Value>, span: &Value, ancestor: &str) -> bool {
    let mut parent = span["parent_span_id"].as_str().unwrap_or("").to_string();
    for _ in 0..64 {
        if parent == ancestor {
            return true;
        }
        match trace.get(&parent) {
            Some(p) => parent = p["parent_span_id"].as_str().unwrap_or("").to_string(),
            None => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn one_booking_is_one_trace_from_the_router_through_medical_its_sql_and_the_confirmation_consumer() {
    let port = free_port();
    let receiver = Receiver::start(port);
    let p = Platform::start_with(&[
        ("HUB_OTEL__ENDPOINT", format!("http://127.0.0.1:{port}")),
        // Export within a fraction of a second (the default waits 5 s).
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_string()),
        ("HUB_OTEL__EXPORT_DELAY", "200ms".to_string()),
    ])
    .await;
    let router = p.router(RouterOptions::default()).await;
    let desk = p.login(&router, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&router, &desk, "TR-1", "Ysolde", "Quenterel").await;
    let email = "ysolde.quenterel@patient.example";
    let (_, d) = p
        .post(
            &router,
            json!({ "query": "mutation Book($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                    "operationName": "Book",
                    "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                        "startsAt": "2031-05-02T09:00:00Z", "endsAt": "2031-05-02T09:30:00Z",
                        "notifyEmail": email, "idempotencyKey": "traced-booking" } } }),
            Some(&desk),
        )
        .await;
    assert!(d["errors"].is_null(), "{d}");

    // The confirmation consumer's span names the producing request's trace.
    let consumed = receiver
        .until("of the confirmation consumer", |s| {
            attr(s, "messaging.consumer.group.name") == Some("medical.mail")
                && s["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("consume medical.appointment"))
        })
        .await;
    let trace_id = consumed["trace_id"].as_str().expect("trace id").to_string();
    // Let the router's and medical's batches of the same trace arrive.
    receiver
        .until("of the router in the trace", |s| {
            s["trace_id"] == trace_id.as_str() && attr(s, "hub.service").is_none() && s["parent_span_id"] == ""
        })
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = receiver.spans();
    let trace: HashMap<String, Value> = all
        .iter()
        .filter(|s| s["trace_id"] == trace_id.as_str())
        .map(|s| (s["span_id"].as_str().unwrap_or("").to_string(), s.clone()))
        .collect();
    let names: Vec<&str> = trace.values().filter_map(|s| s["name"].as_str()).collect();

    // The router's root span, and medical's request as a child of a router span.
    let root = trace
        .values()
        .find(|s| s["parent_span_id"] == "")
        .unwrap_or_else(|| panic!("no root span: {names:?}"));
    assert!(
        attr(root, "hub.service").is_none(),
        "the trace starts at the router: {root}"
    );
    let medical = trace
        .values()
        .find(|s| {
            attr(s, "hub.service") == Some("medical")
                && s["name"] == "POST /graphql"
                && trace.values().any(|g| {
                    g["parent_span_id"] == s["span_id"] && g["name"].as_str().is_some_and(|n| n.starts_with("mutation"))
                })
        })
        .unwrap_or_else(|| panic!("no medical request with a mutation in the trace: {names:?}"));
    let medical_id = medical["span_id"].as_str().expect("span id");
    let parent = trace
        .get(medical["parent_span_id"].as_str().unwrap_or(""))
        .unwrap_or_else(|| panic!("medical's request has no parent in the trace: {medical}"));
    assert!(
        attr(parent, "hub.service").is_none(),
        "medical continues the router's span: {parent}"
    );
    // Its SQL, under it.
    assert!(
        trace
            .values()
            .any(|s| s["name"] == "db.transaction" && descends(&trace, s, medical_id)),
        "the booking's transaction under medical's request: {names:?}"
    );
    // The consumer's work: a child of the request that wrote the event, with
    // its own SQL (the delivery record) under it.
    assert!(
        descends(&trace, &consumed, medical_id),
        "the consumer continues the booking's trace: {consumed}"
    );
    let consumed_id = consumed["span_id"].as_str().expect("span id");
    assert!(
        trace
            .values()
            .any(|s| s["name"] == "db.transaction" && descends(&trace, s, consumed_id)),
        "the consumer's SQL under its span: {names:?}"
    );

    // No span, attribute or span event anywhere holds personal data or a secret.
    let everything = serde_json::to_string(&all).expect("spans");
    for secret in ["Ysolde", "Quenterel", email, "desk@a.example", desk.as_str()] {
        assert!(!everything.contains(secret), "a span holds {secret}");
    }

    // A log line leads to its trace: medical's lines of the request carry its trace id.
    let log = std::fs::read_to_string(p.dir.join("medical.log")).expect("medical's log");
    assert!(
        log.lines().any(|l| l.contains(&trace_id) && l.contains("/graphql")),
        "medical's log names trace {trace_id}"
    );
}
