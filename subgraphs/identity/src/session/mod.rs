//! Sign-in and sessions: login, refresh rotation with reuse detection,
//! logout, switching organization.

pub mod db;

use std::time::Duration as StdDuration;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};
use platform::{
    audit::{self, Actor},
    db::{set_scope, Scope, TenantTx},
    guards::{auth, UserOnly},
    ids::parse_id,
    kv::KvError,
    mutation::{mutate, Audit},
    AppError, AppResult,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    member, mfa,
    organization::{self, model::Organization},
    password, state,
    tokens::{Grant, OpaqueToken},
    user::{
        self,
        model::{User, UserStatus},
    },
    State,
};
use db::RefreshUse;

pub const MAX_FAILURES: i32 = 5;
pub const LOCK_WINDOW_SECS: i64 = 15 * 60;

/// Tokens for a signed-in user in one organization.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for the `Authorization` header (JWT, short-lived).
    pub access_token: String,
    /// Single-use token to get the next pair; keep it secret.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// The signed-in user.
    pub user: User,
    /// The organization the tokens are scoped to.
    pub organization: Organization,
}

/// Credentials for `login`: the organization to sign in to, e-mail and password (and a TOTP code with MFA).
#[derive(InputObject)]
pub struct LoginInput {
    /// Organization slug, e.g. `clinique-saint-paul`.
    pub organization: String,
    pub email: String,
    pub password: String,
    /// Six-digit code, required when MFA is enabled.
    pub totp: Option<String>,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Signs in to one organization. Unknown organization, unknown email, wrong
    /// password and a locked account all answer the same.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let st = state(ctx)?;
        let email = input.email.trim().to_lowercase();
        let slug = input.organization.trim().to_lowercase();

        let mut conn = st.pool.acquire().await?;
        let org = organization::db::by_slug(&mut conn, &slug).await?;
        drop(conn);
        let Some(org) = org else {
            password::verify(&input.password, None).await;
            return Err(AppError::InvalidCredentials.into());
        };
        spray_guard(st, org.id, &email).await?;

        let scope = Scope {
            organization_id: org.id,
            user_id: None,
            roles: vec![],
            ..Default::default()
        };
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        let creds = user::db::member_credentials(&mut tx, &email).await?;
        let Some(creds) = creds else {
            password::verify(&input.password, None).await;
            count_failure(st, org.id, &email).await;
            return Err(AppError::InvalidCredentials.into());
        };
        let locked = creds.locked_until.is_some_and(|t| t > Utc::now());
        let password_ok = password::verify(&input.password, Some(&creds.password_hash)).await;
        if locked || creds.status != UserStatus::Active {
            count_failure(st, org.id, &email).await;
            return Err(AppError::InvalidCredentials.into());
        }
        if !password_ok {
            count_failure(st, org.id, &email).await;
            user::db::register_failure(&mut tx, creds.id, MAX_FAILURES, LOCK_WINDOW_SECS).await?;
            audit::record(
                &mut tx,
                &Actor::user(org.id, Some(creds.id), Some(ctx)),
                "login.failed",
                "User",
                creds.id,
                serde_json::json!({}),
            )
            .await?;
            tx.commit().await?;
            return Err(AppError::InvalidCredentials.into());
        }
        let mut amr = vec!["pwd".to_string()];
        if creds.totp_enabled {
            let code = input.totp.as_deref().map(str::trim).unwrap_or_default();
            if code.is_empty() {
                return Err(AppError::MfaRequired.into());
            }
            if !mfa::check_and_consume(&mut tx, &st.cipher, &creds, code).await? {
                user::db::register_failure(&mut tx, creds.id, MAX_FAILURES, LOCK_WINDOW_SECS).await?;
                tx.commit().await?;
                return Err(AppError::MfaRequired.into());
            }
            amr.push("otp".to_string());
        }
        user::db::clear_failures(&mut tx, creds.id).await?;
        let payload = start_session(&mut tx, st, &org, creds.id, amr, ctx).await?;
        tx.commit().await?;
        Ok(payload)
    }

    /// Exchanges a refresh token for a new pair. Each refresh token works once;
    /// presenting a used one again revokes the whole session.
    async fn refresh_token(&self, ctx: &Context<'_>, token: String) -> Result<AuthPayload> {
        let st = state(ctx)?;
        let token = OpaqueToken::parse(token.trim())?;
        let scope = Scope {
            organization_id: token.organization_id,
            user_id: None,
            roles: vec![],
            ..Default::default()
        };
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        let session_id = match db::use_refresh(&mut tx, &token.hash()).await? {
            RefreshUse::Fresh(s) => s,
            RefreshUse::Reused(s) => {
                tracing::warn!(session = %s, "refresh token reuse: revoking the session");
                db::revoke(&mut tx, s, "refresh_token_reuse").await?;
                announce(&mut tx, token.organization_id, &[s]).await?;
                audit::record(
                    &mut tx,
                    &Actor::user(token.organization_id, None, Some(ctx)),
                    "session.reuse_detected",
                    "Session",
                    s,
                    serde_json::json!({}),
                )
                .await?;
                tx.commit().await?;
                // The session is already dead for refreshes; this also
                // stops its access tokens early.
                revoke_in_kv(st, token.organization_id, &[s]).await;
                return Err(AppError::InvalidToken.into());
            }
            RefreshUse::Unknown => return Err(AppError::InvalidToken.into()),
        };
        let session = db::get(&mut tx, session_id).await?.ok_or(AppError::InvalidToken)?;
        if session.revoked_at.is_some() || session.expires_at <= Utc::now() {
            return Err(AppError::InvalidToken.into());
        }
        // Fresh roles and verticals: a role change takes effect at the next refresh at the latest.
        tx.rescope(&Scope {
            organization_id: token.organization_id,
            user_id: Some(session.user_id),
            roles: vec![],
            ..Default::default()
        })
        .await?;
        let org = load_org(&mut tx, token.organization_id).await?;
        let roles = member::db::roles_for_update(&mut tx, session.user_id)
            .await?
            .ok_or(AppError::InvalidToken)?;
        let user = load_user(&mut tx, session.user_id).await?;
        let creds = user::db::credentials(&mut tx, session.user_id).await?;
        if user.status != UserStatus::Active || !creds.as_ref().is_some_and(may_sign_in) {
            return Err(AppError::InvalidToken.into());
        }
        let actor = Actor::user(token.organization_id, Some(session.user_id), Some(ctx));
        audit::record(
            &mut tx,
            &actor,
            "session.refresh",
            "Session",
            session.id,
            serde_json::json!({}),
        )
        .await?;
        let payload = issue(
            &mut tx,
            st,
            org,
            user,
            member::roles_from_db(&roles),
            session.id,
            session.amr,
        )
        .await?;
        tx.commit().await?;
        Ok(payload)
    }

    /// Ends the current session: its refresh token stops working and its
    /// access tokens are refused from now on.
    #[graphql(guard = "UserOnly")]
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let sid = caller.session_id.ok_or(AppError::Forbidden)?;
        // Recorded with its event (every service's revocation feed reads
        // it); if Redis is down, the event waits in the outbox and the
        // logout takes effect everywhere once Redis is back.
        mutate(ctx, async |tx| {
            db::revoke(tx, sid, "logout").await?;
            Ok(((), Audit::new("logout", "Session", sid).event(revoked_event(&[sid]))))
        })
        .await?;
        revoke_in_kv(st, caller.organization_id, &[sid]).await;
        Ok(true)
    }

    /// New tokens for another organization the user belongs to.
    #[graphql(guard = "UserOnly")]
    async fn switch_organization(&self, ctx: &Context<'_>, organization_id: ID) -> Result<AuthPayload> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let user_id = caller.user_id().ok_or(AppError::Forbidden)?;
        let target = parse_id("organizationId", &organization_id)?;
        let scope = Scope {
            organization_id: target,
            user_id: Some(user_id),
            roles: vec![],
            ..Default::default()
        };
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        // Membership is checked in the target tenant's scope: not a member, not found.
        let roles = member::db::roles_for_update(&mut tx, user_id).await?;
        if roles.is_none() {
            return Err(AppError::NotFound("organization").into());
        }
        let creds = user::db::credentials(&mut tx, user_id).await?;
        if !creds.as_ref().is_some_and(may_sign_in) {
            return Err(AppError::InvalidCredentials.into());
        }
        let org = load_org(&mut tx, target).await?;
        let payload = start_session(&mut tx, st, &org, user_id, caller.amr.clone(), ctx).await?;
        tx.commit().await?;
        Ok(payload)
    }
}

async fn load_org(conn: &mut PgConnection, id: Uuid) -> AppResult<Organization> {
    organization::db::by_ids(conn, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("organization"))
}

async fn load_user(conn: &mut PgConnection, id: Uuid) -> AppResult<User> {
    user::db::by_ids(conn, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound("user"))
}

/// Opens a session for a member and returns its first token pair.
pub async fn start_session(
    tx: &mut TenantTx,
    st: &State,
    org: &Organization,
    user_id: Uuid,
    amr: Vec<String>,
    ctx: &Context<'_>,
) -> AppResult<AuthPayload> {
    tx.rescope(&Scope {
        organization_id: org.id,
        user_id: Some(user_id),
        roles: vec![],
        ..Default::default()
    })
    .await?;
    let roles = member::db::roles_for_update(tx, user_id)
        .await?
        .ok_or(AppError::InvalidCredentials)?;
    let user = load_user(tx, user_id).await?;
    let session = db::create(tx, org.id, user_id, &amr, st.identity.refresh_ttl_secs).await?;
    audit::record(
        tx,
        &Actor::user(org.id, Some(user_id), Some(ctx)),
        "login",
        "Session",
        session,
        serde_json::json!({ "amr": amr }),
    )
    .await?;
    issue(tx, st, org.clone(), user, member::roles_from_db(&roles), session, amr).await
}

async fn issue(
    conn: &mut PgConnection,
    st: &State,
    org: Organization,
    user: User,
    roles: Vec<platform::Role>,
    session: Uuid,
    amr: Vec<String>,
) -> AppResult<AuthPayload> {
    let refresh = OpaqueToken::generate(org.id);
    let refresh_expires = Utc::now() + Duration::seconds(st.identity.refresh_ttl_secs);
    db::insert_refresh(conn, org.id, session, &refresh.hash(), refresh_expires).await?;
    let (access_token, expires_at) = st.issuer.issue(Grant {
        subject: user.id,
        organization_id: org.id,
        roles,
        verticals: org.vertical_list(),
        session_id: Some(session),
        amr,
        client: None,
        scopes: vec![],
    })?;
    Ok(AuthPayload {
        access_token,
        refresh_token: refresh.value,
        expires_at,
        user,
        organization: org,
    })
}

/// Puts sessions on the revocation list until their last access token expires.
/// Without Redis configured (development) only the database revocation applies.
/// Ends every session of `user` in every organization they belong to (a
/// password change or reset), then scopes the transaction back to `home`.
/// The revocations reach Redis before the caller commits: if Redis cannot
/// take them, the change is refused rather than leave live tokens behind.
pub async fn end_everywhere(
    conn: &mut PgConnection,
    st: &State,
    user: Uuid,
    home: &Scope,
    reason: &str,
) -> AppResult<()> {
    let as_user = |org| Scope {
        organization_id: org,
        user_id: Some(user),
        roles: vec![],
        ..Default::default()
    };
    set_scope(conn, &as_user(home.organization_id)).await?;
    let mut ended = vec![];
    for org in member::db::organizations_of(conn, user).await? {
        set_scope(conn, &as_user(org)).await?;
        let sids = db::revoke_all_of_user(conn, user, reason).await?;
        announce(conn, org, &sids).await?;
        ended.push((org, sids));
    }
    set_scope(conn, home).await?;
    for (org, sids) in ended {
        revoke_in_kv(st, org, &sids).await;
    }
    Ok(())
}

/// `identity.session.revoked`: every service's revocation feed learns of
/// the ended sessions from it, at once, or once Redis is back.
pub fn revoked_event(sessions: &[Uuid]) -> platform::events::Event {
    platform::events::Event::new(
        platform::revocation::REVOKED_EVENT,
        sessions.first().copied().unwrap_or_default(),
        serde_json::json!({ "sessionIds": sessions }),
    )
}

/// Writes [`revoked_event`] in the transaction (scoped to `org`).
pub async fn announce(conn: &mut PgConnection, org: Uuid, sessions: &[Uuid]) -> AppResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let actor = Actor {
        organization_id: org,
        user_id: None,
        client_id: None,
        request_id: None,
    };
    platform::events::emit(conn, &actor, revoked_event(sessions)).await?;
    Ok(())
}

const ORG_FAILURES: &str = "failed-sign-ins";

/// The per-address counter of failed sign-ins in an organization: keyed by
/// a digest of the address, so Redis never holds it, and kept for known and
/// unknown addresses alike, so answers reveal no account's existence.
fn address_failures(email: &str) -> String {
    format!("{ORG_FAILURES}:{}", &platform::crypto::sha256_hex(email)[..32])
}

/// Password spraying (one guess against many accounts) never trips the
/// per-account lockout, so failures are also counted per organization. Past
/// the organization's limit the organization is under a spray, and each
/// address gets one guess per window: an address that failed in the window
/// waits (`RATE_LIMITED`), known or not, while a member whose address has
/// not failed signs in with their password as usual — strangers cannot
/// lock a clinic out. Without Redis the per-account lockout alone applies.
async fn spray_guard(st: &State, org: Uuid, email: &str) -> AppResult<()> {
    let Ok((n, _)) = st.kv.window_count(org, ORG_FAILURES).await else {
        return Ok(());
    };
    if n < st.identity.org_failed_sign_in_limit {
        return Ok(());
    }
    match st.kv.window_count(org, &address_failures(email)).await {
        Ok((failed, ttl)) if failed > 0 => {
            tracing::warn!(%org, failures = n, "sign-in held: the organization is under a password spray and this address failed");
            Err(AppError::RateLimited {
                retry_after_secs: ttl.max(1),
            })
        }
        _ => Ok(()),
    }
}

async fn count_failure(st: &State, org: Uuid, email: &str) {
    let window = StdDuration::from_secs(LOCK_WINDOW_SECS as u64);
    for name in [ORG_FAILURES.to_string(), address_failures(email)] {
        if let Err(e) = st.kv.count_in_window(org, &name, window).await {
            tracing::debug!(error = %e, "failed sign-in not counted");
        }
    }
}

/// Whether an account may start a session now (active and not locked).
pub fn may_sign_in(creds: &user::db::Credentials) -> bool {
    creds.status == UserStatus::Active && creds.locked_until.is_none_or(|t| t <= Utc::now())
}

/// Puts the sessions on Redis's revocation list at once (every service
/// looks tokens up there). If Redis cannot take them now, the
/// `identity.session.revoked` event written with the change carries them
/// to every service once Redis is back.
pub async fn revoke_in_kv(st: &State, org: Uuid, sessions: &[Uuid]) {
    let ttl = StdDuration::from_secs(st.settings.auth.access_token_ttl_secs + st.settings.auth.leeway_secs);
    for sid in sessions {
        match st.kv.revoke_session(org, *sid, ttl).await {
            Ok(()) => {}
            Err(KvError::NotConfigured) => {
                tracing::warn!("redis not configured: access tokens of revoked sessions stay valid until they expire");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "session revocation not on Redis yet: its event delivers it once Redis is back");
                return;
            }
        }
    }
}
