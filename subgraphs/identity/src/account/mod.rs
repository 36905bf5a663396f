//! Passwords: change, and reset by emailed link.

use async_graphql::{Context, Object, Result};
use chrono::Utc;
use platform::{
    audit::{self, actor, Actor},
    db::{Scope, TenantTx},
    guards::{auth, RevocationChecked, UserOnly},
    AppError,
};
use serde_json::json;

use crate::{organization, password, session, state, tokens::OpaqueToken, user};

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Changes the caller's password; the current one is required. Wrong
    /// current passwords count like failed sign-ins (five lock the account
    /// for 15 minutes). Every session of the user, in every organization,
    /// ends: sign in again with the new password.
    #[graphql(guard = "UserOnly.and(RevocationChecked)")]
    async fn change_password(&self, ctx: &Context<'_>, current_password: String, new_password: String) -> Result<bool> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let user_id = caller.user_id().ok_or(AppError::Forbidden)?;
        password::validate("newPassword", &new_password)?;
        // Not `mutate`: a wrong password must still commit its failure count.
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let creds = user::credentials_of(&mut tx, user_id).await?;
        if let Some(until) = creds.locked_until.filter(|t| *t > Utc::now()) {
            let retry_after_secs = (until - Utc::now()).num_seconds().max(1) as u64;
            return Err(AppError::RateLimited { retry_after_secs }.into());
        }
        if !password::verify(&current_password, Some(&creds.password_hash)).await {
            user::db::register_failure(&mut tx, user_id, session::MAX_FAILURES, session::LOCK_WINDOW_SECS).await?;
            audit::record(
                &mut tx,
                &actor(ctx)?,
                "password.change_failed",
                "User",
                user_id,
                json!({}),
            )
            .await?;
            tx.commit().await?;
            return Err(AppError::bad_input("currentPassword", "is not your current password").into());
        }
        let hash = password::hash(&new_password).await?;
        user::db::set_password(&mut tx, user_id, &hash).await?;
        session::end_everywhere(&mut tx, st, user_id, &Scope::from(caller), "password_changed").await?;
        audit::record(&mut tx, &actor(ctx)?, "password.change", "User", user_id, json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sends a reset link if the email belongs to a member of the organization.
    /// Always answers `true`, so it cannot be used to probe accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, organization: String, email: String) -> Result<bool> {
        let st = state(ctx)?;
        let email = email.trim().to_lowercase();
        let mut conn = st.pool.acquire().await?;
        let org = organization::db::by_slug(&mut conn, organization.trim()).await?;
        drop(conn);
        let Some(org) = org else { return Ok(true) };
        let mut tx = TenantTx::begin_scoped(
            &st.pool,
            &Scope {
                organization_id: org.id,
                user_id: None,
                roles: vec![],
                ..Default::default()
            },
        )
        .await?;
        let Some(creds) = user::db::member_credentials(&mut tx, &email).await? else {
            return Ok(true);
        };
        let token = OpaqueToken::generate(org.id);
        sqlx::query!(
            "insert into password_resets (organization_id, user_id, token_hash, expires_at)
             values ($1, $2, $3, now() + make_interval(secs => $4))",
            org.id,
            creds.id,
            &token.hash(),
            st.identity.reset_ttl_secs as f64
        )
        .execute(&mut *tx)
        .await?;
        let locale: String = sqlx::query_scalar("select locale from users where id = $1")
            .bind(creds.id)
            .fetch_one(&mut *tx)
            .await?;
        crate::events::emit_with_secret(
            &mut tx,
            &st.cipher,
            &Actor::user(org.id, Some(creds.id), Some(ctx)),
            "identity.password_reset.requested",
            creds.id,
            serde_json::json!({
                "userId": creds.id,
                "email": email,
                "organizationName": org.name,
                "organizationSlug": org.slug,
                "locale": locale,
                "ttlSeconds": st.identity.reset_ttl_secs,
            }),
            &token.value,
        )
        .await?;
        audit::record(
            &mut tx,
            &Actor::user(org.id, Some(creds.id), Some(ctx)),
            "password.reset_request",
            "User",
            creds.id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a new password with a reset token; ends the user's sessions in
    /// every organization they belong to.
    async fn reset_password(&self, ctx: &Context<'_>, token: String, new_password: String) -> Result<bool> {
        let st = state(ctx)?;
        let token = OpaqueToken::parse(token.trim())?;
        password::validate("newPassword", &new_password)?;
        let mut tx = TenantTx::begin_scoped(
            &st.pool,
            &Scope {
                organization_id: token.organization_id,
                user_id: None,
                roles: vec![],
                ..Default::default()
            },
        )
        .await?;
        let user_id = sqlx::query_scalar!(
            "update password_resets set used_at = now()
              where token_hash = $1 and used_at is null and expires_at > now()
              returning user_id",
            &token.hash()
        )
        .fetch_optional(&mut *tx)
        .await?;
        let user_id = user_id.ok_or(AppError::InvalidToken)?;
        let hash = password::hash(&new_password).await?;
        user::db::set_password(&mut tx, user_id, &hash).await?;
        let home = Scope {
            organization_id: token.organization_id,
            user_id: Some(user_id),
            roles: vec![],
            ..Default::default()
        };
        session::end_everywhere(&mut tx, st, user_id, &home, "password_reset").await?;
        audit::record(
            &mut tx,
            &Actor::user(token.organization_id, Some(user_id), Some(ctx)),
            "password.reset",
            "User",
            user_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
