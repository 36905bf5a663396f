//! Faults an operator's worst day brings, against real processes: a
//! subgraph that stops answering without dying. Durations are bounded (a
//! few seconds each) so the suite fits CI.

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
                                                  "startsAt": starts, "endsAt": ends, "notifyEmail": "rose.perrin@patient.example",
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
    let sent = "select count(*) from medical.mail_deliveries where recipient = 'rose.perrin@patient.example' and status = 'sent'";
    hub_e2e::wait_for(&p.admin, sent, 9).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n: i64 = sqlx::query_scalar(sent).fetch_one(&p.admin).await.expect("count");
    assert_eq!(n, 9, "each confirmation exactly once");
    let appointments: i64 = sqlx::query_scalar(
        "select count(*) from medical.appointments a join medical.patients p on p.id = a.patient_id where p.mrn = 'F-3'",
    )
    .fetch_one(&p.admin)
    .await
    .expect("count");
    assert_eq!(appointments, 9);
    // And the trail verifies.
    let mut conn = p.admin.acquire().await.expect("conn");
    let report = platform::audit::chain::verify(&mut conn, "medical", None)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{:?}", report.broken);
}

#[tokio::test(flavor = "multi_thread")]
async fn medical_killed_mid_bookings_loses_nothing_and_doubles_nothing_for_clients_that_retry() {
    let mut p = Platform::start().await;
    let r = p.router(RouterOptions::default().subgraph_timeout("2s")).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "F-4", "Jade", "Roux").await;
    let doctor = p.tenants.doctor_a;
    let (router, http) = (r.url.clone(), reqwest::Client::new());
    // A client books 12 slots, retrying each with the same idempotency key
    // until it gets an answer, as a well-behaved client does.
    let client = tokio::spawn(async move {
        let mut retries = 0;
        for slot in 0..12u32 {
            let body = json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                "variables": { "i": { "patientId": patient, "practitionerId": doctor,
                    "startsAt": format!("2030-07-{:02}T10:00:00Z", slot + 1), "endsAt": format!("2030-07-{:02}T10:30:00Z", slot + 1),
                    "notifyEmail": "jade.roux@patient.example", "idempotencyKey": format!("kill-{slot}") } } });
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let answer = http.post(&router).bearer_auth(&desk).json(&body).send().await;
                let ok = match answer {
                    Ok(resp) => resp
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["errors"].is_null() && v["data"]["scheduleAppointment"]["id"].is_string()),
                    Err(_) => false,
                };
                if ok {
                    break;
                }
                retries += 1;
                assert!(Instant::now() < until, "slot {slot} never booked");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        retries
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.restart("medical").await;
    let retries = client.await.expect("client");
    println!("medical killed and restarted mid-bookings: the client retried {retries} time(s)");

    let booked: i64 = sqlx::query_scalar(
        "select count(*) from medical.appointments a join medical.patients p on p.id = a.patient_id where p.mrn = 'F-4'",
    )
    .fetch_one(&p.admin)
    .await
    .expect("count");
    assert_eq!(booked, 12, "every booking exactly once");
    let sent = "select count(*) from medical.mail_deliveries where recipient = 'jade.roux@patient.example' and status = 'sent'";
    hub_e2e::wait_for(&p.admin, sent, 12).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n: i64 = sqlx::query_scalar(sent).fetch_one(&p.admin).await.expect("count");
    assert_eq!(n, 12, "every confirmation exactly once");
    let mut conn = p.admin.acquire().await.expect("conn");
    let report = platform::audit::chain::verify(&mut conn, "medical", None)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{:?}", report.broken);
}
