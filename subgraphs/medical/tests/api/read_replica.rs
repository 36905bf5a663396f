//! Reads on a real streaming replica (`HUB_DATABASE__READ_URL`): a primary
//! and a hot standby of the test's own, made with `initdb` and
//! `pg_basebackup -R`.

use std::time::Duration;

use platform::Role;
use serde_json::{json, Value};
use testkit::{metric, postgres_server::Postgres, TestDb};

use crate::helpers::{who, TestApp, Who};

const PATIENTS: &str = "{ patients(first: 50) { edges { node { familyName } } } }";

fn names(d: &Value) -> Vec<String> {
    let mut v: Vec<String> = d["patients"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["familyName"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

async fn replica_sql(url: &str, sql: &str) {
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect to the replica");
    sqlx::raw_sql(sql).execute(&mut c).await.expect(sql);
}

async fn transactions(app: &TestApp, server: &str) -> f64 {
    let page = app.get_text("/metrics").await;
    metric(&page, "db_read_transactions_total", &format!("server=\"{server}\"")).unwrap_or(0.0)
}

/// Polls until `ok` holds for the answer of `PATIENTS` (replication and
/// backoffs take their time), returning the last answer.
async fn patients_until(app: &TestApp, token: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut seen = vec![];
    for _ in 0..150 {
        seen = names(&app.ok(PATIENTS, json!({}), token).await);
        if ok(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test]
async fn reads_go_to_the_replica_writers_read_their_writes_and_a_stopped_replica_costs_nothing() {
    let primary = Postgres::start();
    let replica = primary.standby();
    let db = TestDb::on(&primary.url()).await;
    let replica_db = format!("{}/{}", replica.url(), db.name);
    let app = TestApp::spawn_in(db, |f| {
        f.merge(("database.read_url", replica_db.clone()))
            .merge(("database.read_your_writes_ms", 60_000))
    })
    .await;
    let (a, b) = (who(), who());
    app.patient(a.org, "MRN-A1", "Arnaud").await;
    app.patient(b.org, "MRN-B1", "Bernard").await;
    let reader = Who { org: a.org, ..who() };
    let doc = app.token(reader, Role::Practitioner);
    // The replica has the migrations and both patients once it has replayed.
    assert_eq!(patients_until(&app, &doc, |n| n == ["Arnaud"]).await, ["Arnaud"]);

    // Row-level security on the standby: a's practitioner sees a's patient
    // only, read by the replica (the answer above and this one).
    let before = transactions(&app, "replica").await;
    assert_eq!(names(&app.ok(PATIENTS, json!({}), &doc).await), ["Arnaud"]);
    assert!(
        transactions(&app, "replica").await > before,
        "served by the replica: {}",
        app.get_text("/metrics").await
    );

    // The replica stops replaying: what the primary gets next, only a
    // reader of the primary can see.
    replica_sql(&replica_db, "select pg_wal_replay_pause()").await;
    let secretary = app.token(Who { org: a.org, ..who() }, Role::Secretary);
    let d = app
        .ok(
            "mutation($i: CreatePatientInput!) { createPatient(input: $i) { familyName } }",
            json!({ "i": { "mrn": "MRN-A2", "givenName": "Léa", "familyName": "Aubert", "birthDate": "1990-02-03", "sex": "FEMALE" } }),
            &secretary,
        )
        .await;
    assert_eq!(
        d["createPatient"]["familyName"], "Aubert",
        "the mutation's answer shows its write"
    );
    // The writer reads their write at once (the primary, for the window) …
    assert_eq!(
        names(&app.ok(PATIENTS, json!({}), &secretary).await),
        ["Arnaud", "Aubert"]
    );
    // … while a caller who wrote nothing reads the paused replica.
    assert_eq!(names(&app.ok(PATIENTS, json!({}), &doc).await), ["Arnaud"]);

    replica_sql(&replica_db, "select pg_wal_replay_resume()").await;
    assert_eq!(
        patients_until(&app, &doc, |n| n.len() == 2).await,
        ["Arnaud", "Aubert"],
        "the replica catches up"
    );

    // The replica goes away: reads fall back to the primary, nothing fails.
    replica.crash();
    let fallbacks = |page: &str| metric(page, "db_replica_fallbacks_total", "").unwrap_or(0.0);
    let primary_reads = transactions(&app, "primary").await;
    for _ in 0..3 {
        assert_eq!(names(&app.ok(PATIENTS, json!({}), &doc).await), ["Arnaud", "Aubert"]);
    }
    assert!(
        fallbacks(&app.get_text("/metrics").await) >= 1.0,
        "the fallback is counted"
    );
    assert!(transactions(&app, "primary").await >= primary_reads + 3.0);
    let ready = app.http.get(format!("{}/ready", app.url)).send().await.expect("ready");
    assert_eq!(ready.status(), 200, "a replica down leaves the instance ready");

    // Back again, it takes reads again after its backoff.
    replica.restart();
    let replica_reads = transactions(&app, "replica").await;
    let mut back = false;
    for _ in 0..100 {
        app.ok(PATIENTS, json!({}), &doc).await;
        if transactions(&app, "replica").await > replica_reads {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "reads return to the replica once it is back");
}
