use chrono::{DateTime, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::user::{db::COLUMNS as USER_COLUMNS, model::User};

/// Keyset position in the member list.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct MemberCursor {
    pub joined_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: Uuid,
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub user: User,
}

/// One page of the current organization's members (`limit` rows, oldest first).
pub async fn page(conn: &mut PgConnection, after: Option<&MemberCursor>, limit: i64) -> AppResult<Vec<MemberRow>> {
    Ok(sqlx::query_as(&format!(
        "select m.id as membership_id, m.roles, m.created_at as joined_at, {USER_COLUMNS}
           from memberships m join users u on u.id = m.user_id
          where m.organization_id = current_org()
            and ($1::timestamptz is null or (m.created_at, m.id) > ($1, $2))
          order by m.created_at, m.id
          limit $3"
    ))
    .bind(after.map(|c| c.joined_at))
    .bind(after.map(|c| c.id))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn member(conn: &mut PgConnection, user: Uuid) -> AppResult<Option<MemberRow>> {
    Ok(sqlx::query_as(&format!(
        "select m.id as membership_id, m.roles, m.created_at as joined_at, {USER_COLUMNS}
           from memberships m join users u on u.id = m.user_id
          where m.organization_id = current_org() and m.user_id = $1"
    ))
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

pub async fn roles_of(conn: &mut PgConnection, users: &[Uuid]) -> AppResult<Vec<(Uuid, Vec<String>)>> {
    Ok(sqlx::query_as(
        "select user_id, roles from memberships where organization_id = current_org() and user_id = any($1)",
    )
    .bind(users)
    .fetch_all(conn)
    .await?)
}

/// Roles of one user in the current organization, locked for update.
pub async fn roles_for_update(conn: &mut PgConnection, user: Uuid) -> AppResult<Option<Vec<String>>> {
    Ok(sqlx::query_scalar(
        "select roles from memberships where organization_id = current_org() and user_id = $1 for update",
    )
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, user: Uuid, roles: &[String]) -> AppResult<Uuid> {
    Ok(
        sqlx::query_scalar(
            "insert into memberships (organization_id, user_id, roles) values ($1, $2, $3) returning id",
        )
        .bind(org)
        .bind(user)
        .bind(roles)
        .fetch_one(conn)
        .await?,
    )
}

pub async fn set_roles(conn: &mut PgConnection, user: Uuid, roles: &[String]) -> AppResult<()> {
    sqlx::query(
        "update memberships set roles = $2, updated_at = now() where organization_id = current_org() and user_id = $1",
    )
    .bind(user)
    .bind(roles)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, user: Uuid) -> AppResult<()> {
    sqlx::query("delete from memberships where organization_id = current_org() and user_id = $1")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Org admins other than `except`, locking their rows so two concurrent
/// demotions cannot leave the organization without an administrator.
pub async fn other_admins(conn: &mut PgConnection, except: Uuid) -> AppResult<i64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select id from memberships
          where organization_id = current_org() and 'org_admin' = any(roles) and user_id <> $1
          for update",
    )
    .bind(except)
    .fetch_all(conn)
    .await?;
    Ok(ids.len() as i64)
}

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_invitation(
    conn: &mut PgConnection,
    org: Uuid,
    email: &str,
    roles: &[String],
    token_hash: &[u8],
    invited_by: Option<Uuid>,
    ttl_secs: i64,
) -> AppResult<InvitationRow> {
    Ok(sqlx::query_as(
        "insert into invitations (organization_id, email, roles, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         returning id, email, roles, expires_at",
    )
    .bind(org)
    .bind(email)
    .bind(roles)
    .bind(token_hash)
    .bind(invited_by)
    .bind(ttl_secs as f64)
    .fetch_one(conn)
    .await?)
}

/// Claims a pending, unexpired invitation (once).
pub async fn accept_invitation(conn: &mut PgConnection, token_hash: &[u8]) -> AppResult<Option<InvitationRow>> {
    Ok(sqlx::query_as(
        "update invitations set accepted_at = now(), updated_at = now()
          where token_hash = $1 and accepted_at is null and expires_at > now()
          returning id, email, roles, expires_at",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?)
}

pub async fn is_member_email(conn: &mut PgConnection, email: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists(select 1 from memberships m join users u on u.id = m.user_id
                        where m.organization_id = current_org() and u.email = $1)",
    )
    .bind(email)
    .fetch_one(conn)
    .await?)
}

pub async fn outbox(conn: &mut PgConnection, org: Uuid, topic: &str, payload: serde_json::Value) -> AppResult<()> {
    sqlx::query("insert into outbox (organization_id, topic, payload) values ($1, $2, $3)")
        .bind(org)
        .bind(topic)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}
