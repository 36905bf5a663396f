//! The `Supplier` entity: a supplier organization's profile.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::{scalars::Date, AppError, Role::*};
use uuid::Uuid;

use crate::{
    access::require,
    organization::Organization,
    supplier::loader::{ComplianceLoader, DocumentsLoader, TaxIdLoader},
    Loaded,
};

/// How far a supplier was vetted.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CertificationLevel {
    Basic,
    Qualified,
    Certified,
}

impl CertificationLevel {
    pub fn as_db(self) -> &'static str {
        match self {
            CertificationLevel::Basic => "basic",
            CertificationLevel::Qualified => "qualified",
            CertificationLevel::Certified => "certified",
        }
    }
}

/// Derived from the compliance documents, by the database's date.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// At least one document, none expired or expiring within 30 days.
    Compliant,
    /// A document expires within 30 days.
    Expiring,
    /// No document, or one has expired: the supplier cannot submit bids.
    NonCompliant,
}

/// The kinds of compliance document a supplier files.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ComplianceDocumentKind {
    TaxClearance,
    SocialSecurity,
    Insurance,
    QualityCertificate,
    Other,
}

impl ComplianceDocumentKind {
    pub fn as_db(self) -> &'static str {
        match self {
            ComplianceDocumentKind::TaxClearance => "tax_clearance",
            ComplianceDocumentKind::SocialSecurity => "social_security",
            ComplianceDocumentKind::Insurance => "insurance",
            ComplianceDocumentKind::QualityCertificate => "quality_certificate",
            ComplianceDocumentKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Supplier {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub legal_name: String,
    pub registration_number: String,
    pub certification_level: CertificationLevel,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ComplianceDocument {
    pub id: Uuid,
    pub supplier_id: Uuid,
    pub kind: ComplianceDocumentKind,
    pub title: String,
    pub expires_on: chrono::NaiveDate,
}

impl Supplier {
    /// The supplier's own staff, or a buyer's procurement officer.
    fn confidential(&self, ctx: &Context<'_>) -> Result<(), AppError> {
        let a = require(ctx, &[SupplierAdmin, SupplierUser, ProcurementOfficer])?;
        let own = a.organization_id == self.organization_id && (a.has_role(SupplierAdmin) || a.has_role(SupplierUser));
        if own || a.has_role(ProcurementOfficer) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// A supplier organization's profile. Registration number and
/// certification level: the whole vertical. Tax id and compliance: the
/// supplier's own staff and buyers' procurement officers.
#[Object]
impl Supplier {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The supplier organization (identity).
    async fn organization(&self) -> Option<Organization> {
        Some(Organization {
            id: self.organization_id,
        })
    }
    /// The name it contracts under.
    async fn legal_name(&self) -> &str {
        &self.legal_name
    }
    /// Registration in the trade register.
    async fn registration_number(&self) -> &str {
        &self.registration_number
    }
    /// How far the supplier was vetted.
    async fn certification_level(&self) -> CertificationLevel {
        self.certification_level
    }
    /// Tax id: the supplier's own staff and buyers' procurement officers.
    async fn tax_id(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.confidential(ctx)?;
        Ok(ctx.data::<Loaded<TaxIdLoader>>()?.load_one(self.id).await?)
    }
    /// The documents behind `complianceStatus`, soonest expiry first.
    async fn compliance_documents(&self, ctx: &Context<'_>) -> Result<Vec<ComplianceDocumentView>> {
        self.confidential(ctx)?;
        Ok(ctx
            .data::<Loaded<DocumentsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(ComplianceDocumentView)
            .collect())
    }
    /// Compliant, expiring within 30 days, or non-compliant (cannot bid).
    async fn compliance_status(&self, ctx: &Context<'_>) -> Result<ComplianceStatus> {
        self.confidential(ctx)?;
        Ok(ctx
            .data::<Loaded<ComplianceLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or(ComplianceStatus::NonCompliant))
    }
    /// When the profile was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// A compliance document as shown.
pub struct ComplianceDocumentView(pub ComplianceDocument);

/// A certificate or attestation a supplier keeps valid to bid.
#[Object(name = "ComplianceDocument")]
impl ComplianceDocumentView {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the document attests.
    async fn kind(&self) -> ComplianceDocumentKind {
        self.0.kind
    }
    /// Its name.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Last day it is valid.
    async fn expires_on(&self) -> Date {
        Date(self.0.expires_on)
    }
}
