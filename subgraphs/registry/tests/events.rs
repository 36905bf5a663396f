//! The event backbone every subgraph inherits: the outbox written in the
//! change's transaction and the relay to Redis Streams, against the real
//! PostgreSQL and a real Redis process this test starts (with AOF, as
//! production must run it), stopped and restarted mid-run.

use std::time::{Duration, Instant};

use futures::FutureExt;
use platform::{
    audit::Actor,
    db::{Scope, TenantTx},
    events::{self, Event, RelaySettings},
    kv::Kv,
};
use registry::SUBGRAPHS;
use testkit::{redis_server::Redis, TestApp};
use uuid::Uuid;

fn medical() -> &'static registry::Subgraph {
    SUBGRAPHS.iter().find(|s| s.name == "medical").unwrap()
}

fn settings() -> RelaySettings {
    RelaySettings {
        prefix: format!("hub-test-events-{}", Uuid::new_v4().simple()),
        ..RelaySettings::default()
    }
}

fn actor(org: Uuid) -> Actor {
    Actor {
        organization_id: org,
        user_id: None,
        client_id: None,
        request_id: Some("req-events-test".into()),
    }
}

/// Writes `n` events about `entity` in one committed (or rolled back) transaction.
async fn write(app: &TestApp, org: Uuid, entity: Uuid, from: usize, n: usize, commit: bool) {
    let scope = Scope {
        organization_id: org,
        ..Scope::default()
    };
    let mut tx = TenantTx::begin_scoped(&app.runtime.pool, &scope).await.unwrap();
    for i in from..from + n {
        events::emit(
            &mut tx,
            &actor(org),
            Event {
                family: "medical.appointment",
                kind: "medical.appointment.scheduled",
                version: 1,
                entity_id: Some(entity),
                payload: serde_json::json!({ "n": i }),
            },
        )
        .await
        .unwrap();
    }
    if commit {
        tx.commit().await.unwrap();
    }
}

/// The stream's entries as (event id, payload n, tenant, request id).
async fn read(url: &str, key: &str) -> Vec<(String, i64, String, String)> {
    read_raw(url, key)
        .await
        .into_iter()
        .map(|kv| {
            let field = |name: &str| {
                kv.chunks(2)
                    .find(|c| c[0] == name)
                    .map(|c| c[1].clone())
                    .unwrap_or_default()
            };
            let payload: serde_json::Value = serde_json::from_str(&field("payload")).unwrap();
            (
                field("id"),
                payload["n"].as_i64().unwrap(),
                field("tenant"),
                field("request_id"),
            )
        })
        .collect()
}

async fn drain(app: &TestApp, kv: &Kv, s: &RelaySettings, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let _ = events::relay_once(&app.runtime.pool, kv, s).await;
        if events::backlog(&app.runtime.pool).await.unwrap() == 0 {
            return;
        }
        assert!(Instant::now() < until, "events still in the outbox after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_event_of_a_rolled_back_transaction_is_never_published() {
    let app = TestApp::spawn(medical()).await;
    let redis = Redis::start();
    let kv = Kv::new(Some(&redis.url())).unwrap();
    let s = settings();
    let (org, entity) = (Uuid::new_v4(), Uuid::new_v4());
    write(&app, org, entity, 0, 3, false).await;
    write(&app, org, entity, 3, 2, true).await;
    assert_eq!(events::backlog(&app.runtime.pool).await.unwrap(), 2);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("hub_event_outbox_backlog{service=\"medical\"} 2"),
        "{metrics}"
    );
    assert_eq!(events::relay_once(&app.runtime.pool, &kv, &s).await.unwrap(), 2);
    let got = read(&redis.url(), &events::stream_key(&s.prefix, "medical.appointment")).await;
    assert_eq!(got.iter().map(|e| e.1).collect::<Vec<_>>(), vec![3, 4]);
    assert!(got.iter().all(|e| e.2 == org.to_string() && e.3 == "req-events-test"));
    assert_eq!(
        events::relay_once(&app.runtime.pool, &kv, &s).await.unwrap(),
        0,
        "published once"
    );
}

#[tokio::test]
async fn events_written_while_redis_is_down_all_arrive_in_order_once_it_returns() {
    let app = TestApp::spawn(medical()).await;
    let mut redis = Redis::start();
    let kv = Kv::new(Some(&redis.url())).unwrap();
    let s = settings();
    let (org, entity) = (Uuid::new_v4(), Uuid::new_v4());
    write(&app, org, entity, 0, 5, true).await;
    drain(&app, &kv, &s, Duration::from_secs(10)).await;

    redis.stop();
    for batch in 0..3 {
        write(&app, org, entity, 5 + batch * 5, 5, true).await;
        assert!(events::relay_once(&app.runtime.pool, &kv, &s).await.is_err());
    }
    assert_eq!(
        events::backlog(&app.runtime.pool).await.unwrap(),
        15,
        "nothing lost, nothing marked sent"
    );
    let failed: i64 =
        sqlx::query_scalar("select count(*) from medical.event_outbox where attempts > 0 and last_error is not null")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert!(failed > 0, "failures are recorded on the waiting events");

    redis.restart();
    // The Kv circuit breaker waits a few seconds before asking Redis again.
    drain(&app, &kv, &s, Duration::from_secs(20)).await;
    let got = read(&redis.url(), &events::stream_key(&s.prefix, "medical.appointment")).await;
    assert_eq!(
        got.iter().map(|e| e.1).collect::<Vec<_>>(),
        (0..20).collect::<Vec<i64>>()
    );
    let mut ids: Vec<_> = got.iter().map(|e| e.0.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "each event once");
}

#[tokio::test]
async fn the_service_role_reads_no_outbox_row_and_a_second_relay_waits() {
    let app = TestApp::spawn(medical()).await;
    let org = Uuid::new_v4();
    write(&app, org, Uuid::new_v4(), 0, 2, true).await;
    // With the guards out of the way: the service's role, no tenant set.
    let visible: i64 = sqlx::query_scalar("select count(*) from event_outbox")
        .fetch_one(&app.runtime.pool)
        .await
        .unwrap();
    assert_eq!(visible, 0);
    // One relay holds the claim; another gets nothing until it commits.
    let mut first = app.runtime.pool.begin().await.unwrap();
    let claimed: Vec<Uuid> = sqlx::query_scalar("select id from outbox_claim(10)")
        .fetch_all(&mut *first)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let second: Vec<Uuid> = sqlx::query_scalar("select id from outbox_claim(10)")
        .fetch_all(&app.runtime.pool)
        .await
        .unwrap();
    assert!(second.is_empty());
    first.rollback().await.unwrap();
}

fn consumer(prefix: &str, name: &str) -> events::ConsumerSettings {
    events::ConsumerSettings {
        prefix: prefix.to_string(),
        family: "medical.appointment".into(),
        group: "test.effects".into(),
        consumer: name.into(),
        max_attempts: 3,
        retry_after: Duration::ZERO,
        batch: 50,
    }
}

/// The effect a test consumer applies: one audit row per event.
async fn effect(conn: &mut sqlx::PgConnection, d: &events::Delivery) -> anyhow::Result<()> {
    sqlx::query(
        "insert into audit_log (organization_id, action, entity_type, entity_id, details) values ($1, 'test.effect', 'Event', $2, '{}')",
    )
    .bind(d.tenant)
    .bind(d.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Event n = 1 always fails; the others are applied.
async fn picky(conn: &mut sqlx::PgConnection, d: &events::Delivery) -> anyhow::Result<()> {
    anyhow::ensure!(d.payload["n"] != 1, "cannot handle n = 1");
    effect(conn, d).await
}

async fn effects(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from medical.audit_log where action = 'test.effect'")
        .fetch_one(&app.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_consumer_that_dies_before_acknowledging_does_not_apply_an_event_twice() {
    let app = TestApp::spawn(medical()).await;
    let redis = Redis::start();
    let kv = Kv::new(Some(&redis.url())).unwrap();
    let s = settings();
    let org = Uuid::new_v4();
    write(&app, org, Uuid::new_v4(), 0, 4, true).await;
    drain(&app, &kv, &s, Duration::from_secs(10)).await;

    // Committed its effects, then died: nothing acknowledged.
    let effect = events::handler(|c, d| effect(c, d).boxed());
    let crashed = events::consume_without_ack(&app.runtime.pool, &kv, &consumer(&s.prefix, "a"), &effect)
        .await
        .unwrap();
    assert_eq!(crashed.applied, 4);
    assert_eq!(effects(&app).await, 4);
    // Another member of the group takes the pending entries over.
    let retried = events::consume_once(&app.runtime.pool, &kv, &consumer(&s.prefix, "b"), &effect)
        .await
        .unwrap();
    assert_eq!((retried.applied, retried.skipped), (0, 4));
    assert_eq!(effects(&app).await, 4, "no effect twice");
    // All acknowledged: nothing is due any more.
    let after = events::consume_once(&app.runtime.pool, &kv, &consumer(&s.prefix, "b"), &effect)
        .await
        .unwrap();
    assert_eq!(after, events::Pass::default());
}

#[tokio::test]
async fn a_poison_event_lands_in_the_dead_letter_stream_after_its_attempts() {
    let app = TestApp::spawn(medical()).await;
    let redis = Redis::start();
    let kv = Kv::new(Some(&redis.url())).unwrap();
    let s = settings();
    let org = Uuid::new_v4();
    write(&app, org, Uuid::new_v4(), 0, 2, true).await;
    drain(&app, &kv, &s, Duration::from_secs(10)).await;

    let picky = events::handler(|c, d| picky(c, d).boxed());
    let c = consumer(&s.prefix, "a");
    let first = events::consume_once(&app.runtime.pool, &kv, &c, &picky).await.unwrap();
    assert_eq!((first.applied, first.failed, first.dead), (1, 1, 0));
    let second = events::consume_once(&app.runtime.pool, &kv, &c, &picky).await.unwrap();
    assert_eq!((second.failed, second.dead), (1, 0));
    let third = events::consume_once(&app.runtime.pool, &kv, &c, &picky).await.unwrap();
    assert_eq!((third.failed, third.dead), (0, 1));
    assert_eq!(effects(&app).await, 1, "a failed attempt leaves nothing behind");

    let dead = read_raw(&redis.url(), &events::dead_letter_key(&s.prefix)).await;
    assert_eq!(dead.len(), 1);
    let f = |name: &str| {
        dead[0]
            .chunks(2)
            .find(|c| c[0] == name)
            .map(|c| c[1].clone())
            .unwrap_or_default()
    };
    assert_eq!(f("group"), "test.effects");
    assert_eq!(f("attempts"), "3");
    assert!(f("error").contains("cannot handle"));
    assert_eq!(f("type"), "medical.appointment.scheduled");
    // Nothing left pending for the group.
    let after = events::consume_once(&app.runtime.pool, &kv, &c, &picky).await.unwrap();
    assert_eq!(after, events::Pass::default());
}

async fn read_raw(url: &str, key: &str) -> Vec<Vec<String>> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    entries.into_iter().map(|(_, f)| f).collect()
}

/// A running service consumes on its own: medical's practitioner consumer
/// applies an identity event it finds in the stream, reports its lag on
/// /metrics, dead-letters an event it cannot understand, and /ready says
/// the Redis it uses persists streams.
#[tokio::test]
async fn a_running_service_consumes_reports_lag_and_dead_letters() {
    let redis = Redis::start();
    let prefix = format!("hub-test-events-{}", Uuid::new_v4().simple());
    let url = redis.url();
    let app = TestApp::spawn_with(medical(), |f| {
        f.merge(("redis.url", url.clone()))
            .merge(("redis.events_consumers", true))
            .merge(("redis.events_prefix", prefix.clone()))
            .merge(("redis.events_max_attempts", 2))
            .merge(("redis.events_retry_after_ms", 100))
    })
    .await;
    let ready = app.get_json("/ready").await;
    assert_eq!(ready["checks"]["redis_persistence"], "ok", "{ready}");
    assert_eq!(ready["warnings"], serde_json::json!([]));

    let (org, user) = (Uuid::new_v4(), Uuid::new_v4());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = events::stream_key(&prefix, "identity.membership");
    for (seq, version) in [(1, 1), (2, 2)] {
        let payload = serde_json::json!({ "userId": user, "roles": ["practitioner"], "displayName": "Dr Stream" });
        let _: String = redis::cmd("XADD")
            .arg(&key)
            .arg("*")
            .arg("id")
            .arg(Uuid::new_v4().to_string())
            .arg("seq")
            .arg(seq)
            .arg("type")
            .arg("identity.membership.added")
            .arg("version")
            .arg(version)
            .arg("tenant")
            .arg(org.to_string())
            .arg("entity")
            .arg(user.to_string())
            .arg("occurred_at")
            .arg("2030-01-01T00:00:00Z")
            .arg("request_id")
            .arg("req-stream")
            .arg("payload")
            .arg(payload.to_string())
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = app.get_text("/metrics").await;
        let projected: i64 =
            sqlx::query_scalar("select count(*) from medical.practitioners where user_id = $1 and active")
                .bind(user)
                .fetch_one(&app.admin)
                .await
                .unwrap();
        let dead =
            metrics.contains("hub_event_dead_letters_total{group=\"medical.practitioners\",service=\"medical\"} 1");
        let caught_up = metrics.contains(
            "hub_event_consumer_lag{family=\"identity.membership\",group=\"medical.practitioners\",service=\"medical\"} 0",
        );
        if projected == 1 && dead && caught_up {
            assert!(
                metrics.contains("hub_event_dead_letter_backlog{service=\"medical\"} 1"),
                "{metrics}"
            );
            assert!(
                metrics.contains(
                    "hub_event_consumer_pending{family=\"identity.membership\",group=\"medical.practitioners\",service=\"medical\"} 0"
                ),
                "{metrics}"
            );
            break;
        }
        assert!(
            Instant::now() < until,
            "consumer did not catch up: {projected} {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dead = read_raw(&url, &events::dead_letter_key(&prefix)).await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].iter().any(|f| f.contains("version 2 is not understood")),
        "{dead:?}"
    );
}

#[tokio::test]
async fn streams_and_dead_letters_are_trimmed_by_age() {
    let prefix = format!("hub-trim-{}", Uuid::new_v4().simple());
    let other = format!("hub-trim-other-{}", Uuid::new_v4().simple());
    let kv = Kv::new(Some("redis://127.0.0.1:6379")).expect("kv");
    let mut conn = kv.connection().expect("redis");
    let now = chrono::Utc::now().timestamp_millis();
    let old = now - 5 * 3600 * 1000;
    for key in [
        events::stream_key(&prefix, "identity.user"),
        events::dead_letter_key(&prefix),
        events::stream_key(&other, "identity.user"),
    ] {
        for (i, at) in [old, old + 1, now - 1000].into_iter().enumerate() {
            let _: String = redis::cmd("XADD")
                .arg(&key)
                .arg(format!("{at}-{i}"))
                .arg("payload")
                .arg("{\"displayName\": \"x\"}")
                .query_async(&mut conn)
                .await
                .expect("xadd");
        }
    }
    let trimmed = events::trim_streams(&kv, &prefix, Duration::from_secs(3600))
        .await
        .expect("trim");
    assert_eq!(trimmed, 4, "two old entries in the family stream and two dead letters");
    for (key, left) in [
        (events::stream_key(&prefix, "identity.user"), 1),
        (events::dead_letter_key(&prefix), 1),
        (events::stream_key(&other, "identity.user"), 3),
    ] {
        let n: i64 = redis::cmd("XLEN").arg(&key).query_async(&mut conn).await.expect("xlen");
        assert_eq!(n, left, "{key}");
        let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.expect("del");
    }
}
