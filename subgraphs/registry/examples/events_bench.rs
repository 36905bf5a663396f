//! Events through the whole backbone on this machine: outbox (written in
//! tenant transactions) → the service's relay → Redis Streams → a consumer
//! group applying each event in its own transaction with its idempotency
//! record. Prints throughput and end-to-end latency (write → consumer
//! commit). Run with `bench/events` (release build, the machine's PostgreSQL
//! and Redis).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::FutureExt;
use platform::{
    audit::Actor,
    db::{Scope, TenantTx},
    events::{self, Event, RelaySettings, Subscription},
    kv::Kv,
};
use registry::SUBGRAPHS;
use testkit::bench::percentile;
use uuid::Uuid;

async fn write(pool: &sqlx::PgPool, org: Uuid, n: usize, per_tx: usize) {
    let scope = Scope {
        organization_id: org,
        ..Scope::default()
    };
    let actor = Actor {
        organization_id: org,
        user_id: None,
        client_id: None,
        request_id: Some("bench".into()),
    };
    for chunk in 0..n.div_ceil(per_tx) {
        let mut tx = TenantTx::begin_scoped(pool, &scope).await.expect("tx");
        for i in 0..per_tx.min(n - chunk * per_tx) {
            let sent = chrono::Utc::now().timestamp_micros();
            events::emit(
                &mut tx,
                &actor,
                Event::new(
                    "medical.appointment.scheduled",
                    Uuid::new_v4(),
                    serde_json::json!({ "i": chunk * per_tx + i, "sentMicros": sent }),
                ),
            )
            .await
            .expect("emit");
        }
        tx.commit().await.expect("commit");
    }
}

#[tokio::main]
async fn main() {
    let medical = SUBGRAPHS.iter().find(|s| s.name == "medical").expect("medical");
    let app = testkit::TestApp::spawn(medical).await;
    let pool = app.runtime.pool.clone();
    let prefix = format!("hub-bench-{}:events", Uuid::new_v4().simple());
    let url = "redis://127.0.0.1:6379";
    let kv = Kv::new(Some(url)).expect("redis");
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let applied = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (seen, count) = (latencies.clone(), applied.clone());
    // The consumer's effect: an idempotency record (written by the platform)
    // and the latency of the event, measured at its commit.
    let sub = Subscription::new("medical.appointment", "bench.latency", move |_, d| {
        let (seen, count) = (seen.clone(), count.clone());
        let sent = d.payload["sentMicros"].as_i64().unwrap_or_default();
        async move {
            let now = chrono::Utc::now().timestamp_micros();
            seen.lock().expect("lock").push((now - sent) as f64 / 1000.0);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        .boxed()
    });
    let redis = platform::config::RedisSettings {
        url: None,
        events_prefix: prefix.clone(),
        events_relay: true,
        events_consumers: true,
        events_max_attempts: 5,
        events_retry_after_ms: 5_000,
        events_retention_hours: 72,
    };
    let settings = sub.settings(&redis, "bench-1");
    let wait = |target: usize| {
        let applied = applied.clone();
        async move {
            let until = Instant::now() + Duration::from_secs(120);
            while applied.load(std::sync::atomic::Ordering::SeqCst) < target {
                assert!(Instant::now() < until, "consumer stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let org = Uuid::new_v4();

    // Throughput: a backlog of events, drained by one relay and one consumer.
    let n = 20_000;
    write(&pool, org, n, 100).await;
    let t0 = Instant::now();
    let relay = events::spawn_relay(
        pool.clone(),
        kv.clone(),
        RelaySettings {
            prefix: prefix.clone(),
            schema: Some("medical".into()),
            ..RelaySettings::default()
        },
    );
    let consumer = events::spawn_consumer(
        pool.clone(),
        Kv::with_response_timeout(Some(url), Duration::from_secs(3)).expect("redis"),
        sub.clone(),
        settings,
        Duration::from_secs(1),
        None,
    );
    wait(n).await;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "throughput: {n} events outbox → stream → consumer in {secs:.2} s = {:.0} events/s (relay batch 200, one consumer)",
        n as f64 / secs
    );

    // Latency: one event per transaction at a steady 100 events/s.
    latencies.lock().expect("lock").clear();
    let m = 1_000;
    let base = applied.load(std::sync::atomic::Ordering::SeqCst);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..m {
        tick.tick().await;
        write(&pool, org, 1, 1).await;
    }
    wait(base + m).await;
    let mut l = latencies.lock().expect("lock").clone();
    l.sort_by(|a, b| a.total_cmp(b));
    println!(
        "latency (write → consumer commit), {} events at 100/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        l.len(),
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        percentile(&l, 1.0)
    );
    relay.abort();
    consumer.abort();
    let mut conn = redis::Client::open(url)
        .expect("redis")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: () = redis::cmd("DEL")
        .arg(events::stream_key(&prefix, "medical.appointment"))
        .query_async(&mut conn)
        .await
        .expect("cleanup");
}
