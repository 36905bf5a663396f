//! Who may see and do what in the public procurement vertical. Every guard
//! here also requires the organization to have the `public` vertical; the
//! row policies of `migrations/public` say the same at the database.

use async_graphql::{Context, Guard};
use platform::{access, AppError, AuthContext, Role, Role::*, Vertical::Public};

/// Everyone of the vertical: published tenders, supplier profiles, awards,
/// contracts. Suppliers read tenders to bid on them; org admins and
/// auditors read too (and the history of what their organization did).
pub const MEMBERS: [Role; 6] = [
    ProcurementOfficer,
    ProcurementViewer,
    SupplierAdmin,
    SupplierUser,
    OrgAdmin,
    Auditor,
];
/// A buyer's staff: its drafts, its tenders' details.
pub const BUYER: [Role; 2] = [ProcurementOfficer, ProcurementViewer];
/// Whoever decides for the buyer: tenders' lifecycle, opened bids, awards, tax ids.
pub const OFFICER: [Role; 1] = [ProcurementOfficer];
/// A supplier's staff: its profile, its bids.
pub const SUPPLIER: [Role; 2] = [SupplierAdmin, SupplierUser];
/// Who reads a bid besides those who make or judge it: the organization's
/// administrators and auditors, on the same sealed-bid terms as their staff.
pub const BID_READERS: [Role; 2] = platform::audit::history::READERS;
/// Who lists their organization's own bids.
pub const BIDDERS: [Role; 4] = [SupplierAdmin, SupplierUser, OrgAdmin, Auditor];
/// Who answers for the supplier's profile and compliance documents.
pub const SUPPLIER_ADMIN: [Role; 1] = [SupplierAdmin];

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
