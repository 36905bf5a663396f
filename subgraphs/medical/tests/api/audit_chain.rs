//! The audit trail's hash chains (platform SQL every schema installs),
//! tampered with as the database superuser: verification names the first
//! broken link; concurrent writers keep every chain intact.

use futures::future::join_all;
use platform::audit::chain::{self, Broken};
use uuid::Uuid;

use crate::helpers::{who, TestApp};

/// `n` audited mutations in a new organization; its id.
async fn org_with_rows(app: &TestApp, n: usize) -> Uuid {
    let w = who();
    for i in 0..n {
        app.patient(w.org, &format!("C-{i}"), "Chain").await;
    }
    w.org
}

async fn broken(app: &TestApp) -> Vec<Broken> {
    let mut conn = app.admin.acquire().await.expect("conn");
    chain::verify(&mut conn, "medical", None).await.expect("verify").broken
}

async fn sql(app: &TestApp, q: &str) {
    sqlx::raw_sql(q).execute(&app.admin).await.expect(q);
}

#[tokio::test]
async fn untouched_chains_verify_and_every_kind_of_tampering_is_named_at_its_row() {
    let app = TestApp::spawn().await;
    let (a, b) = (org_with_rows(&app, 4).await, org_with_rows(&app, 3).await);
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!(
        (report.organizations, report.rows, report.broken.len()),
        (2, 7, 0),
        "{report:?}"
    );

    // A superuser edits a row's details: that row.
    sql(
        &app,
        &format!(
        "update medical.audit_log set details = '{{\"forged\": true}}' where organization_id = '{a}' and chain_seq = 2"
    ),
    )
    .await;
    let found = broken(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].organization_id, found[0].seq), (a, 2));
    assert!(found[0].reason.contains("`details`"), "{}", found[0].reason);

    // ... and rewrites its hashed record and hash to match: the next row no longer follows.
    sql(&app, &format!(
        "update medical.audit_log set canonical = replace(canonical, '\"details\": {{}}', '\"details\": {{\"forged\": true}}'),
                row_hash = sha256(prev_hash || convert_to(replace(canonical, '\"details\": {{}}', '\"details\": {{\"forged\": true}}'), 'UTF8'))
          where organization_id = '{a}' and chain_seq = 2"
    ))
    .await;
    let found = broken(&app).await;
    assert_eq!(
        (found[0].seq, found[0].reason.contains("does not follow row 2")),
        (3, true),
        "{found:?}"
    );

    // A row deleted in organization B: named where the gap opens, B's chain only.
    sql(
        &app,
        &format!("delete from medical.audit_log where organization_id = '{b}' and chain_seq = 2"),
    )
    .await;
    let found = broken(&app).await;
    let of_b = found.iter().find(|x| x.organization_id == b).expect("b broken");
    assert_eq!((of_b.seq, of_b.reason.as_str()), (2, "row 2 is missing (deleted)"));

    // The last row deleted: the chain head still remembers it.
    let c = org_with_rows(&app, 2).await;
    sql(
        &app,
        &format!("delete from medical.audit_log where organization_id = '{c}' and chain_seq = 2"),
    )
    .await;
    let of_c = broken(&app)
        .await
        .into_iter()
        .find(|x| x.organization_id == c)
        .expect("c broken");
    assert_eq!(of_c.seq, 2);
    assert!(of_c.reason.contains("chain head is at 2"), "{}", of_c.reason);

    // A row slipped in with the trigger off, hashed consistently but chained to an older row.
    let d = org_with_rows(&app, 2).await;
    sql(&app, &format!(
        "alter table medical.audit_log disable trigger audit_chain;
         insert into medical.audit_log (organization_id, action, entity_type, entity_id, chain_seq, prev_hash, canonical, row_hash)
           select organization_id, 'patient.created', 'Patient', gen_random_uuid(), 3, row_hash, canonical,
                  sha256(row_hash || convert_to(canonical, 'UTF8'))
             from medical.audit_log where organization_id = '{d}' and chain_seq = 1;
         alter table medical.audit_log enable trigger audit_chain;"
    ))
    .await;
    let of_d = broken(&app)
        .await
        .into_iter()
        .find(|x| x.organization_id == d)
        .expect("d broken");
    assert_eq!(of_d.seq, 3);
    assert!(of_d.reason.contains("does not follow row 2"), "{}", of_d.reason);
}

#[tokio::test]
async fn concurrent_writers_of_one_organization_serialize_and_others_chain_alongside() {
    let app = TestApp::spawn().await;
    let (a, b) = (who(), who());
    let writes = (0..12).map(|i| {
        let (app, org) = (&app, if i % 2 == 0 { a.org } else { b.org });
        async move { app.patient(org, &format!("P-{i}"), "Parallel").await }
    });
    join_all(writes).await;
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!((report.organizations, report.rows), (2, 12));
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    let seqs: Vec<i64> = sqlx::query_scalar(&format!(
        "select chain_seq from medical.audit_log where organization_id = '{}' order by chain_seq",
        a.org
    ))
    .fetch_all(&app.admin)
    .await
    .expect("seqs");
    assert_eq!(
        seqs,
        (1..=6).collect::<Vec<i64>>(),
        "one gap-free sequence per organization"
    );
}

#[tokio::test]
async fn an_export_verifies_offline_and_a_line_changed_after_export_does_not() {
    let app = TestApp::spawn().await;
    let org = org_with_rows(&app, 5).await;
    let mut conn = app.admin.acquire().await.expect("conn");
    let (entries, _) = chain::entries(&mut conn, "medical", Some(org), None, None)
        .await
        .expect("entries");
    let lines: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(e).expect("line"))
        .collect();
    // What an auditor does with the file: parse each line, walk the chain.
    let parsed: Vec<chain::Entry> = lines.iter().map(|l| serde_json::from_str(l).expect("parse")).collect();
    assert!(chain::verify_entries(&parsed, &[], false).is_empty());
    // A window from the middle verifies too (its first predecessor hash is trusted).
    assert!(chain::verify_entries(&parsed[2..], &[], false).is_empty());
    let mut forged = parsed.clone();
    forged[3].action = "patient.viewed".into();
    let found = chain::verify_entries(&forged, &[], false);
    assert_eq!(
        (found[0].seq, found[0].reason.contains("`action`")),
        (4, true),
        "{found:?}"
    );
}

#[tokio::test]
async fn graphql_reads_of_a_patients_record_are_audited_and_unanswered_when_they_cannot_be() {
    use platform::Role;
    use serde_json::json;
    let app = TestApp::spawn().await;
    let w = who();
    let (p1, p2) = (
        app.patient(w.org, "R-1", "Read").await,
        app.patient(w.org, "R-2", "Read").await,
    );
    let nurse = crate::helpers::Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    let reads = |who: Uuid| {
        format!("select count(*) from medical.read_log where action = 'graphql.read' and actor_user_id = '{who}'")
    };
    let token = app.token(nurse, Role::Nurse);
    app.ok(
        "query($id: ID!) { patient(id: $id) { familyName allergies { substance } } }",
        json!({ "id": p1 }),
        &token,
    )
    .await;
    assert_eq!(app.count(&reads(nurse.user)).await, 1, "who opened which record");
    app.ok(
        "{ patients(first: 10) { nodes { contact { phone } } } }",
        json!({}),
        &token,
    )
    .await;
    let rows: Vec<Uuid> = sqlx::query_scalar(
        "select entity_id from medical.read_log where action = 'graphql.read' and actor_user_id = $1 order by seq",
    )
    .bind(nurse.user)
    .fetch_all(&app.admin)
    .await
    .expect("rows");
    assert_eq!(rows.len(), 3, "one row per patient read, per request");
    assert!(rows[1..].contains(&p1) && rows[1..].contains(&p2));

    // Names alone (billing, appointment lists) open no record.
    let billing = crate::helpers::Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    app.ok(
        "query($id: ID!) { patient(id: $id) { familyName givenName } }",
        json!({ "id": p1 }),
        &app.token(billing, Role::BillingClerk),
    )
    .await;
    assert_eq!(app.count(&reads(billing.user)).await, 0);

    // If the reads cannot be audited, the record is not shown.
    sql(
        &app,
        &format!("revoke insert on medical.read_log from {}", app.settings.database.role),
    )
    .await;
    let body = app
        .gql(
            "query($id: ID!) { patient(id: $id) { contact { phone } } }",
            json!({ "id": p1 }),
            &token,
        )
        .await;
    assert_eq!(crate::helpers::code(&body), Some("UNAVAILABLE"), "{body}");
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn sealed_reads_join_the_chain_and_a_sealed_read_edited_or_deleted_breaks_it_at_its_seal() {
    use platform::Role;
    use serde_json::json;
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "S-1", "Seal").await;
    let token = app.token(w, Role::Nurse);
    let open = || {
        app.ok(
            "query($id: ID!) { patient(id: $id) { sex } }",
            json!({ "id": p }),
            &token,
        )
    };
    open().await;
    open().await;
    let mut conn = app.admin.acquire().await.expect("conn");
    let before = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!((before.reads, before.unsealed), (0, 2), "{before:?}");

    let sealed = platform::audit::seal_reads(&app.admin, "medical").await.expect("seal");
    assert_eq!(sealed, 2);
    assert_eq!(
        platform::audit::seal_reads(&app.admin, "medical").await.expect("seal"),
        0,
        "each read is sealed once"
    );
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!(
        (report.reads, report.unsealed, report.broken.len()),
        (2, 0, 0),
        "{report:?}"
    );
    let seal_seq: i64 = sqlx::query_scalar(
        "select chain_seq from medical.audit_log where action = 'reads.sealed' and organization_id = $1",
    )
    .bind(w.org)
    .fetch_one(&app.admin)
    .await
    .expect("one seal link in the organization's chain");

    // The export carries the reads after their seal; the file verifies alone.
    let reads = chain::reads(&mut conn, "medical", Some(w.org)).await.expect("reads");
    let (entries, _) = chain::entries(&mut conn, "medical", Some(w.org), None, None)
        .await
        .expect("entries");
    assert!(chain::verify_seals(&entries, &reads).is_empty());
    let mut forged = reads.clone();
    forged[1].read = forged[1].read.replace(&p.to_string(), &Uuid::new_v4().to_string());
    assert_eq!(chain::verify_seals(&entries, &forged)[0].seq, seal_seq);
    // The verifier docs/audit.md gives auditors agrees, on the file `hub audit export` writes.
    let (ok, out) = python_verifier(&export_lines(&entries, &reads));
    assert!(ok && out.contains("sealed reads: 2"), "{out}");
    let (ok, out) = python_verifier(&export_lines(&entries, &forged));
    assert!(!ok && out.contains("a sealed read was edited"), "{out}");

    // A superuser rewrites who read the record: the seal no longer matches.
    sql(&app, &format!(
        "update medical.read_log set actor_user_id = gen_random_uuid() where organization_id = '{}' and seq = (select min(seq) from medical.read_log where organization_id = '{}')",
        w.org, w.org
    ))
    .await;
    let found = broken(&app).await;
    assert_eq!((found.len(), found[0].seq), (1, seal_seq), "{found:?}");
    assert!(found[0].reason.contains("edited"), "{}", found[0].reason);

    // ... or deletes it.
    sql(&app, &format!(
        "delete from medical.read_log where organization_id = '{}' and seq = (select min(seq) from medical.read_log where organization_id = '{}')",
        w.org, w.org
    ))
    .await;
    let found = broken(&app).await;
    assert!(found[0].reason.contains("2 reads, 1 are left"), "{}", found[0].reason);
}

#[tokio::test]
async fn a_service_seals_reads_on_its_own_and_its_metrics_show_what_waits_to_be_sealed() {
    use platform::Role;
    use serde_json::json;
    use testkit::metric;
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "S-2", "Sealer").await;
    let token = app.token(w, Role::Nurse);
    for _ in 0..3 {
        app.ok(
            "query($id: ID!) { patient(id: $id) { sex } }",
            json!({ "id": p }),
            &token,
        )
        .await;
    }
    // The test instance runs no background jobs: the reads wait, and an
    // operator sees them waiting.
    let page = app.get_text("/metrics").await;
    assert_eq!(metric(&page, "audit_reads_unsealed", ""), Some(3.0), "{page}");
    assert!(
        metric(&page, "audit_oldest_unsealed_read_age_seconds", "").is_some_and(|age| age > 0.0),
        "{page}"
    );

    // A replica running the background jobs seals them; nobody calls seal_reads.
    let worker = app
        .kit
        .replica(|f| {
            f.merge(("server.background_jobs", true))
                .merge(("audit.seal_every_ms", 100))
        })
        .await;
    let page = worker.metrics_when("audit_reads_sealed_total", "", 3.0).await;
    assert_eq!(
        metric(&page, "audit_reads_sealed_total", ""),
        Some(3.0),
        "nothing sealed: {page}"
    );
    assert!(
        metric(&page, "audit_seal_runs_total", "outcome=\"ok\"").is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert_eq!(
        metric(&page, "audit_seal_runs_total", "outcome=\"failed\""),
        None,
        "{page}"
    );
    let page = app.get_text("/metrics").await;
    assert_eq!(metric(&page, "audit_reads_unsealed", ""), Some(0.0), "{page}");
    assert_eq!(
        metric(&page, "audit_oldest_unsealed_read_age_seconds", ""),
        Some(0.0),
        "{page}"
    );
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!(
        (report.reads, report.unsealed, report.broken.len()),
        (3, 0, 0),
        "{report:?}"
    );
}

/// Export lines as `hub audit export` writes them: a seal's reads after it.
fn export_lines(entries: &[chain::Entry], reads: &[chain::Read]) -> String {
    let mut out = String::new();
    for e in entries {
        let e = chain::Entry {
            subgraph: Some("medical".into()),
            ..e.clone()
        };
        out += &format!("{}\n", serde_json::to_string(&e).expect("line"));
        for r in reads.iter().filter(|r| r.sealed_by == e.id) {
            let r = chain::Read {
                subgraph: Some("medical".into()),
                ..r.clone()
            };
            out += &format!("{}\n", serde_json::to_string(&r).expect("line"));
        }
    }
    out
}

/// Runs the Python verifier printed in docs/audit.md on `export`.
fn python_verifier(export: &str) -> (bool, String) {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/audit.md")).expect("docs/audit.md");
    let script = doc
        .split("```python\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a python block in docs/audit.md");
    let dir = std::env::temp_dir().join(format!("hub-audit-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (py, file) = (dir.join("verify.py"), dir.join("trail.jsonl"));
    std::fs::write(&py, script).expect("script");
    std::fs::write(&file, export).expect("export");
    let run = std::process::Command::new("python3")
        .arg(&py)
        .arg(&file)
        .output()
        .expect("python3");
    let _ = std::fs::remove_dir_all(&dir);
    (
        run.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        ),
    )
}

#[tokio::test]
async fn a_trail_longer_than_a_batch_is_verified_batch_by_batch_and_breaks_are_still_named() {
    let app = TestApp::spawn().await;
    let org = who().org;
    // 12,000 links in one organization: more than two verification batches.
    sql(
        &app,
        &format!(
            "insert into medical.audit_log (organization_id, action, entity_type, entity_id, details)
             select '{org}', 'patient.update', 'Patient', gen_random_uuid(), jsonb_build_object('n', g)
               from generate_series(1, 12000) g"
        ),
    )
    .await;
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert_eq!((report.rows, report.broken.len()), (12_000, 0), "{report:?}");
    // An edit past the first batch boundary, then one row deleted further on.
    sql(
        &app,
        &format!("update medical.audit_log set details = '{{\"n\": 0}}' where organization_id = '{org}' and chain_seq = 7777"),
    )
    .await;
    let found = broken(&app).await;
    assert_eq!((found.len(), found[0].seq), (1, 7777), "{found:?}");
    sql(
        &app,
        &format!("delete from medical.audit_log where organization_id = '{org}' and chain_seq = 12000"),
    )
    .await;
    let found = broken(&app).await;
    assert_eq!(found[0].seq, 7777, "the first break of the chain is named: {found:?}");
}

#[tokio::test]
async fn a_backlog_of_reads_is_sealed_in_one_pass_and_the_chains_verify() {
    let app = TestApp::spawn().await;
    let (a, b) = (who().org, who().org);
    // 30,000 reads in two organizations: three full batches for one of them.
    for (org, n) in [(a, 25_000), (b, 5_000)] {
        sql(
            &app,
            &format!(
                "insert into medical.read_log (organization_id, actor_user_id, entity_type, entity_id, action)
                 select '{org}', gen_random_uuid(), 'Patient', gen_random_uuid(), 'graphql.read' from generate_series(1, {n})"
            ),
        )
        .await;
    }
    let started = std::time::Instant::now();
    let sealed = platform::audit::seal_backlog(&app.admin, "medical", std::time::Duration::from_secs(120))
        .await
        .expect("seal");
    let took = started.elapsed();
    assert_eq!(sealed, 30_000);
    assert_eq!(
        app.count("select count(*) from medical.read_log where sealed_by is null")
            .await,
        0,
        "nothing left behind"
    );
    println!("sealed 30,000 reads of two organizations in {took:?}");
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert_eq!(report.reads, 30_000);
}
