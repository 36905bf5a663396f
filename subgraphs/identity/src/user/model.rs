//! The `User` entity.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::{
    db::Loaded,
    guards::{auth, HasRole, UserOnly},
    Role,
};
use uuid::Uuid;

use super::loader::RolesLoader;

/// A person who can sign in. Visible to the organizations they belong to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub locale: String,
    pub status: UserStatus,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Whether a user may sign in.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

/// A person who signs in; their roles depend on the organization of the token.
#[Object]
impl User {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Sign-in email, lowercase. Never shown to partner tokens.
    #[graphql(guard = "UserOnly")]
    async fn email(&self) -> &str {
        &self.email
    }

    /// Name shown to other members.
    async fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Preferred language: `en`, `fr` or `de`.
    async fn locale(&self) -> &str {
        &self.locale
    }

    /// Whether the account may sign in.
    async fn status(&self) -> UserStatus {
        self.status
    }

    /// Whether TOTP is required at sign-in. Only the user themself can see it.
    async fn mfa_enabled(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        Ok((auth(ctx)?.user_id() == Some(self.id)).then_some(self.totp_enabled))
    }

    /// Roles in the caller's current organization.
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<Role>> {
        Ok(ctx
            .data::<Loaded<RolesLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors.
    #[graphql(guard = "HasRole::any(platform::audit::history::READERS)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "User", self.id, first, after).await?)
    }
}
