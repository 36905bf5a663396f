//! Tenant isolation: a token of organization A with ids of organization B, on
//! root fields, nested fields and `_entities`; and RLS alone, guards bypassed.

use identity::{member, user};
use platform::db::{Scope, TenantTx};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, TestApp};

struct Two {
    app: TestApp,
    org_b: Uuid,
    user_b: Uuid,
    token_a: String,
}

async fn two_tenants() -> Two {
    let app = TestApp::spawn().await;
    let org_a = app.org("org-a", &["medical"]).await;
    let org_b = app.org("org-b", &["public"]).await;
    app.member(org_a, "admin@a.example", &["org_admin"]).await;
    let user_b = app.member(org_b, "admin@b.example", &["org_admin"]).await;
    app.member(org_b, "buyer@b.example", &["procurement_officer"]).await;
    let token_a = app.token("org-a", "admin@a.example").await;
    Two {
        app,
        org_b,
        user_b,
        token_a,
    }
}

#[tokio::test]
async fn root_fields_show_another_organization_only_by_name() {
    let t = two_tenants().await;
    let r = t
        .app
        .gql(
            "query($id: ID!) { organization(id: $id) { id slug name } }",
            json!({ "id": t.org_b.to_string() }),
            Some(&t.token_a),
        )
        .await;
    assert_eq!(
        r["data"]["organization"],
        json!({ "id": t.org_b.to_string(), "slug": "org-b", "name": "Org org-b" })
    );
    let r = t
        .app
        .gql(
            "query($id: ID!) { organization(id: $id) { verticals } }",
            json!({ "id": t.org_b.to_string() }),
            Some(&t.token_a),
        )
        .await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    assert!(r["data"].is_null() || r["data"]["organization"].is_null(), "{r}");
    let r = t
        .app
        .gql(
            "{ members(first: 100) { edges { node { user { email } } } } }",
            json!({}),
            Some(&t.token_a),
        )
        .await;
    let emails: Vec<&str> = r["data"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["admin@a.example"]);
}

#[tokio::test]
async fn nested_fields_of_another_organization_are_not_found() {
    let t = two_tenants().await;
    let r = t
        .app
        .gql(
            "query($id: ID!) { organization(id: $id) { name members { edges { node { user { email } } } } } }",
            json!({ "id": t.org_b.to_string() }),
            Some(&t.token_a),
        )
        .await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    assert!(!r.to_string().contains("@b.example"), "{r}");
}

#[tokio::test]
async fn mutations_with_another_organizations_ids_find_nothing_and_change_nothing() {
    let t = two_tenants().await;
    let q = "mutation($u: ID!) { updateMemberRoles(userId: $u, roles: [AUDITOR]) { roles } }";
    assert_eq!(
        code(
            &t.app
                .gql(q, json!({ "u": t.user_b.to_string() }), Some(&t.token_a))
                .await
        ),
        Some("NOT_FOUND")
    );
    let q = "mutation($u: ID!) { removeMember(userId: $u) }";
    assert_eq!(
        code(
            &t.app
                .gql(q, json!({ "u": t.user_b.to_string() }), Some(&t.token_a))
                .await
        ),
        Some("NOT_FOUND")
    );
    let roles: Vec<String> = sqlx::query_scalar("select roles from identity.memberships where user_id = $1")
        .bind(t.user_b)
        .fetch_one(&t.app.admin)
        .await
        .unwrap();
    assert_eq!(roles, vec!["org_admin"]);
}

#[tokio::test]
async fn entities_of_another_organization_resolve_to_tombstones_and_public_names() {
    let t = two_tenants().await;
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } ... on Organization { id name } } }";
    let reps = json!([{ "__typename": "User", "id": t.user_b.to_string() }, { "__typename": "Organization", "id": t.org_b.to_string() }]);
    let r = t.app.gql(q, json!({ "r": reps }), Some(&t.token_a)).await;
    // The user of B is a tombstone to A: no address (NOT_FOUND), nothing but
    // the id A already gave.
    assert!(r["data"]["_entities"][0]["email"].is_null(), "{r}");
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    assert!(!r.to_string().contains("@"), "no address leaks: {r}");
    assert_eq!(
        r["data"]["_entities"][1],
        json!({ "id": t.org_b.to_string(), "name": "Org org-b" })
    );
    // Anonymous callers get nothing at all.
    let r = t.app.gql(q, json!({ "r": reps }), None).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
}

#[tokio::test]
async fn row_level_security_alone_hides_other_tenants_when_guards_are_bypassed() {
    let t = two_tenants().await;
    let org_a: Uuid = sqlx::query_scalar("select id from identity.organizations where slug = 'org-a'")
        .fetch_one(&t.app.admin)
        .await
        .unwrap();
    let pool = &t.app.state.pool;
    // Straight to the database functions, scoped to A: no resolver, no guard.
    let scope = Scope {
        organization_id: org_a,
        user_id: None,
        roles: vec![],
        ..Default::default()
    };
    let mut tx = TenantTx::begin_scoped(pool, &scope).await.unwrap();
    assert!(user::db::by_ids(&mut tx, &[t.user_b]).await.unwrap().is_empty());
    assert!(user::db::by_email(&mut tx, "admin@b.example").await.unwrap().is_none());
    let members = member::db::page(&mut tx, None, 100).await.unwrap();
    assert_eq!(members.len(), 1);
    // Even a query that names B explicitly sees none of its rows.
    let n: i64 = sqlx::query_scalar("select count(*) from memberships where organization_id = $1")
        .bind(t.org_b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // And writing into B is refused by the policy's WITH CHECK.
    let err = sqlx::query(
        "insert into audit_log (organization_id, action, entity_type, entity_id) values ($1, 'x', 'y', $1)",
    )
    .bind(t.org_b)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn with_no_tenant_set_the_service_role_sees_zero_rows() {
    let t = two_tenants().await;
    let mut conn = t.app.state.pool.acquire().await.unwrap();
    for table in [
        "memberships",
        "users",
        "sessions",
        "refresh_tokens",
        "audit_log",
        "partner_clients",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} leaks rows without a tenant");
    }
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(!superuser && !bypass, "the service role must not bypass RLS");
    let owns: i64 = sqlx::query_scalar(
        "select count(*) from pg_tables where schemaname = 'identity' and tableowner = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(owns, 0, "the service role owns no table");
}

#[tokio::test]
async fn a_reference_to_a_user_the_organization_does_not_know_is_a_tombstone_that_tells_nothing() {
    let t = two_tenants().await;
    let q =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id displayName erased status roles } } }";
    // Another organization's user and an id that is nobody's: the same answer.
    for id in [t.user_b, Uuid::new_v4()] {
        let r = t
            .app
            .gql(
                q,
                json!({ "r": [{ "__typename": "User", "id": id.to_string() }] }),
                Some(&t.token_a),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        assert_eq!(
            r["data"]["_entities"][0],
            json!({ "id": id.to_string(), "displayName": "Former member", "erased": true, "status": "DISABLED", "roles": [] }),
            "{r}"
        );
    }
    // Nothing else of them answers: their address is not there.
    let r = t
        .app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email } } }",
            json!({ "r": [{ "__typename": "User", "id": t.user_b.to_string() }] }),
            Some(&t.token_a),
        )
        .await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    // A member the organization knows is no tombstone.
    let r = t
        .app
        .gql("{ me { erased displayName } }", json!({}), Some(&t.token_a))
        .await;
    assert_eq!(r["data"]["me"]["erased"], false, "{r}");
}
