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

// The member queries stay dynamic: `MemberRow` embeds a `User` with
// `#[sqlx(flatten)]`, which the compile-time macros cannot fill.

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
    let rows = sqlx::query!(
        "select user_id, roles from memberships where organization_id = current_org() and user_id = any($1)",
        users
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.roles)).collect())
}

/// Roles of one user in the current organization, locked for update.
pub async fn roles_for_update(conn: &mut PgConnection, user: Uuid) -> AppResult<Option<Vec<String>>> {
    Ok(sqlx::query_scalar!(
        r#"select roles from memberships where organization_id = current_org() and user_id = $1 for update"#,
        user
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, user: Uuid, roles: &[String]) -> AppResult<Uuid> {
    Ok(sqlx::query_scalar!(
        r#"insert into memberships (organization_id, user_id, roles) values ($1, $2, $3) returning id"#,
        org,
        user,
        roles
    )
    .fetch_one(conn)
    .await?)
}

pub async fn set_roles(conn: &mut PgConnection, user: Uuid, roles: &[String]) -> AppResult<()> {
    sqlx::query!(
        r#"update memberships set roles = $2,
            updated_at = now() where organization_id = current_org() and user_id = $1"#,
        user,
        roles
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut PgConnection, user: Uuid) -> AppResult<()> {
    sqlx::query!(
        r#"delete from memberships where organization_id = current_org() and user_id = $1"#,
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Org admins other than `except`, locking their rows so two concurrent
/// demotions cannot leave the organization without an administrator.
pub async fn other_admins(conn: &mut PgConnection, except: Uuid) -> AppResult<i64> {
    let ids: Vec<Uuid> = sqlx::query_scalar!(
        r#"select id from memberships
          where organization_id = current_org() and 'org_admin' = any(roles) and user_id <> $1
          for update"#,
        except
    )
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
    Ok(sqlx::query_as!(
        InvitationRow,
        r#"insert into invitations (organization_id, email, roles, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         returning id, email, roles, expires_at"#,
        org,
        email,
        roles,
        token_hash,
        invited_by,
        ttl_secs as f64
    )
    .fetch_one(conn)
    .await?)
}

/// Claims a pending, unexpired invitation (once).
pub async fn accept_invitation(conn: &mut PgConnection, token_hash: &[u8]) -> AppResult<Option<InvitationRow>> {
    Ok(sqlx::query_as!(
        InvitationRow,
        r#"update invitations set accepted_at = now(), updated_at = now()
          where token_hash = $1 and accepted_at is null and expires_at > now()
          returning id, email, roles, expires_at"#,
        token_hash
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn is_member_email(conn: &mut PgConnection, email: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from memberships m join users u on u.id = m.user_id
                        where m.organization_id = current_org() and u.email = $1) as "exists!""#,
        email
    )
    .fetch_one(conn)
    .await?)
}

/// The organizations a user belongs to; visible only with that user set as
/// `app.user_id` (policy `memberships_own`).
pub async fn organizations_of(conn: &mut PgConnection, user: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar!("select organization_id from memberships where user_id = $1", user)
            .fetch_all(conn)
            .await?,
    )
}
