//! `hub audit verify|export` and `hub retention run` as an auditor and an
//! operator run them: the real binary, configured by the environment, on a
//! database it migrated itself.

use std::{path::Path, process::Command};

use serde_json::Value;
use testkit::TestDb;
use uuid::Uuid;

/// Runs `hub args…` against `db`: exit code, stdout, stderr.
fn hub(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .env("HUB_DATABASE__URL", &db.url)
        .env("HUB_ENVIRONMENT", "development")
        .output()
        .expect("run hub");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn migrated() -> TestDb {
    let db = TestDb::new().await;
    let (code, out, err) = hub(&db, &["migrate"]);
    assert_eq!(code, 0, "hub migrate: {out}{err}");
    db
}

async fn sql(db: &TestDb, q: &str) {
    sqlx::raw_sql(q).execute(&db.admin).await.expect(q);
}

/// `n` audit rows of `org` in `schema`, chained by the tenancy SQL's trigger.
async fn trail(db: &TestDb, schema: &str, org: Uuid, n: usize) {
    for i in 0..n {
        sql(
            db,
            &format!(
                "insert into {schema}.audit_log (organization_id, actor_user_id, action, entity_type, entity_id, details)
                 values ('{org}', gen_random_uuid(), 'record.update', 'Record', gen_random_uuid(), '{{\"n\": {i}}}')"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn an_auditor_exports_a_trail_verifies_it_offline_and_sees_tampering_named_at_its_row() {
    let db = migrated().await;
    let (org, other) = (Uuid::new_v4(), Uuid::new_v4());
    trail(&db, "medical", org, 3).await;
    trail(&db, "procurement", org, 2).await;
    trail(&db, "medical", other, 2).await;

    let (code, out, err) = hub(&db, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("medical: 5 rows in 2 organization chains, 0 sealed reads, intact"),
        "{out}"
    );
    assert!(out.contains("public: 2 rows in 1 organization chains"), "{out}");

    // The export holds the organization's rows of every subgraph, and no one else's.
    let dir = std::env::temp_dir().join(format!("hub-audit-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("trail.jsonl");
    let path = file.to_str().expect("path");
    let (code, out, err) = hub(&db, &["audit", "export", "--org", &org.to_string(), "--out", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("exported 5 audit rows"), "{err}");
    let text = std::fs::read_to_string(&file).expect("export");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|l| l["organization_id"] == org.to_string()), "{text}");

    // Offline: nothing but the file (the database could be gone).
    let offline = |file: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_hub"))
            .args(["audit", "verify", "--file"])
            .arg(file)
            .env("HUB_DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .expect("run hub");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = offline(&file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 rows and 0 sealed reads checked offline"), "{out}");

    // A line changed after the export: named at its row.
    let forged = dir.join("forged.jsonl");
    let mut changed = lines.clone();
    changed[1]["action"] = "record.read".into();
    let body: Vec<String> = changed.iter().map(Value::to_string).collect();
    std::fs::write(&forged, body.join("\n")).expect("write");
    let (code, out) = offline(&forged);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("organization {org} breaks at row 2")), "{out}");
    assert!(out.contains("`action`"), "{out}");

    // A superuser deletes a row in the database: verify fails there too,
    // naming the gap in that subgraph's chain of that organization only.
    sql(
        &db,
        &format!("delete from medical.audit_log where organization_id = '{org}' and chain_seq = 2"),
    )
    .await;
    let (code, out, err) = hub(&db, &["audit", "verify", "--org", &org.to_string()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("medical: 2 rows in 1 organization chains, 0 sealed reads, BROKEN"),
        "{out}"
    );
    assert!(
        out.contains(&format!("medical: organization {org} breaks at row 2")) && out.contains("row 2 is missing"),
        "{out}"
    );
    assert!(
        out.contains("public: 2 rows in 1 organization chains, 0 sealed reads, intact"),
        "{out}"
    );
    assert!(err.contains("1 broken audit chain(s)"), "{err}");
    let (code, out, _) = hub(&db, &["audit", "verify", "--org", &other.to_string()]);
    assert_eq!(code, 0, "another organization's chain is intact: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_operator_sees_what_retention_would_do_then_runs_it_twice() {
    let db = migrated().await;
    let org = Uuid::new_v4();
    sql(
        &db,
        &format!(
            "insert into identity.event_outbox (organization_id, family, type, version, payload, published_at)
             values ('{org}', 'identity.test', 'identity.test.old', 1, '{{}}', now() - interval '40 days'),
                    ('{org}', 'identity.test', 'identity.test.new', 1, '{{}}', now() - interval '1 day'),
                    ('{org}', 'identity.test', 'identity.test.pending', 1, '{{}}', null)"
        ),
    )
    .await;
    let published = |rows: &Value| {
        rows.as_array()
            .expect("report")
            .iter()
            .find(|r| r["subgraph"] == "identity" && r["outcome"]["table"] == "event_outbox")
            .map(|r| (r["outcome"]["action"].clone(), r["outcome"]["rows"].clone()))
    };
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from identity.event_outbox")
            .fetch_one(&db.admin)
            .await
            .expect("count")
    };

    let (code, out, err) = hub(&db, &["retention", "run", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let dry: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(published(&dry), Some(("would be deleted".into(), 1.into())), "{out}");
    assert_eq!(count().await, 3, "a dry run changes nothing");

    let (code, out, err) = hub(&db, &["retention", "run", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        published(&serde_json::from_str(&out).expect("json")),
        Some(("deleted".into(), 1.into()))
    );
    assert_eq!(count().await, 2, "the recent and the pending event stay");

    let (code, out, _) = hub(&db, &["retention", "run", "--json"]);
    assert_eq!(code, 0);
    let again: Value = serde_json::from_str(&out).expect("json");
    assert!(
        again
            .as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["outcome"]["rows"] == 0)),
        "a second run finds nothing: {out}"
    );
    let (code, out, _) = hub(&db, &["retention", "run", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.contains("published events would be deleted (kept 30 days")),
        "{out}"
    );
}
