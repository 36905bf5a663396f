//! Faults an operator's worst day brings, against real processes: a
//! subgraph that stops answering without dying, one killed mid-writes, a
//! SIGTERM under load, Redis and PostgreSQL (each the test's own) stopped or
//! crashed and started again. Durations are bounded (a few seconds each) so
//! the suite fits CI.

use std::time::{Duration, Instant};

use hub_e2e::{Platform, RouterOptions, ROUTER_SECRET};
use serde_json::json;

const ME_AND_SCHEDULE: &str =
    "{ me { displayName schedule(from: \"2030-05-01T00:00:00Z\", to: \"2030-06-01T00:00:00Z\") { startsAt } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_subgraph_costs_its_fields_after_the_timeout_never_the_answer_or_the_routers_health() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let (_, whole) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    assert!(whole["errors"].is_null(), "{whole}");
    assert!(whole["data"]["me"]["schedule"].is_array(), "{whole}");

    // Medical stops answering: it holds its connections, as a hung process does.
    p.subgraph("medical").proc.pause();
    let started = Instant::now();
    let (status, partial) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    let took = started.elapsed();
    // The router itself stays healthy while medical hangs.
    let health = p.http.get(&r.health).send().await.expect("health").status().as_u16();
    p.subgraph("medical").proc.resume();
    assert_eq!(health, 200);
    assert_eq!(status, 200, "{partial}");
    assert!(took < Duration::from_secs(6), "the router held the request {took:?}");
    assert_eq!(
        partial["data"]["me"]["displayName"], "Dr Alice",
        "identity's part arrives: {partial}"
    );
    assert!(partial["data"]["me"]["schedule"].is_null(), "{partial}");
    let error = &partial["errors"][0];
    assert!(
        error["extensions"]["code"].as_str().is_some_and(|c| !c.is_empty()),
        "a stable code says why: {partial}"
    );
    println!("a paused subgraph answers {took:?}: {error}");

    // Medical answers again once resumed.
    let (_, again) = p.post(&r, json!({ "query": ME_AND_SCHEDULE }), Some(&doc)).await;
    assert!(again["errors"].is_null(), "{again}");
    assert!(again["data"]["me"]["schedule"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_practitioners_appointments_still_list_with_a_tombstone_for_them() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default()).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "F-1", "Ines", "Garnier").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                    "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                                          "startsAt": "2030-05-07T09:00:00Z", "endsAt": "2030-05-07T09:30:00Z" } } }),
            Some(&desk),
        )
        .await;
    assert!(d["errors"].is_null(), "{d}");
    let admin = p.login(&r, "clinic-a", "admin@a.example").await;
    let (_, d) = p
        .post(
            &r,
            json!({ "query": "mutation($u: ID!) { removeMember(userId: $u) }", "variables": { "u": p.tenants.doctor_a } }),
            Some(&admin),
        )
        .await;
    assert_eq!(d["data"]["removeMember"], true, "{d}");
    // The clinic's list still answers, every row, the practitioner shown
    // as a former member rather than the whole answer blanked.
    let (_, list) = p
        .post(
            &r,
            json!({ "query": "{ appointments { nodes { patient { familyName } practitioner { id displayName erased } } } }" }),
            Some(&desk),
        )
        .await;
    assert!(list["errors"].is_null(), "{list}");
    let nodes = list["data"]["appointments"]["nodes"].as_array().expect("nodes");
    let row = nodes
        .iter()
        .find(|n| n["patient"]["familyName"] == "Garnier")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        row["practitioner"],
        json!({ "id": p.tenants.doctor_a.to_string(), "displayName": "Former member", "erased": true })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_content_hung_the_patient_list_answers_without_its_documents() {
    let p = Platform::start().await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    p.create_patient(&r, &doc, "F-2", "Paul", "Lemoine").await;
    let q = json!({ "query": "{ patients(first: 10) { nodes { familyName documents { nodes { title } } } } }" });
    // Content has served this caller before it hangs (it holds identity's keys).
    let (_, warm) = p.post(&r, q.clone(), Some(&doc)).await;
    assert!(warm["errors"].is_null(), "{warm}");
    p.subgraph("content").proc.pause();
    let (_, partial) = p.post(&r, q.clone(), Some(&doc)).await;
    p.subgraph("content").proc.resume();
    let nodes = partial["data"]["patients"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{partial}"));
    let lemoine = nodes
        .iter()
        .find(|n| n["familyName"] == "Lemoine")
        .unwrap_or_else(|| panic!("the patients arrive: {partial}"));
    assert!(lemoine["documents"].is_null(), "{partial}");
    assert!(partial["errors"][0]["extensions"]["code"].is_string(), "{partial}");
    let (_, whole) = p.post(&r, q, Some(&doc)).await;
    assert!(whole["errors"].is_null(), "{whole}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_a_subgraph_not_ready_first_then_every_request_answered() {
    let mut p = Platform::start_with(&[("HUB_SERVER__DRAIN_SECS", "2".to_string())]).await;
    let r = p.router(RouterOptions::default()).await;
    let doc = p.login(&r, "clinic-a", "doc@a.example").await;
    let medical = p.url("medical").to_string();
    let http = reqwest::Client::new();
    let call = |http: reqwest::Client, url: String, token: String| async move {
        http.post(format!("{url}/graphql"))
            .bearer_auth(token)
            .header("x-hub-router-secret", ROUTER_SECRET)
            .json(&json!({ "query": "{ appointments { nodes { id } } }" }))
            .send()
            .await
            .map(|r| r.status().as_u16())
    };
    assert_eq!(call(http.clone(), medical.clone(), doc.clone()).await.ok(), Some(200));

    let signalled = Instant::now();
    p.subgraph("medical").proc.terminate();
    // Readiness turns false at once, so a balancer stops sending work…
    let mut not_ready = None;
    while signalled.elapsed() < Duration::from_secs(1) {
        let status = http
            .get(format!("{medical}/ready"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if status.ok() == Some(503) {
            not_ready = Some(signalled.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let not_ready = not_ready.expect("/ready never said 503 after SIGTERM");
    // …while requests still get full answers during the drain, in parallel.
    let mut answered = 0;
    while signalled.elapsed() < Duration::from_millis(1500) {
        let batch: Vec<_> = (0..4)
            .map(|_| tokio::spawn(call(http.clone(), medical.clone(), doc.clone())))
            .collect();
        for b in batch {
            assert_eq!(
                b.await.expect("task").ok(),
                Some(200),
                "a request failed while draining"
            );
            answered += 1;
        }
    }
    assert!(
        p.subgraph_mut("medical")
            .proc
            .exited_within(Duration::from_secs(10))
            .await,
        "medical did not stop"
    );
    let drained = signalled.elapsed();
    // Then it is gone cleanly: a refused connection, never a broken answer.
    let after = call(http.clone(), medical.clone(), doc.clone()).await;
    assert!(after.as_ref().is_err_and(|e| e.is_connect()), "{after:?}");
    println!(
        "drain: not ready after {not_ready:?}, {answered} requests answered while draining, exited after {drained:?}"
    );
    assert!(
        drained >= Duration::from_secs(2) && drained < Duration::from_secs(5),
        "{drained:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_to_a_router_finishes_what_it_started_and_a_retrying_client_sees_no_failure() {
    let p = Platform::start().await;
    // Two routers, as behind a balancer: a client that cannot reach one retries on the other.
    let mut a = p.router(RouterOptions::default().subgraph_timeout("10s")).await;
    let b = p.router(RouterOptions::default()).await;
    let doc = p.login(&a, "clinic-a", "doc@a.example").await;
    let query = json!({ "query": ME_AND_SCHEDULE });
    let (_, whole) = p.post(&a, query.clone(), Some(&doc)).await;
    assert!(whole["errors"].is_null(), "{whole}");

    // A client loop on router A, failing over to B on a refused or dropped connection.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (http, urls, token, body) = (
                p.http.clone(),
                [a.url.clone(), b.url.clone()],
                doc.clone(),
                query.clone(),
            );
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut answered, mut failed_over) = (0u32, 0u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut ok = false;
                    for url in &urls {
                        let sent = http.post(url).bearer_auth(&token).json(&body).send().await;
                        let Ok(resp) = sent else {
                            failed_over += 1;
                            continue;
                        };
                        // Once the router sent an answer, the answer is whole.
                        let v: serde_json::Value = resp.json().await.expect("a whole answer, never a cut one");
                        assert!(v["errors"].is_null() && v["data"]["me"]["schedule"].is_array(), "{v}");
                        ok = true;
                        break;
                    }
                    assert!(ok, "neither router answered");
                    answered += 1;
                }
                (answered, failed_over)
            })
        })
        .collect();

    // One request in flight when the signal comes: medical is paused, so it waits.
    p.subgraph("medical").proc.pause();
    let in_flight = {
        let (http, url, token, body) = (p.http.clone(), a.url.clone(), doc.clone(), query.clone());
        tokio::spawn(async move { http.post(url).bearer_auth(token).json(&body).send().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    a.proc.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // New connections are refused while the started request finishes.
    let refused = p.http.post(&a.url).bearer_auth(&doc).json(&query).send().await;
    p.subgraph("medical").proc.resume();
    let finished = in_flight
        .await
        .expect("task")
        .expect("the request in flight is answered");
    let finished: serde_json::Value = finished.json().await.expect("a whole answer");
    assert!(refused.as_ref().is_err_and(|e| e.is_connect()), "{refused:?}");
    assert!(
        finished["errors"].is_null() && finished["data"]["me"]["schedule"].is_array(),
        "{finished}"
    );
    assert!(
        a.proc.exited_within(Duration::from_secs(10)).await,
        "the router did not stop"
    );
    let drained = signalled.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut answered, mut failed_over) = (0, 0);
    for c in clients {
        let (n, f) = c.await.expect("a client saw a failure");
        answered += n;
        failed_over += f;
    }
    println!(
        "router SIGTERM: stopped {drained:?} after the signal (the request in flight answered first); \
         {answered} client requests answered, {failed_over} failed over to the other router"
    );
    assert!(failed_over > 0, "the clients never met the stopped router");
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_redis_restart_bookings_go_on_and_every_event_and_mail_arrives_once() {
    let mut redis = testkit::redis_server::Redis::start();
    let p = Platform::start_with(&[("HUB_REDIS__URL", redis.url())]).await;
    let r = p.router(RouterOptions::default().redis(&redis.url())).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "F-3", "Rose", "Perrin").await;
    let book = |slot: u32| {
        let (p, r, desk, patient) = (&p, &r, desk.clone(), patient.clone());
        async move {
            let starts = format!("2030-06-{:02}T09:00:00Z", slot + 1);
            let ends = format!("2030-06-{:02}T09:30:00Z", slot + 1);
            let (_, d) = p
                .post(
                    r,
                    json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                            "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                                                  "startsAt": starts, "endsAt": ends, "notifyEmail": format!("{patient}@patient.example"),
                                                  "idempotencyKey": format!("redis-fault-{slot}") } } }),
                    Some(&desk),
                )
                .await;
            d
        }
    };
    for slot in 0..3 {
        let d = book(slot).await;
        assert!(d["errors"].is_null(), "before the outage: {d}");
    }
    redis.stop();
    // The clinic keeps booking while Redis is away (within the revocation
    // view's staleness); the events wait in the outbox.
    for slot in 3..6 {
        let d = book(slot).await;
        assert!(d["errors"].is_null(), "during the outage: {d}");
    }
    redis.restart();
    for slot in 6..9 {
        let d = book(slot).await;
        assert!(d["errors"].is_null(), "after the outage: {d}");
    }
    // Every booking's event is published, and its confirmation sent, once.
    hub_e2e::wait_for(
        &p.admin,
        "select count(*) from medical.event_outbox where type = 'medical.appointment.scheduled' and published_at is not null",
        9,
    )
    .await;
    assert_each_booking_and_mail_once(&p, &patient, 9).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn medical_killed_mid_bookings_loses_nothing_and_doubles_nothing_for_clients_that_retry() {
    let mut p = Platform::start().await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "F-4", "Jade", "Roux").await;
    let client = retrying_client(&p, &r, &desk, &patient, "2030-07", 12);
    booked_at_least(&p, &patient, 2).await;
    assert!(!client.is_finished(), "the fault comes mid-bookings");
    // Down for a second: a booking or two meet the outage.
    p.restart("medical", Duration::from_secs(1)).await;
    let (retries, longest) = client.await.expect("client");
    println!(
        "medical killed and restarted mid-bookings: the client retried {retries} time(s), longest booking {longest:?}"
    );
    assert!(retries > 0, "no booking met the outage");
    assert_each_booking_and_mail_once(&p, &patient, 12).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_crash_restarted_mid_bookings_loses_nothing_and_doubles_nothing_for_clients_that_retry() {
    let pg = testkit::postgres_server::Postgres::start();
    let p = Platform::start_on(&pg.url(), &[]).await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "F-5", "Lou", "Garnier").await;
    let client = retrying_client(&p, &r, &desk, &patient, "2030-08", 12);
    booked_at_least(&p, &patient, 2).await;
    assert!(!client.is_finished(), "the fault comes mid-bookings");
    let crashed = Instant::now();
    pg.crash();
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.restart();
    // The services answer again without a restart of their own.
    let me = json!({ "query": "{ me { displayName } }" });
    loop {
        let (_, d) = p.post(&r, me.clone(), Some(&desk)).await;
        if d["errors"].is_null() {
            break;
        }
        assert!(
            crashed.elapsed() < Duration::from_secs(30),
            "no answer after the restart: {d}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "PostgreSQL crash-restarted: answering again {:?} after the crash",
        crashed.elapsed()
    );
    let (retries, longest) = client.await.expect("client");
    println!(
        "PostgreSQL crash-restarted mid-bookings: the client retried {retries} time(s), longest booking {longest:?}"
    );
    // A booking met the outage: it waited for PostgreSQL (the pool reconnects) or was retried.
    assert!(
        retries > 0 || longest >= Duration::from_millis(900),
        "no booking met the outage"
    );
    assert_each_booking_and_mail_once(&p, &patient, 12).await;
}

/// A client booking `n` slots (one a day of `month`, "YYYY-MM"), retrying
/// each with the same idempotency key until it gets an answer, as a
/// well-behaved client does; how often it retried and the longest a slot
/// took from its first attempt to its answer. Confirmations go to
/// `<patient id>@patient.example`.
fn retrying_client(
    p: &Platform,
    router: &hub_e2e::Router,
    token: &str,
    patient: &str,
    month: &str,
    n: u32,
) -> tokio::task::JoinHandle<(u32, Duration)> {
    let (url, http, token) = (router.url.clone(), p.http.clone(), token.to_string());
    let (patient, doctor, month) = (patient.to_string(), p.tenants.doctor_a, month.to_string());
    tokio::spawn(async move {
        let (mut retries, mut longest) = (0, Duration::ZERO);
        for slot in 0..n {
            let first = Instant::now();
            let body = json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                "variables": { "i": { "patientId": patient, "practitionerId": doctor,
                    "startsAt": format!("{month}-{:02}T10:00:00Z", slot + 1), "endsAt": format!("{month}-{:02}T10:30:00Z", slot + 1),
                    "notifyEmail": format!("{patient}@patient.example"), "idempotencyKey": format!("{patient}-{slot}") } } });
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let answer = http.post(&url).bearer_auth(&token).json(&body).send().await;
                let ok = match answer {
                    Ok(resp) => resp
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["errors"].is_null() && v["data"]["scheduleAppointment"]["id"].is_string()),
                    Err(_) => false,
                };
                if ok {
                    longest = longest.max(first.elapsed());
                    break;
                }
                retries += 1;
                assert!(Instant::now() < until, "slot {slot} never booked");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // A front desk's pace, so the fault lands between and during bookings.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        (retries, longest)
    })
}

/// Waits until the patient has `n` appointments: the fault comes mid-bookings.
async fn booked_at_least(p: &Platform, patient: &str, n: i64) {
    let sql = format!("select count(*) from medical.appointments where patient_id = '{patient}'");
    hub_e2e::wait_for(&p.admin, &sql, n).await;
}

/// The patient has exactly `n` appointments, each confirmation was sent
/// exactly once, and medical's audit trail verifies.
async fn assert_each_booking_and_mail_once(p: &Platform, patient: &str, n: i64) {
    let booked: i64 = sqlx::query_scalar("select count(*) from medical.appointments where patient_id = $1::uuid")
        .bind(patient)
        .fetch_one(&p.admin)
        .await
        .expect("count");
    assert_eq!(booked, n, "every booking exactly once");
    let sent = format!(
        "select count(*) from medical.mail_deliveries where recipient = '{patient}@patient.example' and status = 'sent'"
    );
    hub_e2e::wait_for(&p.admin, &sent, n).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mailed: i64 = sqlx::query_scalar(&sent).fetch_one(&p.admin).await.expect("count");
    assert_eq!(mailed, n, "every confirmation exactly once");
    let mut conn = p.admin.acquire().await.expect("conn");
    let report = platform::audit::chain::verify(&mut conn, "medical", None)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{:?}", report.broken);
}
