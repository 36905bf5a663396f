//! Who may see and do what in the public procurement vertical. Every guard
//! here also requires the organization to have the `public` vertical; the
//! row policies of `migrations/public` say the same at the database.

use async_graphql::{Context, Guard};
use platform::{access, AppError, AuthContext, Role, Vertical::Public};

pub use platform::roles::public::*;

/// Partner scope of e-procurement portals: published tenders and awarded contracts.
pub const READ: &[&str] = &["procurement:read"];

/// Reading guard: public vertical and one of the roles.
pub fn public<const N: usize>(roles: [Role; N]) -> impl Guard + Send + Sync {
    access::vertical(Public, roles)
}

/// Reading guard also open to partners holding `procurement:read`.
pub fn public_or_partner<const N: usize>(roles: [Role; N]) -> impl Guard + Send + Sync {
    access::vertical_or_scope(Public, roles, READ)
}

/// Writing guard: also refuses tokens whose revocation could not be checked.
pub fn public_write<const N: usize>(roles: [Role; N]) -> impl Guard + Send + Sync {
    access::vertical_write(Public, roles)
}

/// [`public_or_partner`] for entity resolvers.
pub fn require_or_partner<'a>(ctx: &Context<'a>, roles: &[Role]) -> Result<&'a AuthContext, AppError> {
    access::require_or_scope(ctx, Public, roles, READ)
}

/// [`public`] for entity resolvers and nested fields.
pub fn require<'a>(ctx: &Context<'a>, roles: &[Role]) -> Result<&'a AuthContext, AppError> {
    access::require(ctx, Public, roles)
}

pub fn can(ctx: &Context<'_>, roles: &[Role]) -> bool {
    access::can(ctx, Public, roles)
}
