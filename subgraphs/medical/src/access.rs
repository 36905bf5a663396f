//! Who may see and do what in the medical vertical. Every guard here also
//! requires the organization to have the medical vertical enabled.

use async_graphql::{Context, Guard};
use platform::{access, AppError, AuthContext, Role, Vertical::Medical};

pub use platform::roles::medical::*;

/// Partner scopes: an insurer reads appointments (with patients' names and
/// practitioners) under `medical:read`, invoices under `medical:billing`;
/// nothing clinical or administrative beyond that is ever open to partners.
pub const READ: &[&str] = &["medical:read"];
pub const BILLING_SCOPE: &[&str] = &["medical:billing"];
/// Patients' names travel with the appointments and invoices partners read.
pub const EITHER: &[&str] = &["medical:read", "medical:billing"];

/// Reading guard open to partners holding one of `scopes` besides the roles.
pub fn medical_or<const N: usize>(roles: [Role; N], scopes: &'static [&'static str]) -> impl Guard + Send + Sync {
    access::vertical_or_scope(Medical, roles, scopes)
}

/// The same for entity resolvers.
pub fn require_or<'a>(ctx: &Context<'a>, roles: &[Role], scopes: &[&str]) -> Result<&'a AuthContext, AppError> {
    access::require_or_scope(ctx, Medical, roles, scopes)
}

/// Reading guard: medical vertical and one of the roles.
pub fn medical<const N: usize>(roles: [Role; N]) -> impl Guard + Send + Sync {
    access::vertical(Medical, roles)
}

/// Writing guard: also refuses tokens whose revocation could not be checked.
pub fn medical_write<const N: usize>(roles: [Role; N]) -> impl Guard + Send + Sync {
    access::vertical_write(Medical, roles)
}

/// The same check for places guards do not reach (entity resolvers).
pub fn require<'a>(ctx: &Context<'a>, roles: &[Role]) -> Result<&'a AuthContext, AppError> {
    access::require(ctx, Medical, roles)
}

pub fn can(ctx: &Context<'_>, roles: &[Role]) -> bool {
    access::can(ctx, Medical, roles)
}
