//! Access checks for places guards cannot reach. async-graphql does not run
//! field guards on `#[graphql(entity)]` resolvers, so every entity resolver
//! calls [`require`] with the same policy its fields' guards express.

use async_graphql::{Context, Guard, GuardExt};

use crate::{
    foundation::error::AppError,
    security::auth::{AuthContext, Role, Vertical},
    security::guards::{auth, HasRole, PartnerScope, RevocationChecked, VerticalEnabled},
};

/// Reading guard of a vertical: the organization has it and the caller holds one of the roles.
pub fn vertical<const N: usize>(v: Vertical, roles: [Role; N]) -> impl Guard + Send + Sync {
    VerticalEnabled(v).and(HasRole::any(roles))
}

/// Writing guard of a vertical: also refuses tokens whose revocation could not be checked.
pub fn vertical_write<const N: usize>(v: Vertical, roles: [Role; N]) -> impl Guard + Send + Sync {
    vertical(v, roles).and(RevocationChecked)
}

/// Reading guard open to the roles and to partner tokens holding one of `scopes`.
pub fn vertical_or_scope<const N: usize>(
    v: Vertical,
    roles: [Role; N],
    scopes: &'static [&'static str],
) -> impl Guard + Send + Sync {
    VerticalEnabled(v).and(HasRole::any(roles).or(PartnerScope(scopes)))
}

/// [`vertical_or_scope`] as a plain check, for entity resolvers.
pub fn require_or_scope<'a>(
    ctx: &Context<'a>,
    v: Vertical,
    roles: &[Role],
    scopes: &[&str],
) -> Result<&'a AuthContext, AppError> {
    let a = auth(ctx)?;
    check(a, v, roles, scopes)?;
    Ok(a)
}

/// The same policy on a caller already in hand (routes besides `/graphql`):
/// the organization has the vertical, and the caller holds one of the roles
/// or is a partner holding one of the scopes.
pub fn check(a: &AuthContext, v: Vertical, roles: &[Role], scopes: &[&str]) -> Result<(), AppError> {
    let partner_ok = a.user_id().is_none() && a.scopes.iter().any(|s| scopes.contains(&s.as_str()));
    if !a.has_vertical(v) || !(partner_ok || roles.iter().any(|r| a.has_role(*r))) {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// [`vertical`] as a plain check, for entity resolvers and nested fields.
pub fn require<'a>(ctx: &Context<'a>, v: Vertical, roles: &[Role]) -> Result<&'a AuthContext, AppError> {
    let a = auth(ctx)?;
    check(a, v, roles, &[])?;
    Ok(a)
}

/// Whether [`require`] would let the caller in (fields that hide rather than fail).
pub fn can(ctx: &Context<'_>, v: Vertical, roles: &[Role]) -> bool {
    require(ctx, v, roles).is_ok()
}
