use chrono::{DateTime, Utc};
use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amr: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn create(conn: &mut PgConnection, org: Uuid, user: Uuid, amr: &[String], ttl_secs: i64) -> AppResult<Uuid> {
    Ok(sqlx::query_scalar!(
        r#"insert into sessions (organization_id, user_id, amr, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4)) returning id"#,
        org,
        user,
        amr,
        ttl_secs as f64
    )
    .fetch_one(conn)
    .await?)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<SessionRow>> {
    Ok(sqlx::query_as!(
        SessionRow,
        r#"select id, user_id, amr, expires_at, revoked_at from sessions where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn insert_refresh(
    conn: &mut PgConnection,
    org: Uuid,
    session: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> AppResult<()> {
    sqlx::query!(
        r#"insert into refresh_tokens (organization_id, session_id, token_hash, expires_at) values ($1, $2,
            $3, $4)"#,
        org,
        session,
        hash,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub enum RefreshUse {
    /// First use: the session it belongs to.
    Fresh(Uuid),
    /// Already rotated: someone replayed it. The session is compromised.
    Reused(Uuid),
    Unknown,
}

/// Marks a refresh token used, atomically: of two concurrent uses exactly one
/// sees `Fresh` (the row lock serializes them), the other sees `Reused`.
pub async fn use_refresh(conn: &mut PgConnection, hash: &[u8]) -> AppResult<RefreshUse> {
    let fresh: Option<Uuid> = sqlx::query_scalar!(
        r#"update refresh_tokens set used_at = now()
          where token_hash = $1 and used_at is null and expires_at > now()
          returning session_id"#,
        hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(s) = fresh {
        return Ok(RefreshUse::Fresh(s));
    }
    let used = sqlx::query!(
        "select session_id, used_at from refresh_tokens where token_hash = $1",
        hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(match used {
        Some(r) if r.used_at.is_some() => RefreshUse::Reused(r.session_id),
        _ => RefreshUse::Unknown,
    })
}

pub async fn revoke(conn: &mut PgConnection, id: Uuid, reason: &str) -> AppResult<()> {
    sqlx::query!(
        r#"update sessions set revoked_at = coalesce(revoked_at, now()),
            revoked_reason = coalesce(revoked_reason, $2), updated_at = now() where id = $1"#,
        id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every live session of a user in the current organization; returns their ids.
pub async fn revoke_all_of_user(conn: &mut PgConnection, user: Uuid, reason: &str) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"update sessions set revoked_at = now(), revoked_reason = $2, updated_at = now()
          where organization_id = current_org() and user_id = $1 and revoked_at is null and expires_at > now()
          returning id"#,
        user,
        reason
    )
    .fetch_all(conn)
    .await?)
}
