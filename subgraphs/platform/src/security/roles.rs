//! Who is who in each vertical: the role sets every subgraph's guards use,
//! defined once per vertical. A subgraph that guards another vertical's data
//! (content's documents of patients and tenders) uses these same sets, so
//! the two can never drift apart.

use crate::security::auth::Role;

/// Who reads a record's history (the audit trail of one entity) in every
/// vertical: the organization's administrators and auditors.
pub const HISTORY_READERS: [Role; 2] = [Role::OrgAdmin, Role::Auditor];

/// The medical vertical.
pub mod medical {
    use crate::security::auth::Role::{self, *};

    /// Every medical role: a practice's staff.
    pub const STAFF: [Role; 4] = [Practitioner, Nurse, Secretary, BillingClerk];
    /// Allergies, blood type, clinical notes, procedure notes.
    pub const CLINICAL: [Role; 2] = [Practitioner, Nurse];
    /// Procedures (without their notes).
    pub const CARE_TEAM: [Role; 3] = [Practitioner, Nurse, Secretary];
    /// Patients' administrative data and appointments.
    pub const ADMINISTRATIVE: [Role; 4] = [Practitioner, Nurse, Secretary, OrgAdmin];
    /// A patient's identity (id and names): also billing, and auditors (who
    /// must know whose record's history they read).
    pub const NAMES: [Role; 6] = [Practitioner, Nurse, Secretary, OrgAdmin, BillingClerk, Auditor];
    /// A record's history: the organization's administrators and auditors.
    pub const HISTORY: [Role; 2] = super::HISTORY_READERS;
    /// A clinical record's history: also practitioners.
    pub const HISTORY_CLINICAL: [Role; 3] = [OrgAdmin, Auditor, Practitioner];
    /// Invoices.
    pub const BILLING: [Role; 2] = [BillingClerk, OrgAdmin];
    /// Who reads invoices: billing, and auditors (who audit their history).
    pub const INVOICES: [Role; 3] = [BillingClerk, OrgAdmin, Auditor];
    /// Who reads appointments (slot, status, practitioner, patient's names,
    /// history): the administrative roles and auditors; the reason the
    /// patient comes stays [`ADMINISTRATIVE`].
    pub const APPOINTMENTS: [Role; 5] = [Practitioner, Nurse, Secretary, OrgAdmin, Auditor];
    /// Who sees that clinical notes exist (author, dates, signature, history):
    /// clinicians, and the organization's administrators and auditors, who
    /// read their history; the text stays [`CLINICAL`].
    pub const NOTES: [Role; 4] = [Practitioner, Nurse, OrgAdmin, Auditor];
}

/// The public procurement vertical.
pub mod public {
    use crate::security::auth::Role::{self, *};

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
    pub const BID_READERS: [Role; 2] = super::HISTORY_READERS;
    /// Who lists their organization's own bids.
    pub const BIDDERS: [Role; 4] = [SupplierAdmin, SupplierUser, OrgAdmin, Auditor];
    /// Who answers for the supplier's profile and compliance documents.
    pub const SUPPLIER_ADMIN: [Role; 1] = [SupplierAdmin];
}
