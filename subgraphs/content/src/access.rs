//! Who reads and writes which document: its classification decides. The
//! same rule is the restrictive row policy `documents_by_classification`
//! of `migrations/content`; here it narrows queries and refuses writes with
//! a clear error before the database would.

use platform::{roles, AppError, AuthContext, Role, Role::*, Vertical};

use crate::document::model::Classification::{self, *};

/// Medical staff who read clinical documents: the vertical's clinicians.
pub const CLINICAL: [Role; 2] = roles::medical::CLINICAL;
/// Every medical role: administrative documents.
pub const MEDICAL: [Role; 4] = roles::medical::STAFF;
/// Who reads administrative documents: the medical roles and the
/// practice's administrators (who manage patients' administrative data).
pub const ADMINISTRATIVE_READERS: [Role; 5] = [Practitioner, Nurse, Secretary, BillingClerk, OrgAdmin];
/// Buyer's staff: internal procurement files.
pub const BUYER: [Role; 2] = roles::public::BUYER;
/// Who reads the buyer's internal files: its staff, administrators and auditors.
pub const BUYER_READERS: [Role; 4] = [ProcurementOfficer, ProcurementViewer, OrgAdmin, Auditor];
/// Who reads a supplier's certificates: its staff, administrators and
/// auditors (their own only, by the row policy), and buyers' officers.
pub const COMPLIANCE_READERS: [Role; 5] = [SupplierAdmin, SupplierUser, OrgAdmin, Auditor, ProcurementOfficer];
/// Everyone of the public vertical: a published tender's public documents.
pub const PUBLIC_MEMBERS: [Role; 6] = roles::public::MEMBERS;
/// Who reads a document's history: the organization's administrators and
/// auditors, and, for clinical documents, practitioners (as for clinical notes).
pub fn may_read_history(a: &AuthContext, c: Classification) -> bool {
    any(a, &platform::audit::history::READERS) || (c == Clinical && a.has_role(Practitioner))
}

fn any(a: &AuthContext, roles: &[Role]) -> bool {
    roles.iter().any(|r| a.has_role(*r))
}

/// Classifications the caller may read in its own organization (other
/// organizations' rows also need the router's word: see `owners`).
pub fn readable(a: &AuthContext) -> Vec<Classification> {
    readable_in(&a.roles, &a.verticals)
}

/// [`readable`] from a scope's roles and verticals (loaders).
pub fn readable_in(roles: &[Role], verticals: &[Vertical]) -> Vec<Classification> {
    let medical = verticals.contains(&Vertical::Medical);
    let public = verticals.contains(&Vertical::Public);
    let any = |rs: &[Role]| rs.iter().any(|r| roles.contains(r));
    [
        (Clinical, medical && any(&CLINICAL)),
        (Administrative, medical && any(&ADMINISTRATIVE_READERS)),
        (ProcurementPublic, public && any(&PUBLIC_MEMBERS)),
        (ProcurementInternal, public && any(&BUYER_READERS)),
        (Compliance, public && any(&COMPLIANCE_READERS)),
    ]
    .into_iter()
    .filter_map(|(c, ok)| ok.then_some(c))
    .collect()
}

/// Who adds documents and versions of a classification: clinical staff for
/// patients' records, any medical role for administrative papers, a
/// buyer's procurement officers for tender and contract files, a supplier's
/// admin for its certificates.
pub fn require_write(a: &AuthContext, c: Classification) -> Result<(), AppError> {
    let ok = match c {
        Clinical => a.has_vertical(Vertical::Medical) && any(a, &CLINICAL),
        Administrative => a.has_vertical(Vertical::Medical) && any(a, &MEDICAL),
        ProcurementPublic | ProcurementInternal => a.has_vertical(Vertical::Public) && a.has_role(ProcurementOfficer),
        Compliance => a.has_vertical(Vertical::Public) && a.has_role(SupplierAdmin),
    };
    if ok && a.user_id().is_some() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}
