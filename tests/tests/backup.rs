//! The backup and restore drill: `hub backup` of a running platform (its
//! schemas and its content store), `hub restore` into a new database and a
//! new store, the platform started on them — its audit trail verifies, its
//! documents download with their checksums, and its outbox does not send
//! again what was delivered before the backup.

use std::path::Path;

use hub_e2e::{hub, wait_for, Platform, Router, RouterOptions};
use serde_json::json;
use testkit::TestDb;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Books `patient` with the clinic's doctor on day `day` of June 2031,
/// the confirmation to `email`.
async fn book(p: &Platform, r: &Router, token: &str, patient: &str, day: u32, email: &str) {
    let (_, d) = p
        .post(
            r,
            json!({ "query": "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
                    "variables": { "i": { "patientId": patient, "practitionerId": p.tenants.doctor_a,
                        "startsAt": format!("2031-06-{day:02}T09:00:00Z"), "endsAt": format!("2031-06-{day:02}T09:30:00Z"),
                        "notifyEmail": email, "idempotencyKey": format!("backup-{day}") } } }),
            Some(token),
        )
        .await;
    assert!(d["errors"].is_null(), "booking of day {day}: {d}");
}

/// Entries the relays wrote to one event stream.
async fn stream_len(prefix: &str, family: &str) -> i64 {
    let redis = redis::Client::open("redis://127.0.0.1:6379").expect("redis");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    redis::cmd("XLEN")
        .arg(format!("{prefix}:{family}"))
        .query_async(&mut conn)
        .await
        .expect("XLEN")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restored_backup_verifies_serves_its_documents_and_sends_nothing_twice() {
    let p = Platform::start().await;
    p.seed_demo().await;
    let r = p.router(RouterOptions::default()).await;
    let desk = p.login(&r, "clinic-a", "desk@a.example").await;
    let patient = p.create_patient(&r, &desk, "BK-1", "Odile", "Marchetti").await;
    book(&p, &r, &desk, &patient, 1, "first@patient.example").await;
    let mailed =
        |to: &str| format!("select count(*) from medical.mail_deliveries where recipient = '{to}' and status = 'sent'");
    wait_for(&p.admin, &mailed("first@patient.example"), 1).await;
    wait_for(
        &p.admin,
        "select count(*) from medical.event_outbox where published_at is null",
        0,
    )
    .await;
    let content_dir = p.dir.join(".hub/content");
    let source = [
        ("HUB_DATABASE__URL", p.database_url().to_string()),
        ("HUB_CONTENT__STORE__DIR", content_dir.display().to_string()),
    ];

    let backup = p.dir.join("backup");
    let out = hub(&["backup", &backup.display().to_string()], &source);
    assert!(out.status.success(), "hub backup: {}", text(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["schemas"].as_object().map(|m| m.len()), Some(4), "{manifest}");
    assert!(
        manifest["objects"].as_object().is_some_and(|o| !o.is_empty()),
        "the content store's objects are in the backup: {manifest}"
    );

    // A damaged backup restores nothing.
    let damaged = p.dir.join("damaged");
    copy_dir(&backup, &damaged);
    let dump = damaged.join("medical.dump");
    let mut bytes = std::fs::read(&dump).expect("dump");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&dump, bytes).expect("write");
    let scratch = TestDb::new().await;
    let out = hub(
        &["restore", &damaged.display().to_string()],
        &[
            ("HUB_DATABASE__URL", scratch.url.clone()),
            (
                "HUB_CONTENT__STORE__DIR",
                p.dir.join("scratch-store").display().to_string(),
            ),
        ],
    );
    assert!(!out.status.success(), "a damaged backup was restored");
    assert!(
        text(&out).contains("medical.dump: its checksum differs"),
        "{}",
        text(&out)
    );
    let schemas: i64 = sqlx::query_scalar(
        "select count(*) from pg_namespace where nspname in ('identity', 'content', 'medical', 'procurement')",
    )
    .fetch_one(&scratch.admin)
    .await
    .expect("schemas");
    assert_eq!(schemas, 0, "nothing written from a damaged backup");

    // Restored into a new database and a new store, with the same keys.
    let db = TestDb::new().await;
    let dir = Platform::workdir();
    copy_dir(&p.dir.join("keys"), &dir.join("keys"));
    let target = [
        ("HUB_DATABASE__URL", db.url.clone()),
        (
            "HUB_CONTENT__STORE__DIR",
            dir.join(".hub/content").display().to_string(),
        ),
    ];
    let out = hub(&["restore", &backup.display().to_string()], &target);
    assert!(out.status.success(), "hub restore: {}", text(&out));
    let again = hub(&["restore", &backup.display().to_string()], &target);
    assert!(
        !again.status.success() && text(&again).contains("already exists in the target database"),
        "a restore over live data is refused: {}",
        text(&again)
    );
    let out = hub(&["audit", "verify"], &target);
    assert!(
        out.status.success(),
        "hub audit verify on the restored data: {}",
        text(&out)
    );

    let tenants = p.tenants.clone();
    drop(r);
    drop(p);
    let q = Platform::start_in(dir, db, tenants, &[]).await;
    let r = q.router(RouterOptions::default()).await;

    // Documents download with the checksums recorded before the backup.
    let docs = q.demo_patient_documents(&r).await;
    assert!(!docs.is_empty(), "the demo documents came back");
    for doc in docs {
        let url = doc["currentVersion"]["downloadUrl"].as_str().expect("url");
        let bytes = reqwest::get(url).await.expect("download").bytes().await.expect("bytes");
        assert_eq!(
            platform::crypto::sha256_hex_bytes(&bytes),
            doc["currentVersion"]["sha256"].as_str().unwrap_or_default(),
            "{url}"
        );
    }

    // The booking made before the backup is not sent again; a new one is, once.
    let desk = q.login(&r, "clinic-a", "desk@a.example").await;
    book(&q, &r, &desk, &patient, 2, "second@patient.example").await;
    wait_for(&q.admin, &mailed("second@patient.example"), 1).await;
    let first: i64 = sqlx::query_scalar(&mailed("first@patient.example"))
        .fetch_one(&q.admin)
        .await
        .expect("count");
    assert_eq!(first, 1, "the confirmation sent before the backup is not sent again");
    let relayed = stream_len(&q.events_prefix, "medical.appointment").await;
    assert_eq!(relayed, 1, "only the new booking's event is relayed after the restore");
}
