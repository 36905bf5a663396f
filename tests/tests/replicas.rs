//! Two replicas of every subgraph and two routers on one PostgreSQL and one
//! Redis, as a cluster runs them: router one calls the first replicas,
//! router two the second. What one replica does, the other sees at once
//! (a logout, a rate budget, a stored file); what must happen once (an
//! event's effect, a read's seal) happens once, the work split between them.

use std::time::Duration;

use hub_e2e::{Platform, RouterOptions};
use serde_json::json;
use uuid::Uuid;

async fn replicated(extra: &[(&str, String)]) -> (Platform, hub_e2e::Router, hub_e2e::Router) {
    let mut p = Platform::start_with(extra).await;
    p.start_replicas().await;
    // Both routers count in the same keys, as a Deployment's replicas do.
    let shared = format!("hub-e2e-replicas-{}", Uuid::new_v4());
    let opts = || RouterOptions::default().rate_key_prefix(&shared).anonymous_rate(1, 4);
    let one = p.router(opts()).await;
    let two = p.router(opts().on_replicas()).await;
    (p, one, two)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_and_a_rate_budget_hold_on_every_replica_and_router_at_once() {
    let (p, one, two) = replicated(&[]).await;
    let token = p.login(&one, "clinic-a", "desk@a.example").await;
    let me = json!({ "query": "{ me { id } }" });
    let (_, d) = p.post(&two, me.clone(), Some(&token)).await;
    assert!(
        d["errors"].is_null(),
        "signed in through one router, known by the other: {d}"
    );
    let (_, d) = p
        .post(&one, json!({ "query": "mutation { logout }" }), Some(&token))
        .await;
    assert_eq!(d["data"]["logout"], true, "{d}");
    let (_, d) = p.post(&two, me, Some(&token)).await;
    assert_eq!(
        d["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "the other router and replicas refuse the ended session at once: {d}"
    );

    // One anonymous budget of 4 for this address across both routers.
    let anonymous = json!({ "query": "{ __typename }" });
    let mut passed = 0;
    let mut refused_by = None;
    for i in 0..12 {
        let router = if i % 2 == 0 { &one } else { &two };
        let (status, _) = p.post(router, anonymous.clone(), None).await;
        if status == 429 {
            refused_by = Some(i % 2);
            break;
        }
        passed += 1;
    }
    assert!(refused_by.is_some(), "12 requests over two routers were never limited");
    // The sign-in above drew on the same budget: at most 3 more pass (4 if a
    // token refilled meanwhile); two routers counting apart would let 6 by.
    assert!(
        passed <= 4,
        "the routers counted apart: {passed} passed before a refusal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_event_is_applied_once_split_between_replicas_and_each_read_sealed_once() {
    let (p, one, two) = replicated(&[("HUB_AUDIT__SEAL_EVERY_MS", "200".to_string())]).await;
    let desk = p.login(&one, "clinic-a", "desk@a.example").await;
    let doctor = p.login(&two, "clinic-a", "doc@a.example").await;
    let patient = p.create_patient(&one, &desk, "R-1", "Lena", "Roux").await;
    let n = 12;
    for slot in 0..n {
        let router = if slot % 2 == 0 { &one } else { &two };
        let (_, d) = p
            .post(
                router,
                json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                        "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                            "startsAt": format!("2031-03-{:02}T09:00:00Z", slot + 1),
                            "endsAt": format!("2031-03-{:02}T09:30:00Z", slot + 1),
                            "notifyEmail": format!("{patient}@patient.example"),
                            "idempotencyKey": format!("replicas-{slot}") } } }),
                Some(&desk),
            )
            .await;
        assert!(d["errors"].is_null(), "booking {slot}: {d}");
        // Health data read through both routers (each read is logged).
        let (_, d) = p
            .post(
                router,
                json!({ "query": "query($id: ID!) { patient(id: $id) { allergies { substance } } }", "variables": { "id": patient } }),
                Some(&doctor),
            )
            .await;
        assert!(d["errors"].is_null(), "read {slot}: {d}");
    }

    let sent = format!(
        "select count(*) from medical.mail_deliveries where recipient = '{patient}@patient.example' and status = 'sent'"
    );
    hub_e2e::wait_for(&p.admin, &sent, n).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mailed: i64 = sqlx::query_scalar(&sent).fetch_one(&p.admin).await.expect("count");
    assert_eq!(mailed, n, "each confirmation exactly once");
    let applied_by = [("group", "medical.mail"), ("outcome", "applied")];
    let mut applied = vec![];
    for url in [p.url("medical"), p.replica_url("medical")] {
        applied.push(p.metric(url, "hub_events_consumed_total", &applied_by).await);
    }
    assert_eq!(
        applied.iter().sum::<u64>(),
        n as u64,
        "applied once in all: {applied:?}"
    );
    assert!(
        applied.iter().all(|&a| a > 0),
        "the work is split between the replicas: {applied:?}"
    );

    // Every read sealed, each by exactly one seal (both replicas run the sealer).
    let none_unsealed = "select (count(*) = 0)::int::bigint from medical.read_log where sealed_by is null";
    hub_e2e::wait_for(&p.admin, none_unsealed, 1).await;
    let (reads, sealed): (i64, i64) = sqlx::query_as(
        "select (select count(*) from medical.read_log),
                (select coalesce(sum((details->>'count')::bigint), 0)::bigint from medical.audit_log where action = 'reads.sealed')",
    )
    .fetch_one(&p.admin)
    .await
    .expect("seals");
    assert!(reads >= n, "the reads were logged: {reads}");
    assert_eq!(sealed, reads, "each read sealed exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_uploaded_through_one_replica_downloads_from_the_other() {
    let (p, one, two) = replicated(&[]).await;
    let desk = p.login(&one, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&one, &desk, "R-2", "Marc", "Vidal").await;
    let bytes = b"referral letter, page 1\n".to_vec();
    let (_, d) = p
        .post(
            &one,
            json!({ "query": "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { document { id } uploadUrl } }",
                    "variables": { "i": { "ownerType": "PATIENT", "ownerId": patient, "title": "Referral",
                        "classification": "ADMINISTRATIVE", "contentType": "text/plain", "byteSize": bytes.len() } } }),
            Some(&desk),
        )
        .await;
    let upload = &d["data"]["createDocument"];
    let url = upload["uploadUrl"].as_str().unwrap_or_else(|| panic!("{d}"));
    assert!(url.starts_with(p.url("content")), "the first replica signed it: {url}");
    let put = p
        .http
        .put(url)
        .header("content-type", "text/plain")
        .body(bytes.clone())
        .send()
        .await
        .expect("upload");
    assert!(put.status().is_success(), "{}", put.status());

    let (_, d) = p
        .post(
            &two,
            json!({ "query": "query($id: ID!) { document(id: $id) { currentVersion { downloadUrl } } }",
                    "variables": { "id": upload["document"]["id"] } }),
            Some(&desk),
        )
        .await;
    let link = d["data"]["document"]["currentVersion"]["downloadUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{d}"));
    assert!(
        link.starts_with(p.replica_url("content")),
        "the second replica signed it: {link}"
    );
    let got = p.http.get(link).send().await.expect("download");
    assert!(got.status().is_success(), "{}", got.status());
    assert_eq!(got.bytes().await.expect("body").to_vec(), bytes);
}
