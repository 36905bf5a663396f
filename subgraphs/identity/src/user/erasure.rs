//! `eraseUser`: a user's erasure request (RGPD art. 17) in one call, by the
//! user themself or by the administrator of their only organization. Their
//! sessions end everywhere; their memberships, sessions, notifications,
//! password resets and invitations go; the account row stays (the audit
//! trail and records in other subgraphs name its id) with no name, no
//! e-mail and no way to sign in. Every organization they belonged to hears
//! `identity.membership.removed` and `identity.user.updated` (the name
//! becomes "Erased user"), so other subgraphs' copies of the name go too.

use async_graphql::Context;
use chrono::Utc;
use platform::{
    audit::{self, actor, Actor},
    db::{Scope, TenantTx},
    events::{emit, Event},
    guards::auth,
    rgpd::ErasureReport,
    AppError, AppResult, Role,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{member, session, state};

/// The name an erased user goes by.
pub const ERASED_NAME: &str = "Erased user";

fn rows(done: sqlx::postgres::PgQueryResult) -> i64 {
    i64::try_from(done.rows_affected()).unwrap_or(i64::MAX)
}

async fn delete(conn: &mut PgConnection, sql: &str, user: Uuid) -> AppResult<i64> {
    Ok(rows(sqlx::query(sql).bind(user).execute(conn).await?))
}

/// What the owner of an account proves before erasing it themself: a
/// bearer token alone (a stolen one, a left-open browser) must not be
/// enough for one irreversible call.
#[derive(Default)]
pub struct Confirmation {
    pub current_password: Option<String>,
    pub totp_code: Option<String>,
}

pub async fn erase(ctx: &Context<'_>, target: Option<Uuid>, confirm: Confirmation) -> AppResult<ErasureReport> {
    let st = state(ctx)?;
    let caller = auth(ctx)?;
    let me = caller.user_id().ok_or(AppError::Forbidden)?;
    let user = target.unwrap_or(me);
    let by_admin = user != me;
    let home = Scope::from(caller);
    let mut tx = TenantTx::begin(&st.pool, caller).await?;
    if !by_admin {
        if let Err(e) = confirm_owner(&mut tx, st, me, &confirm).await {
            audit::record(&mut tx, &actor(ctx)?, "user.erase_refused", "User", me, json!({})).await?;
            // The failure (and its count towards the lockout) is kept.
            tx.commit().await?;
            return Err(e);
        }
    }
    if by_admin {
        if !caller.has_role(Role::OrgAdmin) {
            return Err(AppError::Forbidden);
        }
        member::db::member(&mut tx, user)
            .await?
            .ok_or(AppError::NotFound("user"))?;
    }
    let as_user = |org| Scope {
        organization_id: org,
        user_id: Some(user),
        ..Default::default()
    };
    tx.rescope(&as_user(home.organization_id)).await?;
    let orgs = member::db::organizations_of(&mut tx, user).await?;
    if by_admin && orgs.iter().any(|o| *o != home.organization_id) {
        return Err(AppError::Conflict(
            "this user also belongs to other organizations: remove them from yours, or let them erase their account themself"
                .into(),
        ));
    }
    for org in &orgs {
        tx.rescope(&as_user(*org)).await?;
        let roles = member::db::roles_for_update(&mut tx, user).await?.unwrap_or_default();
        if roles.iter().any(|r| r == Role::OrgAdmin.as_str()) && member::db::other_admins(&mut tx, user).await? == 0 {
            return Err(AppError::Conflict(
                "the last administrator of an organization cannot be erased: appoint another administrator first"
                    .into(),
            ));
        }
    }
    tx.rescope(&as_user(home.organization_id)).await?;
    let email: String = sqlx::query_scalar("select email from users where id = $1")
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    session::end_everywhere(&mut tx, st, user, &as_user(home.organization_id), "erased").await?;

    let now = Utc::now();
    let me_actor = actor(ctx)?;
    let (mut sessions, mut notifications, mut links, mut mails, mut trail) = (0, 0, 0, 0, 0);
    for org in &orgs {
        tx.rescope(&as_user(*org)).await?;
        let c = &mut *tx;
        delete(
            c,
            "delete from refresh_tokens where session_id in (select id from sessions where user_id = $1)",
            user,
        )
        .await?;
        sessions += delete(c, "delete from sessions where user_id = $1", user).await?;
        links += delete(c, "delete from password_resets where user_id = $1", user).await?;
        notifications += delete(c, "delete from notifications where user_id = $1", user).await?;
        links += rows(
            sqlx::query("delete from invitations where email = $1")
                .bind(&email)
                .execute(&mut *c)
                .await?,
        );
        mails += platform::mail::forget_recipients(c, std::slice::from_ref(&email)).await?;
        trail +=
            sqlx::query_scalar::<_, i64>("select count(*) from audit_log where actor_user_id = $1 or entity_id = $1")
                .bind(user)
                .fetch_one(&mut *c)
                .await?;
        member::db::delete(c, user).await?;
        let here = Actor {
            organization_id: *org,
            ..me_actor.clone()
        };
        crate::events::membership(c, &here, "identity.membership.removed", user, &[], None).await?;
        emit(
            c,
            &here,
            Event::new(
                "identity.user.updated",
                user,
                json!({ "userId": user, "displayName": ERASED_NAME, "changed": ["displayName"], "erased": true }),
            ),
        )
        .await?;
        audit::record(
            c,
            &here,
            "user.erase",
            "User",
            user,
            json!({ "by": if by_admin { "org_admin" } else { "self" } }),
        )
        .await?;
    }
    // Last, while the row is still the scope's own user: no name, no
    // e-mail, no password, no second factor.
    tx.rescope(&as_user(home.organization_id)).await?;
    sqlx::query(
        "update users set email = 'erased-' || id || '@erased.invalid', display_name = $2, password_hash = '!erased',
                status = 'disabled', totp_secret_enc = null, totp_key_id = null, totp_enabled = false,
                totp_last_step = null, updated_at = now()
          where id = $1",
    )
    .bind(user)
    .bind(ERASED_NAME)
    .execute(&mut *tx)
    .await?;
    // Published events about them lose their address and name.
    let mut events: i64 = i64::from(
        sqlx::query_scalar::<_, i32>("select outbox_forget($1, $2)")
            .bind(user)
            .bind(&email)
            .fetch_one(&mut *tx)
            .await?,
    );
    tx.rescope(&home).await?;
    tx.commit().await?;
    // And so do the event streams (dead letters included). If Redis cannot
    // answer now, the streams' age limit removes them within
    // HUB_REDIS__EVENTS_RETENTION_HOURS.
    match platform::events::forget_in_streams(&st.kv, &st.settings.redis.events_prefix, user, Some(&email)).await {
        Ok(n) => events += i64::try_from(n).unwrap_or(i64::MAX),
        Err(e) => tracing::warn!(error = %e, "erasure: event streams not searched; their age limit applies"),
    }

    let memberships = i64::try_from(orgs.len()).unwrap_or(i64::MAX);
    let mut report = ErasureReport::new(user, now);
    report
        .add_erased("name, e-mail, password and second factor", 1)
        .add_erased("memberships", memberships)
        .add_erased("sessions", sessions)
        .add_erased("notifications", notifications)
        .add_erased("password resets and invitations", links)
        .add_erased("addresses in mail records", mails)
        .add_erased("name and address in published events", events)
        .add_audit_trail(trail + memberships);
    Ok(report)
}

/// The current password (as `changePassword` asks it), and the TOTP code
/// when the account has a second factor. A wrong password counts towards
/// the account's lockout like a failed sign-in.
async fn confirm_owner(tx: &mut TenantTx, st: &crate::State, me: Uuid, confirm: &Confirmation) -> AppResult<()> {
    let creds = crate::user::credentials_of(tx, me).await?;
    if let Some(until) = creds.locked_until.filter(|t| *t > Utc::now()) {
        let retry_after_secs = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(AppError::RateLimited { retry_after_secs });
    }
    let password = confirm
        .current_password
        .as_deref()
        .ok_or_else(|| AppError::bad_input("currentPassword", "is required to erase your own account"))?;
    if !crate::password::verify(password, Some(&creds.password_hash)).await {
        crate::user::db::register_failure(tx, me, session::MAX_FAILURES, session::LOCK_WINDOW_SECS).await?;
        return Err(AppError::bad_input("currentPassword", "is not your current password"));
    }
    if creds.totp_enabled {
        let code = confirm
            .totp_code
            .as_deref()
            .ok_or_else(|| AppError::bad_input("totpCode", "is required: your account has a second factor"))?;
        if !crate::mfa::check_and_consume(tx, &st.cipher, &creds, code).await? {
            crate::user::db::register_failure(tx, me, session::MAX_FAILURES, session::LOCK_WINDOW_SECS).await?;
            return Err(AppError::bad_input("totpCode", "is not a valid code"));
        }
    }
    Ok(())
}
