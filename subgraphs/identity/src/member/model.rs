//! Members and invitations.

use async_graphql::{Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use platform::Role;
use uuid::Uuid;

use crate::user::model::User;

/// A user's membership in the current organization.
pub struct Member {
    pub id: Uuid,
    pub user: User,
    pub roles: Vec<Role>,
    pub joined_at: DateTime<Utc>,
}

/// A user's membership of an organization, with their roles there.
#[Object]
impl Member {
    /// Membership identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The member.
    async fn user(&self) -> &User {
        &self.user
    }
    /// Roles in this organization.
    async fn roles(&self) -> &[Role] {
        &self.roles
    }
    /// When the user joined.
    async fn joined_at(&self) -> DateTime<Utc> {
        self.joined_at
    }
}

/// A pending invitation; its secret link is only ever sent to the invitee.
#[derive(SimpleObject)]
pub struct Invitation {
    /// Invitation identifier.
    pub id: ID,
    /// Who is invited.
    pub email: String,
    /// Roles granted on acceptance.
    pub roles: Vec<Role>,
    /// After this the link no longer works.
    pub expires_at: DateTime<Utc>,
}
