use chrono::{DateTime, Utc};
use platform::crypto::Sealed;
use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::User;

pub const COLUMNS: &str = "u.id, u.email, u.display_name, u.locale, u.status, u.totp_enabled, u.created_at";

/// What sign-in needs to know about an account.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub password_hash: String,
    pub status: super::model::UserStatus,
    pub totp_secret_enc: Option<Vec<u8>>,
    pub totp_key_id: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Credentials {
    pub fn totp_sealed(&self) -> Option<Sealed> {
        Some(Sealed {
            data: self.totp_secret_enc.clone()?,
            key_id: self.totp_key_id.clone()?,
        })
    }
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select u.id, u.email, u.display_name, u.locale, u.status as "status: _", u.totp_enabled,
            u.created_at from users u where u.id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_email(conn: &mut PgConnection, email: &str) -> AppResult<Option<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select u.id, u.email, u.display_name, u.locale, u.status as "status: _", u.totp_enabled,
            u.created_at from users u where u.email = $1"#,
        email
    )
    .fetch_optional(conn)
    .await?)
}

/// The member of the current organization with this email, with credentials.
pub async fn member_credentials(conn: &mut PgConnection, email: &str) -> AppResult<Option<Credentials>> {
    Ok(sqlx::query_as!(
        Credentials,
        r#"select u.id, u.password_hash, u.status as "status: _", u.totp_secret_enc, u.totp_key_id, u.totp_enabled,
            u.totp_last_step, u.locked_until
           from users u join memberships m on m.user_id = u.id
          where u.email = $1 and m.organization_id = current_org()"#,
        email
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn credentials(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Credentials>> {
    Ok(sqlx::query_as!(
        Credentials,
        r#"select u.id, u.password_hash, u.status as "status: _", u.totp_secret_enc, u.totp_key_id, u.totp_enabled,
            u.totp_last_step, u.locked_until
           from users u where u.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// Counts a failed sign-in inside a sliding 15-minute window; the fifth
/// failure locks the account for 15 minutes. One statement, so concurrent
/// failures cannot under-count.
pub async fn register_failure(conn: &mut PgConnection, id: Uuid, max_failures: i32, window_secs: i64) -> AppResult<()> {
    sqlx::query!(
        r#"update users set
            failed_login_count = case when failed_login_window_start is null
                                        or failed_login_window_start < now() - make_interval(secs => $3)
                                      then 1 else failed_login_count + 1 end,
            failed_login_window_start = case when failed_login_window_start is null
                                        or failed_login_window_start < now() - make_interval(secs => $3)
                                      then now() else failed_login_window_start end,
            locked_until = case when failed_login_window_start >= now() - make_interval(secs => $3)
                                  and failed_login_count + 1 >= $2
                                then now() + make_interval(secs => $3) else locked_until end
          where id = $1"#,
        id,
        max_failures,
        window_secs as f64
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear_failures(conn: &mut PgConnection, id: Uuid) -> AppResult<()> {
    sqlx::query!(
        r#"update users set failed_login_count = 0, failed_login_window_start = null,
            locked_until = null where id = $1"#,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert(conn: &mut PgConnection, email: &str, display_name: &str, password_hash: &str) -> AppResult<Uuid> {
    Ok(sqlx::query_scalar!(
        r#"insert into users (email, display_name, password_hash) values ($1, $2, $3) returning id"#,
        email,
        display_name,
        password_hash
    )
    .fetch_one(conn)
    .await?)
}

pub async fn set_password(conn: &mut PgConnection, id: Uuid, password_hash: &str) -> AppResult<()> {
    sqlx::query!(
        r#"update users set password_hash = $2, updated_at = now(),
                failed_login_count = 0, failed_login_window_start = null, locked_until = null
          where id = $1"#,
        id,
        password_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_totp(conn: &mut PgConnection, id: Uuid, secret: Option<&Sealed>, enabled: bool) -> AppResult<()> {
    sqlx::query!(
        r#"update users set totp_secret_enc = $2, totp_key_id = $3, totp_enabled = $4, totp_last_step = null,
                updated_at = now()
          where id = $1"#,
        id,
        secret.map(|s| s.data.clone()),
        secret.map(|s| s.key_id.clone()),
        enabled
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the TOTP time step just used; false if it was already used (replay).
pub async fn consume_totp_step(conn: &mut PgConnection, id: Uuid, step: i64) -> AppResult<bool> {
    let n = sqlx::query!(
        r#"update users set totp_last_step = $2 where id = $1 and (totp_last_step is null or totp_last_step < $2)"#,
        id,
        step
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}
