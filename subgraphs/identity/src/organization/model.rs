//! The `Organization` entity: a tenant.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, Object, Result, ID,
};
use chrono::{DateTime, Utc};
use platform::{
    guards::{Authenticated, HasRole, SameTenant, UserOnly},
    Vertical,
};
use uuid::Uuid;

use crate::member::{self, model::Member};

/// An organization (tenant). Name and slug are visible to any signed-in
/// caller; everything else only to its members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub verticals: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl Organization {
    pub fn vertical_list(&self) -> Vec<Vertical> {
        self.verticals.iter().filter_map(|v| v.parse().ok()).collect()
    }
}

#[Object]
impl Organization {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// URL-safe unique name, used to sign in (`clinique-saint-paul`).
    #[graphql(guard = "Authenticated")]
    async fn slug(&self) -> &str {
        &self.slug
    }

    /// Display name.
    #[graphql(guard = "Authenticated")]
    async fn name(&self) -> &str {
        &self.name
    }

    /// Verticals enabled for this organization. Members only.
    #[graphql(guard = "SameTenant(self.id)")]
    async fn verticals(&self) -> Vec<Vertical> {
        self.vertical_list()
    }

    /// When the organization was created. Members only.
    #[graphql(guard = "SameTenant(self.id)")]
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The organization's members, oldest first. Members only: never partner tokens.
    #[graphql(guard = "SameTenant(self.id).and(UserOnly)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<member::db::MemberCursor>, Member>> {
        member::list(ctx, first, after).await
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors (of their own organization).
    #[graphql(guard = "SameTenant(self.id).and(HasRole::any(platform::audit::history::READERS))")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Organization", self.id, first, after).await?)
    }
}
