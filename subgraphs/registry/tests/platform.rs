//! What the platform promises for every registered subgraph, checked once for
//! all of them: the golden SDL, the HTTP surface, and tenancy at the database
//! read from the catalog (RLS forced everywhere, zero rows without a tenant,
//! composite tenant keys on every reference between tenant tables).

use std::path::{Path, PathBuf};

use registry::SUBGRAPHS;
use testkit::{surface, tenancy, TestDb};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[test]
fn every_committed_schema_matches_its_code() {
    for sg in SUBGRAPHS {
        testkit::assert_golden_sdl(sg, &repo_root());
    }
}

#[test]
fn the_registry_and_supergraph_yaml_list_the_same_subgraphs() {
    let yaml = std::fs::read_to_string(repo_root().join("supergraph.yaml")).unwrap_or_default();
    let mut composed: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|n| !n.starts_with(' ') && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    let mut registered: Vec<&str> = SUBGRAPHS.iter().map(|s| s.name).collect();
    composed.sort_unstable();
    registered.sort_unstable();
    assert_eq!(composed, registered, "supergraph.yaml and subgraphs/registry disagree");
}

#[test]
fn the_router_config_takes_every_subgraph_url_from_the_registry() {
    let yaml = registry::router_config(&repo_root(), |sg| format!("http://10.0.0.1:{}/graphql", sg.port + 1000))
        .expect("router config");
    for sg in SUBGRAPHS {
        assert!(
            yaml.contains(&format!("  {}: http://10.0.0.1:{}/graphql\n", sg.name, sg.port + 1000)),
            "{yaml}"
        );
    }
}

#[tokio::test]
async fn health_ready_and_metrics_answer_on_every_subgraph() {
    for sg in SUBGRAPHS {
        surface::health_ready_and_metrics_answer(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_reports_an_unreachable_database_as_not_ready() {
    for sg in SUBGRAPHS {
        surface::ready_reports_an_unreachable_database(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_refuses_calls_without_the_router_secret() {
    for sg in SUBGRAPHS {
        surface::without_the_router_secret_graphql_is_refused(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_answers_without_the_secret_only_on_declared_paths() {
    for sg in SUBGRAPHS {
        surface::only_declared_paths_are_public(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_refuses_bodies_over_the_limit() {
    for sg in SUBGRAPHS {
        surface::request_bodies_over_the_limit_are_refused(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_caps_entities_calls() {
    for sg in SUBGRAPHS {
        surface::entities_calls_are_capped(sg).await;
    }
}

#[tokio::test]
async fn production_turns_introspection_off_on_every_subgraph() {
    for sg in SUBGRAPHS {
        surface::production_turns_introspection_and_suggestions_off(sg).await;
    }
}

#[tokio::test]
async fn no_production_serving_process_holds_administrator_credentials() {
    for sg in SUBGRAPHS {
        surface::production_refuses_administrator_credentials(sg).await;
    }
}

#[tokio::test]
async fn every_subgraph_refuses_nul_characters_as_bad_user_input() {
    for sg in SUBGRAPHS {
        surface::nul_characters_are_bad_user_input_never_internal(sg).await;
    }
}

/// Every subgraph migrated and seeded with the demo data into one database,
/// as `hub up` does.
async fn seeded() -> (TestDb, Vec<(&'static registry::Subgraph, figment::Figment)>) {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("hub-registry-{}", std::process::id()));
    let mut figs = vec![];
    for sg in SUBGRAPHS {
        let fig = testkit::test_figment(sg, &db.url, &dir);
        sg.migrate(fig.clone()).await.expect("migrate");
        figs.push((sg, fig));
    }
    for (sg, fig) in &figs {
        (sg.seed)(fig.clone()).await.expect("seed");
    }
    (db, figs)
}

#[tokio::test]
async fn every_tenant_table_of_every_schema_is_forced_and_empty_without_a_tenant() {
    let (db, figs) = seeded().await;
    let mut reports = vec![];
    for (sg, fig) in &figs {
        let role: String = fig.extract_inner("database.role").expect("role");
        reports.extend(tenancy::assert_schema(&db.admin, sg.schema, &role).await);
    }
    // The check above means something only where rows exist: the seed fills these.
    for table in [
        "identity.memberships",
        "medical.patients",
        "medical.appointments",
        "medical.invoice_lines",
        "procurement.tenders",
        "procurement.bids",
        "procurement.supplier_tax_ids",
        "procurement.contracts",
        "procurement.releases",
    ] {
        let r = reports.iter().find(|r| r.table == table).expect(table);
        assert!(r.rows_as_admin > 0, "{table} is empty after seeding");
    }
    assert!(reports.iter().all(|r| r.rows_without_tenant == 0));
}

#[tokio::test]
async fn the_organization_directory_is_the_one_table_readable_without_a_tenant_and_nobody_writes_it_so() {
    let (db, _) = seeded().await;
    let orgs = tenancy::count_as(&db.admin, "hub_identity", "identity.organizations").await;
    assert!(orgs >= 5, "login resolves slugs before a tenant is known: {orgs}");
    assert_eq!(tenancy::count_as(&db.admin, "hub_identity", "identity.users").await, 0);
    let mut tx = db.admin.begin().await.expect("begin");
    sqlx::raw_sql("set local role hub_identity")
        .execute(&mut *tx)
        .await
        .expect("role");
    let updated = sqlx::query("update identity.organizations set name = 'Taken over'")
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(updated, 0, "no tenant, no org admin: nothing may change");
    let inserted = sqlx::query("insert into identity.organizations (slug, name) values ('rogue', 'Rogue')")
        .execute(&mut *tx)
        .await;
    assert!(inserted.is_err(), "only platform admins create organizations");
}

#[tokio::test]
async fn every_reference_between_tenant_tables_carries_the_tenant() {
    let (db, _) = seeded().await;
    // Foreign keys whose child and parent both hold organization_id must
    // include it on both sides: a row of tenant A can never point at tenant B.
    let loose: Vec<(String, String)> = sqlx::query_as(
        "select con.conrelid::regclass::text, con.conname::text
           from pg_constraint con
           join pg_namespace n on n.oid = con.connamespace
          where con.contype = 'f' and n.nspname = any($1)
            and exists (select 1 from pg_attribute a where a.attrelid = con.conrelid and a.attname = 'organization_id')
            and exists (select 1 from pg_attribute a where a.attrelid = con.confrelid and a.attname = 'organization_id')
            and not exists (select 1 from pg_attribute a where a.attrelid = con.conrelid
                              and a.attname = 'organization_id' and a.attnum = any(con.conkey))",
    )
    .bind(SUBGRAPHS.iter().map(|s| s.schema).collect::<Vec<_>>())
    .fetch_all(&db.admin)
    .await
    .expect("catalog");
    let documented: Vec<(String, String)> = tenancy::CROSS_ORGANIZATION_REFERENCES
        .iter()
        .map(|(t, c, _)| (t.to_string(), c.to_string()))
        .collect();
    let undocumented: Vec<_> = loose.iter().filter(|r| !documented.contains(r)).collect();
    assert!(
        undocumented.is_empty(),
        "references that ignore the tenant: {undocumented:?}"
    );
    let stale: Vec<_> = documented.iter().filter(|r| !loose.contains(r)).collect();
    assert!(
        stale.is_empty(),
        "documented cross-organization references that do not exist: {stale:?}"
    );

    // And concretely, with guards and RLS out of the way (as the superuser):
    // an allergy of one clinic cannot point at another clinic's patient.
    let err = sqlx::query(
        "insert into medical.allergies (organization_id, patient_id, substance, severity)
         select (select id from identity.organizations where slug = 'hopital-nord'), p.id, 'Latex', 'mild'
           from medical.patients p join identity.organizations o on o.id = p.organization_id
          where o.slug = 'clinique-saint-paul' limit 1",
    )
    .execute(&db.admin)
    .await
    .expect_err("a cross-tenant reference must be refused");
    assert!(err.to_string().contains("foreign key"), "{err}");
}

#[tokio::test]
async fn every_schema_records_the_platform_migrations_applies_them_once_and_refuses_an_edited_one() {
    let (db, figs) = seeded().await;
    let files: Vec<i64> = std::fs::read_dir(repo_root().join("subgraphs/platform/migrations"))
        .expect("platform migrations")
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().split('_').next()?.parse().ok())
        .collect();
    assert!(files.len() >= 8, "{files:?}");
    let history = |schema: &'static str| {
        let admin = db.admin.clone();
        async move {
            sqlx::query_as::<_, (i64, chrono::DateTime<chrono::Utc>)>(&format!(
                "select version, applied_at from {schema}.platform_migrations order by version"
            ))
            .fetch_all(&admin)
            .await
            .expect("history")
        }
    };
    for (sg, fig) in &figs {
        let before = history(sg.schema).await;
        let mut versions: Vec<i64> = before.iter().map(|r| r.0).collect();
        versions.sort_unstable();
        let mut expected = files.clone();
        expected.sort_unstable();
        assert_eq!(versions, expected, "{}", sg.schema);
        sg.migrate(fig.clone()).await.expect("migrating again");
        assert_eq!(
            history(sg.schema).await,
            before,
            "{}: a second run applied again",
            sg.schema
        );
    }
    let (sg, fig) = &figs[0];
    sqlx::query(&format!(
        "update {}.platform_migrations set checksum = '\\x00' where version = 3",
        sg.schema
    ))
    .execute(&db.admin)
    .await
    .expect("tamper");
    let err = sg
        .migrate(fig.clone())
        .await
        .expect_err("an edited migration must stop the run");
    assert!(
        err.to_string().contains("platform migration 3") && err.to_string().contains("different contents"),
        "{err}"
    );
}

#[tokio::test]
async fn an_instance_given_other_keys_than_its_peers_never_becomes_ready() {
    let sg = SUBGRAPHS
        .iter()
        .find(|s| s.name == "medical")
        .expect("medical is registered");
    let first = testkit::TestApp::spawn(sg).await;
    let recorded = "select count(*) from medical.key_fingerprints";
    let mut n = 0i64;
    for _ in 0..100 {
        n = sqlx::query_scalar(recorded)
            .fetch_one(&first.admin)
            .await
            .expect("count");
        if n > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(n, 1, "the first instance records its key's fingerprint");
    let same = first.replica(|f| f).await;
    let other = first
        .replica(|f| {
            f.merge((
                "medical.encryption_keys",
                format!("test1:{}", platform::crypto::generate_key()),
            ))
        })
        .await;
    let status = |url: String| {
        let http = first.http.clone();
        async move {
            let r = http.get(format!("{url}/ready")).send().await.expect("ready");
            let code = r.status().as_u16();
            (
                code,
                r.json::<serde_json::Value>().await.unwrap_or_default()["status"].clone(),
            )
        }
    };
    let mut refused = (0, serde_json::Value::Null);
    for _ in 0..50 {
        refused = status(other.url.clone()).await;
        if refused.0 == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        refused,
        (503, serde_json::json!("misconfigured")),
        "other keys under the same id"
    );
    assert_eq!(status(same.url.clone()).await.0, 200, "the same keys: ready");
    assert_eq!(status(first.url.clone()).await.0, 200, "the first instance stays ready");
    let printed: String = sqlx::query_scalar("select fingerprint from medical.key_fingerprints")
        .fetch_one(&first.admin)
        .await
        .expect("fingerprint");
    assert!(
        printed.len() == 64 && printed.bytes().all(|b| b.is_ascii_hexdigit()),
        "a SHA-256 fingerprint, never the key: {printed}"
    );
}
