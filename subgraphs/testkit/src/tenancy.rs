//! Tenancy at the database, read from PostgreSQL's catalog rather than from a
//! hand-kept list: every table of a subgraph schema has row-level security
//! enabled **and forced**; every table holding `organization_id` has the
//! standard tenant policy and, seen by the service's login role with no
//! tenant set, shows zero rows; and the tables without `organization_id` are
//! exactly the documented exceptions.

use sqlx::{PgPool, Row};

/// Tables that hold no `organization_id`, and why.
pub const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "identity.organizations",
        "the tenants themselves: a directory (id, slug, name, verticals) readable without a tenant so login can resolve a slug; only platform admins insert, only an org admin updates its own",
    ),
    (
        "identity.users",
        "accounts span organizations: a user row is visible to itself and to organizations it belongs to or is invited by",
    ),
];

/// Read policies beside the tenant policy, and why: (table, condition).
/// Each shows rows only with a user set, never with no scope at all.
pub const EXTRA_READ_POLICIES: &[(&str, &str, &str)] = &[(
    "identity.memberships",
    "user_id=current_app_user",
    "a user sees their own memberships, to end their sessions everywhere on a password change",
)];

/// What the catalog says about one table.
#[derive(Debug)]
pub struct TableReport {
    pub table: String,
    pub rows_as_admin: i64,
    pub rows_without_tenant: i64,
}

/// Asserts the rules above for `schema`, as seen by `login_role` (the
/// service's role: no BYPASSRLS), and returns what each tenant table holds.
pub async fn assert_schema(admin: &PgPool, schema: &str, login_role: &str) -> Vec<TableReport> {
    let tables = sqlx::query(
        "select c.relname::text as name, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
                exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organization_id'
                          and not a.attisdropped) as tenant
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relkind in ('r', 'p') and c.relname <> '_sqlx_migrations'
          order by 1",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .expect("catalog");
    assert!(!tables.is_empty(), "schema `{schema}` has no tables");
    let mut reports = vec![];
    for t in tables {
        let name: String = t.get("name");
        let qualified = format!("{schema}.{name}");
        assert!(
            t.get::<bool, _>("enabled") && t.get::<bool, _>("forced"),
            "{qualified}: row level security must be enabled and forced"
        );
        if !t.get::<bool, _>("tenant") {
            assert!(
                EXCEPTIONS.iter().any(|(e, _)| *e == qualified),
                "{qualified} holds no organization_id and is not a documented exception"
            );
            continue;
        }
        let policies: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "select policyname::text, permissive, qual, with_check from pg_policies where schemaname = $1 and tablename = $2",
        )
        .bind(schema)
        .bind(&name)
        .fetch_all(admin)
        .await
        .expect("policies");
        let tenant_policy = |expr: &Option<String>| {
            expr.as_deref()
                .map(|e| e.replace(&format!("{schema}."), "").replace(['(', ')', ' '], ""))
                .is_some_and(|e| e == "organization_id=current_org")
        };
        assert!(
            policies
                .iter()
                .any(|(_, p, q, c)| p == "PERMISSIVE" && tenant_policy(q) && tenant_policy(c)),
            "{qualified}: no standard tenant policy (call enable_tenancy): {policies:?}"
        );
        for (policy, permissive, qual, _) in &policies {
            let normalized = qual
                .as_deref()
                .map(|e| e.replace(&format!("{schema}."), "").replace(['(', ')', ' '], ""));
            let documented = EXTRA_READ_POLICIES
                .iter()
                .any(|(t, q, _)| *t == qualified && normalized.as_deref() == Some(*q));
            assert!(
                permissive != "PERMISSIVE" || tenant_policy(qual) || qual.is_none() || documented,
                "{qualified}: permissive policy {policy} lets rows through on `{qual:?}`"
            );
        }
        let rows_as_admin: i64 = sqlx::query_scalar(&format!("select count(*) from {qualified}"))
            .fetch_one(admin)
            .await
            .expect("count");
        let rows_without_tenant = count_as(admin, login_role, &qualified).await;
        assert_eq!(
            rows_without_tenant, 0,
            "{qualified}: {rows_without_tenant} of {rows_as_admin} rows visible with no tenant set"
        );
        reports.push(TableReport {
            table: qualified,
            rows_as_admin,
            rows_without_tenant,
        });
    }
    reports
}

/// `select count(*)` as `role`, with no tenant, user or roles set.
pub async fn count_as(admin: &PgPool, role: &str, table: &str) -> i64 {
    let mut tx = admin.begin().await.expect("begin");
    sqlx::raw_sql(&format!("set local role {role}"))
        .execute(&mut *tx)
        .await
        .expect("set role");
    let n = sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&mut *tx)
        .await
        .expect("count as the service role");
    tx.rollback().await.expect("rollback");
    n
}
