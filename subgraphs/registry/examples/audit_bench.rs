//! What the tamper-evident trail costs on this machine: audited write
//! transactions per second with the hash chain off and on, with concurrent
//! writers spread over organizations or all in one (they take turns on its
//! chain head); reads of health data written to `read_log` and sealed
//! into the chains; and how fast `hub audit verify` walks a trail. Run with
//! `bench/audit` (release build, the machine's PostgreSQL, a fresh test
//! database).

use std::time::Instant;

use futures::future::join_all;
use platform::{
    audit::{self, chain, Actor},
    db::{Scope, TenantTx},
};
use registry::SUBGRAPHS;
use testkit::bench::percentile;
use uuid::Uuid;

const WRITERS: usize = 16;
const PER_WRITER: usize = 250;

fn actor(org: Uuid) -> Actor {
    Actor {
        organization_id: org,
        user_id: Some(Uuid::new_v4()),
        client_id: None,
        request_id: Some("bench".into()),
    }
}

/// `WRITERS` concurrent writers, writer `i` in `orgs[i % orgs.len()]`, each
/// committing `PER_WRITER` transactions of one audit row (a mutation's
/// audit record). Prints transactions/s and commit latency.
async fn writes(pool: &sqlx::PgPool, label: &str, orgs: &[Uuid]) {
    let t0 = Instant::now();
    let runs = (0..WRITERS).map(|w| {
        let (pool, org) = (pool.clone(), orgs[w % orgs.len()]);
        async move {
            let scope = Scope {
                organization_id: org,
                ..Scope::default()
            };
            let who = actor(org);
            let mut took = Vec::with_capacity(PER_WRITER);
            for i in 0..PER_WRITER {
                let t = Instant::now();
                let mut tx = TenantTx::begin_scoped(&pool, &scope).await.expect("tx");
                audit::record(
                    &mut tx,
                    &who,
                    "patient.update",
                    "Patient",
                    Uuid::new_v4(),
                    serde_json::json!({ "changed": ["contact"], "i": i }),
                )
                .await
                .expect("audit row");
                tx.commit().await.expect("commit");
                took.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            took
        }
    });
    let mut all: Vec<f64> = join_all(runs).await.into_iter().flatten().collect();
    let secs = t0.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label:<44} {:>6.0} tx/s   p50 {:>5.1} ms   p99 {:>6.1} ms",
        all.len() as f64 / secs,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
}

async fn sql(pool: &sqlx::PgPool, q: &str) {
    sqlx::raw_sql(q).execute(pool).await.expect(q);
}

#[tokio::main]
async fn main() {
    let medical = SUBGRAPHS.iter().find(|s| s.name == "medical").expect("medical");
    let app =
        testkit::TestApp::spawn_with(medical, |f| f.merge(("database.max_connections", WRITERS as u32 + 4))).await;
    let (pool, admin) = (app.runtime.pool.clone(), app.admin.clone());
    let orgs: Vec<Uuid> = (0..WRITERS).map(|_| Uuid::new_v4()).collect();
    println!("{WRITERS} concurrent writers x {PER_WRITER} transactions, each one audit row (as a mutation writes it)");

    sql(&admin, "alter table medical.audit_log disable trigger audit_chain").await;
    writes(&pool, "no chain (trigger off), 16 organizations", &orgs).await;
    sql(
        &admin,
        "delete from medical.audit_log; alter table medical.audit_log enable trigger audit_chain",
    )
    .await;
    writes(&pool, "chain, 16 writers in 16 organizations", &orgs).await;
    writes(&pool, "chain, 16 writers in one organization", &orgs[..1]).await;

    // Reads: a dashboard's worth (50 patients) per request, all in one
    // organization, then sealed into its chain.
    let (requests, per) = (2_000, 50);
    let t0 = Instant::now();
    let runs = (0..WRITERS).map(|_| {
        let pool = pool.clone();
        let org = orgs[0];
        async move {
            let scope = Scope {
                organization_id: org,
                ..Scope::default()
            };
            let who = actor(org);
            for _ in 0..requests / WRITERS {
                let ids: Vec<Uuid> = (0..per).map(|_| Uuid::new_v4()).collect();
                let mut tx = TenantTx::begin_scoped(&pool, &scope).await.expect("tx");
                audit::record_read(&mut tx, &who, "graphql.read", "Patient", &ids, serde_json::json!({}))
                    .await
                    .expect("reads");
                tx.commit().await.expect("commit");
            }
        }
    });
    join_all(runs).await;
    let secs = t0.elapsed().as_secs_f64();
    let reads = requests * per;
    println!(
        "reads: {requests} requests x {per} patients in one organization: {:.0} requests/s ({:.0} reads/s)",
        requests as f64 / secs,
        reads as f64 / secs
    );
    let t0 = Instant::now();
    let mut sealed = 0;
    loop {
        let n = audit::seal_reads(&admin, "medical").await.expect("seal");
        if n == 0 {
            break;
        }
        sealed += n;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "sealing: {sealed} reads into the chain in {:.2} s = {:.0} reads/s",
        secs,
        sealed as f64 / secs
    );

    // An auditor's walk over everything: every hash recomputed, every seal
    // checked against its reads.
    let mut conn = admin.acquire().await.expect("conn");
    let t0 = Instant::now();
    let report = chain::verify(&mut conn, "medical", None).await.expect("verify");
    let secs = t0.elapsed().as_secs_f64();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    println!(
        "verify: {} rows in {} chains and {} sealed reads in {:.2} s = {:.0} rows+reads/s",
        report.rows,
        report.organizations,
        report.reads,
        secs,
        (report.rows + report.reads) as f64 / secs.max(f64::EPSILON)
    );
}
