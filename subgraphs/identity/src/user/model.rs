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

/// What a reference to a user the caller's organization no longer knows
/// shows instead of their name.
pub const FORMER_MEMBER: &str = "Former member";

impl User {
    /// What a reference (an appointment's practitioner, a note's author)
    /// to an erased user or a removed member resolves to: the id the
    /// reference already holds and "Former member", nothing else — the
    /// same for an id of another organization or no user at all.
    pub fn tombstone(id: Uuid) -> Self {
        User {
            id,
            email: String::new(),
            display_name: FORMER_MEMBER.into(),
            locale: "en".into(),
            status: UserStatus::Disabled,
            totp_enabled: false,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    /// Every account has an address; a tombstone has none.
    pub fn is_tombstone(&self) -> bool {
        self.email.is_empty()
    }

    fn known(&self) -> Result<()> {
        if self.is_tombstone() {
            return Err(platform::AppError::NotFound("user").into());
        }
        Ok(())
    }
}

/// A person who signs in; their roles depend on the organization of the token.
#[Object]
impl User {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// True for a user the organization no longer knows (an erased account,
    /// a removed member): a tombstone whose name reads "Former member" and
    /// whose other details are not there.
    async fn erased(&self) -> bool {
        self.is_tombstone()
    }

    /// Sign-in email, lowercase. Never shown to partner tokens.
    #[graphql(guard = "UserOnly")]
    async fn email(&self) -> Result<&str> {
        self.known()?;
        Ok(&self.email)
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
    async fn created_at(&self) -> Result<DateTime<Utc>> {
        self.known()?;
        Ok(self.created_at)
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
