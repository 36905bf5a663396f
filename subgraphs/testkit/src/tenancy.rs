//! Tenancy at the database, read from PostgreSQL's catalog rather than from a
//! hand-kept list: every table of a subgraph schema has row-level security
//! enabled **and forced**; every table holding `organization_id` has the
//! standard tenant policy and, seen by the service's login role with no
//! tenant set, shows zero rows; and the tables without `organization_id` are
//! exactly the documented exceptions.

use sqlx::{PgPool, Row};
use uuid::Uuid;

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

/// Policies beside the tenant policy, and why: (table, condition as the
/// catalog spells it without spaces and parentheses). Each shows rows only
/// with a scope set (a user, or the vertical), never with no scope at all.
pub const EXTRA_READ_POLICIES: &[(&str, &str, &str)] = &[
    (
        "identity.notifications",
        "user_id=current_app_user",
        "a user reads and marks their own notifications, whichever organization sent them",
    ),
    (
        "identity.memberships",
        "user_id=current_app_user",
        "a user sees their own memberships, to end their sessions everywhere on a password change",
    ),
    (
        "procurement.tenders",
        "status<>'draft'::textANDhas_vertical'public'::text",
        "published tenders are read by every organization of the public vertical; drafts by their buyer only",
    ),
    (
        "procurement.lots",
        "EXISTSSELECT1FROMtenderstWHEREt.organization_id=lots.organization_idANDt.id=lots.tender_id",
        "a tender's lots are read by whoever reads the tender",
    ),
    (
        "procurement.amendments",
        "EXISTSSELECT1FROMtenderstWHEREt.organization_id=amendments.organization_idANDt.id=amendments.tender_id",
        "a tender's amendments are read by whoever reads the tender",
    ),
    (
        "procurement.buyers",
        "has_vertical'public'::text",
        "a buyer's published name and identifier (OCDS party): the vertical",
    ),
    (
        "procurement.suppliers",
        "has_vertical'public'::text",
        "supplier profiles (registration number, certification level): the vertical",
    ),
    (
        "procurement.supplier_tax_ids",
        "has_vertical'public'::textANDhas_app_role'procurement_officer'::text",
        "a supplier's tax id: the supplier and buyers' procurement officers",
    ),
    (
        "procurement.compliance_documents",
        "has_vertical'public'::textANDhas_app_role'procurement_officer'::text",
        "a supplier's compliance documents: the supplier and buyers' procurement officers",
    ),
    (
        "procurement.bids",
        "buyer_id=current_orgANDhas_app_role'procurement_officer'::textANDstatus<>'draft'::textANDtender_openedbuyer_id,tender_id",
        "sealed bids: the buyer's procurement officers decide on submitted bids once the deadline has passed",
    ),
    (
        "procurement.bids",
        "buyer_id=current_orgANDhas_app_role'procurement_officer'::textORhas_app_role'org_admin'::textORhas_app_role'auditor'::textANDstatus<>'draft'::textANDtender_openedbuyer_id,tender_id",
        "sealed bids: the buyer's procurement officers, administrators and auditors read submitted bids once the deadline has passed",
    ),
    (
        "procurement.bids",
        "true",
        "bids_counted_by_owner: only the schema owner, for the bid_counts() function (counts are public, bids are not); the service role never has it",
    ),
    (
        "procurement.awards",
        "has_vertical'public'::text",
        "awards are public-interest data (OCDS): the vertical",
    ),
    (
        "procurement.contracts",
        "has_vertical'public'::text",
        "contracts are public-interest data (OCDS): the vertical",
    ),
    (
        "procurement.releases",
        "has_vertical'public'::text",
        "OCDS releases are public by construction (nothing sealed is written into them)",
    ),
    (
        "content.documents",
        "classification=ANYARRAY['procurement_public'::text,'compliance'::text]ANDhas_vertical'public'::textANDvouchedorganization_id,owner_id",
        "a published tender's public documents and a supplier's certificates, for owners the router vouched for in the request (app.vouched_owners); the restrictive documents_by_classification policy then applies the role rule",
    ),
    (
        "content.document_versions",
        "EXISTSSELECT1FROMdocumentsdWHEREd.organization_id=document_versions.organization_idANDd.id=document_versions.document_id",
        "a version is read by whoever reads its document",
    ),
    (
        "identity.event_outbox",
        "true",
        "event_outbox_relayed_by_owner: only the schema owner, for the event relay's functions; the service role never has it",
    ),
    (
        "content.event_outbox",
        "true",
        "event_outbox_relayed_by_owner: only the schema owner, for the event relay's functions; the service role never has it",
    ),
    (
        "medical.event_outbox",
        "true",
        "event_outbox_relayed_by_owner: only the schema owner, for the event relay's functions; the service role never has it",
    ),
    (
        "identity.read_log",
        "true",
        "read_log_sealed_by_owner: only the schema owner, for read_log_seal() (sealing reads into the audit chains) and read_log_unsealed() (counting what is left for /metrics); the service role never has it",
    ),
    (
        "content.read_log",
        "true",
        "read_log_sealed_by_owner: only the schema owner, for read_log_seal() (sealing reads into the audit chains) and read_log_unsealed() (counting what is left for /metrics); the service role never has it",
    ),
    (
        "medical.read_log",
        "true",
        "read_log_sealed_by_owner: only the schema owner, for read_log_seal() (sealing reads into the audit chains) and read_log_unsealed() (counting what is left for /metrics); the service role never has it",
    ),
    (
        "procurement.read_log",
        "true",
        "read_log_sealed_by_owner: only the schema owner, for read_log_seal() (sealing reads into the audit chains) and read_log_unsealed() (counting what is left for /metrics); the service role never has it",
    ),
    (
        "procurement.tender_followers",
        "true",
        "tender_followers_read_by_owner: only the schema owner, for tender_audience() (who hears of a tender); the service role never has it",
    ),
    (
        "procurement.tenders",
        "true",
        "tenders_reminded_by_owner: only the schema owner, for claim_deadline_reminders(); the service role never has it",
    ),
    (
        "procurement.event_outbox",
        "true",
        "event_outbox_relayed_by_owner: only the schema owner, for the event relay's functions; the service role never has it",
    ),
    (
        "content.document_versions",
        "true",
        "versions_swept_by_owner: only the schema owner, for the expired-upload sweep functions; the service role never has it",
    ),
    (
        "content.documents",
        "true",
        "documents_purged_by_owner: only the schema owner, for the purge functions (purgeable_documents, forget_document); the service role never has it",
    ),
];

/// References from one organization's row to another organization's row,
/// by design, and why: (table, constraint). Every other reference between
/// tenant tables carries `organization_id` on both sides.
pub const CROSS_ORGANIZATION_REFERENCES: &[(&str, &str, &str)] = &[
    (
        "procurement.bids",
        "bids_tender_fkey",
        "a supplier's bid names the buyer's tender by (buyer_id, tender_id): its buyer_id is the tender's own buyer",
    ),
    (
        "procurement.bids",
        "bids_lot_fkey",
        "a bid's lot is a lot of the bid's tender (tender_id, lot_id)",
    ),
    (
        "procurement.awards",
        "awards_bid_fkey",
        "the buyer's award names the winning supplier's bid by (supplier_id, bid_id)",
    ),
];

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
          where n.nspname = $1 and c.relkind in ('r', 'p')
            and c.relname not in ('_sqlx_migrations', 'platform_migrations', 'key_fingerprints', 'retention_passes')
          order by 1",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .expect("catalog");
    assert!(!tables.is_empty(), "schema `{schema}` has no tables");
    // Owner-only: migration history, key fingerprints (reached through
    // `agree_key` alone) and the retention passes (the retention job's).
    for history in [
        "_sqlx_migrations",
        "platform_migrations",
        "key_fingerprints",
        "retention_passes",
    ] {
        let reachable: bool = sqlx::query_scalar(
            "select has_table_privilege($1, format('%I.%I', $2::text, $3::text), 'select, insert, update, delete')",
        )
        .bind(login_role)
        .bind(schema)
        .bind(history)
        .fetch_one(admin)
        .await
        .expect("privileges");
        assert!(
            !reachable,
            "{schema}.{history}: the service role {login_role} can reach the migration history"
        );
    }
    assert_definer_functions(admin, schema).await;
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
                .map(|e| normalize(e, schema))
                .is_some_and(|e| e == "organization_id=current_org")
        };
        assert!(
            policies
                .iter()
                .any(|(_, p, q, c)| p == "PERMISSIVE" && tenant_policy(q) && tenant_policy(c)),
            "{qualified}: no standard tenant policy (call enable_tenancy): {policies:?}"
        );
        for (policy, permissive, qual, _) in &policies {
            let normalized = qual.as_deref().map(|e| normalize(e, schema));
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

/// Every `security definer` function of `schema` runs with the owner's
/// rights, so it fixes its search path to the schema itself with `pg_temp`
/// last: otherwise a caller's temporary objects (searched first when not
/// named) could stand in for the schema's tables or functions.
pub async fn assert_definer_functions(admin: &PgPool, schema: &str) {
    let functions: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "select p.oid::regprocedure::text, p.proconfig::text[]
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = $1 and p.prosecdef order by 1",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .expect("catalog");
    for (function, config) in functions {
        let path = config
            .unwrap_or_default()
            .into_iter()
            .find_map(|c| c.strip_prefix("search_path=").map(str::to_string));
        let Some(path) = path else {
            panic!("{function}: security definer without a fixed search_path (set search_path = {schema}, pg_temp)")
        };
        assert!(
            definer_path_ok(&path, schema),
            "{function}: security definer with search_path `{path}`: it must be `{schema}, pg_temp` (the schema, pg_temp last)"
        );
    }
}

/// `search_path` as PostgreSQL records it: the schema, then `pg_temp`
/// last, and nothing a caller could create objects in.
fn definer_path_ok(path: &str, schema: &str) -> bool {
    let parts: Vec<String> = path
        .split(',')
        .map(|p| p.trim().trim_matches('"').to_string())
        .collect();
    parts.last().is_some_and(|p| p == "pg_temp")
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p == schema || p == "pg_catalog")
        && parts.iter().any(|p| p == schema)
}

/// A policy condition without the schema, parentheses and whitespace.
fn normalize(expr: &str, schema: &str) -> String {
    expr.replace(&format!("{schema}."), "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect()
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

/// `select count(*)` of `sql` as the service's login role `login`, scoped
/// like a caller of `org` with `roles` and `verticals` (comma-separated):
/// the row policies alone, the guards out of the way.
pub async fn count_scoped(
    admin: &PgPool,
    login: &str,
    org: Uuid,
    user: Uuid,
    roles: &str,
    verticals: &str,
    sql: &str,
) -> i64 {
    let mut tx = admin.begin().await.expect("begin");
    sqlx::raw_sql(&format!(
        "set local role {login}; select set_config('app.organization_id', '{org}', true),
         set_config('app.user_id', '{user}', true), set_config('app.roles', '{roles}', true),
         set_config('app.verticals', '{verticals}', true)"
    ))
    .execute(&mut *tx)
    .await
    .expect("scope");
    let n = sqlx::query_scalar(sql)
        .fetch_one(&mut *tx)
        .await
        .expect("count as the service");
    tx.rollback().await.expect("rollback");
    n
}

#[cfg(test)]
mod tests {
    use super::definer_path_ok;

    #[test]
    fn a_definer_search_path_is_the_schema_with_pg_temp_last() {
        assert!(definer_path_ok("medical, pg_temp", "medical"));
        assert!(definer_path_ok("\"medical\", pg_temp", "medical"));
        assert!(definer_path_ok("pg_catalog, medical, pg_temp", "medical"));
        assert!(!definer_path_ok("medical", "medical"));
        assert!(!definer_path_ok("pg_temp, medical", "medical"));
        assert!(!definer_path_ok("medical, public, pg_temp", "medical"));
        assert!(!definer_path_ok("\"$user\", public", "medical"));
        assert!(!definer_path_ok("pg_temp", "medical"));
    }
}
