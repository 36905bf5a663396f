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
    sql(&app, &format!(
        "update medical.audit_log set details = '{{\"mrn\": \"forged\"}}' where organization_id = '{a}' and chain_seq = 2"
    ))
    .await;
    let found = broken(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].organization_id, found[0].seq), (a, 2));
    assert!(found[0].reason.contains("`details`"), "{}", found[0].reason);

    // ... and rewrites its hashed record and hash to match: the next row no longer follows.
    sql(&app, &format!(
        "update medical.audit_log set canonical = replace(canonical, '\"mrn\": \"C-1\"', '\"mrn\": \"forged\"'),
                row_hash = sha256(prev_hash || convert_to(replace(canonical, '\"mrn\": \"C-1\"', '\"mrn\": \"forged\"'), 'UTF8'))
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
