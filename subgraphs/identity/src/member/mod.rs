//! Memberships: listing members, invitations, role changes, removal.

pub mod db;
pub mod model;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use platform::lists::list_page;
use platform::{
    audit::{self, actor, Actor},
    db::{Scope, TenantTx},
    guards::{auth, HasRole, RevocationChecked, UserOnly},
    i18n::Locale,
    ids::parse_id,
    AppError, AppResult, OnConstraint, Role,
};
use sqlx::PgConnection;

use crate::{
    organization::model::Organization,
    password,
    session::{self, AuthPayload},
    state,
    tokens::OpaqueToken,
    user, State,
};
use db::MemberCursor;
use model::{Invitation, Member};

pub fn roles_from_db(roles: &[String]) -> Vec<Role> {
    roles.iter().filter_map(|r| r.parse().ok()).collect()
}

fn roles_to_db(roles: &[Role]) -> Vec<String> {
    let mut v: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// One of the supported languages, or `BAD_USER_INPUT` on `locale`.
pub fn parse_locale(l: &str) -> AppResult<Locale> {
    platform::validate::locale("locale", l)
}

pub fn normalize_email(email: &str) -> AppResult<String> {
    platform::validate::email("email", email)
}

/// Roles an org admin may grant: never `PLATFORM_ADMIN`, and only roles of
/// verticals the organization has enabled.
fn check_grantable(roles: &[Role], org_verticals: &[platform::Vertical]) -> AppResult<()> {
    if roles.is_empty() {
        return Err(AppError::bad_input("roles", "give at least one role"));
    }
    for r in roles {
        if *r == Role::PlatformAdmin {
            return Err(AppError::bad_input("roles", "PLATFORM_ADMIN cannot be granted here"));
        }
        if let Some(v) = r.vertical() {
            if !org_verticals.contains(&v) {
                return Err(AppError::bad_input(
                    "roles",
                    format!("{r} needs the {} vertical", v.as_str()),
                ));
            }
        }
    }
    Ok(())
}

/// The current organization's members, as a Relay connection.
pub async fn list(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<OpaqueCursor<MemberCursor>, Member>> {
    list_page(
        ctx,
        first,
        after,
        async |c, after, n| db::page(c, after, n).await,
        |r| MemberCursor {
            joined_at: r.joined_at,
            id: r.membership_id,
        },
        |r| Member {
            id: r.membership_id,
            roles: roles_from_db(&r.roles),
            joined_at: r.joined_at,
            user: r.user,
        },
    )
    .await
}

/// Writes an invitation and the message that carries its secret link.
pub async fn create_invitation(
    conn: &mut PgConnection,
    st: &State,
    actor: &Actor,
    org: &Organization,
    email: &str,
    roles: &[Role],
    locale: Locale,
) -> AppResult<Invitation> {
    let token = OpaqueToken::generate(org.id);
    let row = db::insert_invitation(
        conn,
        org.id,
        email,
        &roles_to_db(roles),
        &token.hash(),
        actor.user_id,
        st.identity.invite_ttl_secs,
    )
    .await
    .on_constraint(&[("invitations_pending_email_key", || {
        AppError::Conflict("this email already has a pending invitation".into())
    })])?;
    crate::events::emit_with_secret(
        conn,
        &st.cipher,
        actor,
        "identity.invitation.created",
        row.id,
        serde_json::json!({
            "invitationId": row.id,
            "email": email,
            "roles": roles_to_db(roles),
            "expiresAt": row.expires_at,
            "organizationId": org.id,
            "organizationName": org.name,
            "organizationSlug": org.slug,
            "locale": locale.as_str(),
            "invitedBy": actor.user_id,
        }),
        &token.value,
    )
    .await?;
    audit::record(
        conn,
        actor,
        "invitation.create",
        "Invitation",
        row.id,
        serde_json::json!({ "email": email, "roles": roles_to_db(roles) }),
    )
    .await?;
    Ok(Invitation {
        id: ID(row.id.to_string()),
        email: row.email,
        roles: roles_from_db(&row.roles),
        expires_at: row.expires_at,
    })
}

/// Whom to invite into the caller's organization, and with which roles.
#[derive(InputObject)]
pub struct InviteUserInput {
    pub email: String,
    pub roles: Vec<Role>,
    /// The invitation mail's language (`en`, `fr`, `de`); by default the
    /// inviter's (`Accept-Language`).
    pub locale: Option<String>,
}

/// What an invitee sends to join: the invitation's token and, for a new account, their name and password.
#[derive(InputObject)]
pub struct AcceptInviteInput {
    /// The secret from the invitation message.
    pub token: String,
    /// For a new account: the name to show. Ignored for existing accounts.
    pub display_name: Option<String>,
    /// A new password for a new account, or the existing account's password.
    pub password: String,
}

#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// Members of the caller's organization, oldest first.
    #[graphql(guard = "UserOnly")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<MemberCursor>, Member>> {
        list(ctx, first, after).await
    }
}

#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Invites someone to the caller's organization (org admins).
    #[graphql(guard = "HasRole::any([Role::OrgAdmin]).and(RevocationChecked)")]
    async fn invite_user(&self, ctx: &Context<'_>, input: InviteUserInput) -> Result<Invitation> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let email = normalize_email(&input.email)?;
        check_grantable(&input.roles, &caller.verticals)?;
        let locale = match input.locale.as_deref() {
            Some(l) => parse_locale(l)?,
            None => ctx.data_opt::<Locale>().copied().unwrap_or_default(),
        };
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        if db::is_member_email(&mut tx, &email).await? {
            return Err(AppError::Conflict("this person is already a member".into()).into());
        }
        let org = crate::organization::db::by_ids(&mut tx, &[caller.organization_id])
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("organization"))?;
        let actor = actor(ctx)?;
        let inv = create_invitation(&mut tx, st, &actor, &org, &email, &input.roles, locale).await?;
        tx.commit().await?;
        Ok(inv)
    }

    /// Accepts an invitation: creates the account (or links an existing one,
    /// whose password proves ownership) and signs in.
    async fn accept_invite(&self, ctx: &Context<'_>, input: AcceptInviteInput) -> Result<AuthPayload> {
        let st = state(ctx)?;
        let token = OpaqueToken::parse(input.token.trim())?;
        let scope = Scope {
            organization_id: token.organization_id,
            user_id: None,
            roles: vec![],
            ..Default::default()
        };
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        // Read the user while the invitation is still pending: RLS shows an
        // existing account to the inviting organization only then.
        let pending_email = sqlx::query_scalar!(
            "select email from invitations where token_hash = $1 and accepted_at is null and expires_at > now()",
            &token.hash()
        )
        .fetch_optional(&mut *tx)
        .await?;
        let email = pending_email.ok_or(AppError::InvalidToken)?;
        let existing = user::db::by_email(&mut tx, &email).await?;
        let (user_id, display_name) = match existing {
            Some(u) => {
                let creds = user::db::credentials(&mut tx, u.id).await?;
                if !password::verify(&input.password, creds.as_ref().map(|c| c.password_hash.as_str())).await {
                    return Err(AppError::InvalidCredentials.into());
                }
                // A disabled or locked account joins nothing (and gets no session).
                if !creds.as_ref().is_some_and(session::may_sign_in) {
                    return Err(AppError::InvalidCredentials.into());
                }
                (u.id, u.display_name)
            }
            None => {
                let name = input.display_name.as_deref().map(str::trim).unwrap_or_default();
                if name.is_empty() || name.chars().count() > 200 {
                    return Err(AppError::bad_input("displayName", "must be 1 to 200 characters").into());
                }
                password::validate("password", &input.password)?;
                let hash = password::hash(&input.password).await?;
                (user::db::insert(&mut tx, &email, name, &hash).await?, name.to_string())
            }
        };
        let inv = db::accept_invitation(&mut tx, &token.hash())
            .await?
            .ok_or(AppError::InvalidToken)?;
        db::insert(&mut tx, token.organization_id, user_id, &inv.roles)
            .await
            .on_constraint(&[("memberships_org_user_key", || {
                AppError::Conflict("already a member".into())
            })])?;
        let joined = Actor::user(token.organization_id, Some(user_id), Some(ctx));
        crate::events::membership(
            &mut tx,
            &joined,
            "identity.membership.added",
            user_id,
            &inv.roles,
            Some(&display_name),
        )
        .await?;
        audit::record(
            &mut tx,
            &joined,
            "invitation.accept",
            "Invitation",
            inv.id,
            serde_json::json!({}),
        )
        .await?;
        let org = crate::organization::db::by_ids(&mut tx, &[token.organization_id])
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::InvalidToken)?;
        let payload = session::start_session(&mut tx, st, &org, user_id, vec!["pwd".into()], ctx).await?;
        tx.commit().await?;
        Ok(payload)
    }

    /// Replaces a member's roles (org admins). Their sessions end, so the
    /// change applies to their very next request.
    #[graphql(guard = "HasRole::any([Role::OrgAdmin]).and(RevocationChecked)")]
    async fn update_member_roles(&self, ctx: &Context<'_>, user_id: ID, roles: Vec<Role>) -> Result<Member> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let target = parse_id("userId", &user_id)?;
        check_grantable(&roles, &caller.verticals)?;
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let current = db::roles_for_update(&mut tx, target)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let was_admin = current.iter().any(|r| r == Role::OrgAdmin.as_str());
        if was_admin && !roles.contains(&Role::OrgAdmin) && db::other_admins(&mut tx, target).await? == 0 {
            return Err(AppError::Conflict("an organization keeps at least one ORG_ADMIN".into()).into());
        }
        let new_roles = roles_to_db(&roles);
        db::set_roles(&mut tx, target, &new_roles).await?;
        let actor = actor(ctx)?;
        audit::record(
            &mut tx,
            &actor,
            "member.update_roles",
            "User",
            target,
            serde_json::json!({ "from": current, "to": new_roles }),
        )
        .await?;
        end_sessions(&mut tx, st, caller.organization_id, target, "roles_changed").await?;
        let row = db::member(&mut tx, target).await?.ok_or(AppError::NotFound("member"))?;
        crate::events::membership(
            &mut tx,
            &actor,
            "identity.membership.roles_changed",
            target,
            &new_roles,
            Some(&row.user.display_name),
        )
        .await?;
        tx.commit().await?;
        Ok(Member {
            id: row.membership_id,
            roles: roles_from_db(&row.roles),
            joined_at: row.joined_at,
            user: row.user,
        })
    }

    /// Removes a member from the organization (org admins); their sessions end.
    #[graphql(guard = "HasRole::any([Role::OrgAdmin]).and(RevocationChecked)")]
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let target = parse_id("userId", &user_id)?;
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let current = db::roles_for_update(&mut tx, target)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        if current.iter().any(|r| r == Role::OrgAdmin.as_str()) && db::other_admins(&mut tx, target).await? == 0 {
            return Err(AppError::Conflict("an organization keeps at least one ORG_ADMIN".into()).into());
        }
        end_sessions(&mut tx, st, caller.organization_id, target, "member_removed").await?;
        db::delete(&mut tx, target).await?;
        let actor = actor(ctx)?;
        crate::events::membership(&mut tx, &actor, "identity.membership.removed", target, &current, None).await?;
        audit::record(
            &mut tx,
            &actor,
            "member.remove",
            "User",
            target,
            serde_json::json!({ "roles": current }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Revokes a member's sessions in the database and on the revocation list.
/// Redis is written before commit: if it is down the change is refused whole.
async fn end_sessions(tx: &mut TenantTx, st: &State, org: uuid::Uuid, user: uuid::Uuid, reason: &str) -> AppResult<()> {
    let sids = session::db::revoke_all_of_user(tx, user, reason).await?;
    session::announce(tx, org, &sids).await?;
    session::revoke_in_kv(st, org, &sids).await;
    Ok(())
}
