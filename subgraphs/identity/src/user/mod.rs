//! Users: `me`, the `User` entity.

pub mod db;
pub mod erasure;
pub mod loader;
pub mod model;

use async_graphql::{Context, InputObject, Object, Result, ID};
use platform::{
    audit::{self, actor, Actor},
    db::{Loaded, Scope, TenantTx},
    guards::{auth, RevocationChecked, UserOnly},
    ids::parse_key,
    AppError, AppResult,
};

use loader::UserLoader;
use model::User;

/// The user's account, memberships (every organization), sessions and
/// notifications (this organization's), for their data export.
pub async fn personal_data(conn: &mut sqlx::PgConnection, user: uuid::Uuid) -> AppResult<serde_json::Value> {
    use platform::rgpd::json_rows;
    let account = json_rows(
        conn,
        "select to_jsonb(x) from (select id, email, display_name, locale, status, totp_enabled, created_at, updated_at
                                    from users where id = $1) x",
        user,
    )
    .await?;
    let memberships = json_rows(
        conn,
        "select to_jsonb(x) from (select o.slug as organization, o.name, m.roles, m.created_at as joined_at
                                    from memberships m join organizations o on o.id = m.organization_id
                                   where m.user_id = $1 order by m.created_at) x",
        user,
    )
    .await?;
    let sessions = json_rows(
        conn,
        "select to_jsonb(x) from (select id, amr, created_at, expires_at, revoked_at, revoked_reason
                                    from sessions where user_id = $1 order by created_at) x",
        user,
    )
    .await?;
    let notifications = json_rows(
        conn,
        "select to_jsonb(x) from (select kind, subject_type, subject_id, details, created_at, read_at
                                    from notifications where user_id = $1 order by created_at) x",
        user,
    )
    .await?;
    Ok(serde_json::json!({
        "account": account.get(0).cloned().unwrap_or_default(),
        "memberships": memberships,
        "sessions": sessions,
        "notifications": notifications,
    }))
}

/// Sign-in data of a user visible in the current scope (usually the caller).
pub async fn credentials_of(conn: &mut sqlx::PgConnection, id: uuid::Uuid) -> AppResult<db::Credentials> {
    db::credentials(conn, id).await?.ok_or(AppError::NotFound("user"))
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user.
    #[graphql(guard = "UserOnly")]
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let id = auth(ctx)?.user_id().ok_or(AppError::Forbidden)?;
        ctx.data::<Loaded<UserLoader>>()?
            .load_one(id)
            .await?
            .ok_or_else(|| AppError::NotFound("user").into())
    }

    // async-graphql ignores guards on entity resolvers: check here.
    // A reference to a user the caller's organization does not know (erased,
    // removed, or never one of its members) resolves to a tombstone, so the
    // appointment or note that names them still shows.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        auth(ctx)?;
        let Some(id) = parse_key(&id) else {
            return Ok(None);
        };
        Ok(Some(
            ctx.data::<Loaded<UserLoader>>()?
                .load_one(id)
                .await?
                .unwrap_or_else(|| User::tombstone(id)),
        ))
    }
}

/// What the signed-in user may change about themself; absent fields stay.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// The name others see (1 to 200 characters).
    pub display_name: Option<String>,
    /// The language of mails and messages: `en`, `fr` or `de`.
    pub locale: Option<String>,
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Erases an account on its owner's request (RGPD art. 17), in one
    /// call: the signed-in user's own (no `userId`), or, for an
    /// organization's administrator, a member who belongs to no other
    /// organization. Sessions end everywhere; name, e-mail, memberships,
    /// sessions, notifications go; the audit trail keeps the id only. The
    /// report says what went and what stays. Erasing one's own account
    /// takes the current password, and the TOTP code when the account has
    /// a second factor.
    #[graphql(guard = "UserOnly.and(RevocationChecked)")]
    async fn erase_user(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        #[graphql(desc = "Your current password: required to erase your own account.")] current_password: Option<
            String,
        >,
        #[graphql(desc = "A code of your authenticator app, when your account has a second factor.")] totp_code: Option<
            String,
        >,
    ) -> Result<platform::rgpd::ErasureReport> {
        let target = user_id.map(|id| platform::ids::parse_id("userId", &id)).transpose()?;
        let confirm = erasure::Confirmation {
            current_password,
            totp_code,
        };
        Ok(erasure::erase(ctx, target, confirm).await?)
    }

    /// Changes the signed-in user's name or language. Every organization
    /// they belong to hears of it (`identity.user.updated`).
    #[graphql(guard = "UserOnly.and(RevocationChecked)")]
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<User> {
        let st = crate::state(ctx)?;
        let caller = auth(ctx)?;
        let id = caller.user_id().ok_or(AppError::Forbidden)?;
        let name = match input.display_name.as_deref().map(str::trim) {
            Some(n) if n.is_empty() || n.chars().count() > 200 => {
                return Err(AppError::bad_input("displayName", "must be 1 to 200 characters").into())
            }
            other => other,
        };
        let locale = input
            .locale
            .as_deref()
            .map(crate::member::parse_locale)
            .transpose()?
            .map(|l| l.as_str());
        let mut changed = vec![];
        if name.is_some() {
            changed.push("displayName");
        }
        if locale.is_some() {
            changed.push("locale");
        }
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let (display_name, locale): (String, String) = sqlx::query_as(
            "update users set display_name = coalesce($2, display_name), locale = coalesce($3, locale), updated_at = now()
              where id = $1 returning display_name, locale",
        )
        .bind(id)
        .bind(name)
        .bind(locale)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound("user"))?;
        let me = actor(ctx)?;
        audit::record(
            &mut tx,
            &me,
            "user.update",
            "User",
            id,
            serde_json::json!({ "changed": changed }),
        )
        .await?;
        let user = db::by_ids(&mut tx, &[id])
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("user"))?;
        if !changed.is_empty() {
            // Each organization's event is written in its own tenant scope.
            for org in crate::member::db::organizations_of(&mut tx, id).await? {
                tx.rescope(&Scope {
                    organization_id: org,
                    user_id: Some(id),
                    ..Default::default()
                })
                .await?;
                let actor = Actor {
                    organization_id: org,
                    ..me.clone()
                };
                platform::events::emit(
                    &mut tx,
                    &actor,
                    platform::events::Event::new(
                        "identity.user.updated",
                        id,
                        serde_json::json!({ "userId": id, "displayName": display_name, "locale": locale, "changed": changed }),
                    ),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(user)
    }
}
