//! Bids: sealed until the tender's deadline.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::{AppError, AuthContext, Role::*};
use uuid::Uuid;

use crate::{
    access::public,
    money::Money,
    supplier::{loader::SupplierOfOrgLoader, model::Supplier},
    tender::{self, model::Tender},
    Loaded,
};

/// draft → submitted → withdrawn (before the deadline) | accepted | rejected (at the award).
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BidStatus {
    Draft,
    Submitted,
    Withdrawn,
    Accepted,
    Rejected,
}

impl BidStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            BidStatus::Draft => "draft",
            BidStatus::Submitted => "submitted",
            BidStatus::Withdrawn => "withdrawn",
            BidStatus::Accepted => "accepted",
            BidStatus::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Bid {
    pub id: Uuid,
    /// The supplier organization.
    pub organization_id: Uuid,
    pub buyer_id: Uuid,
    pub tender_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub technical_summary: String,
    pub status: BidStatus,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The tender's deadline has passed, by the database clock.
    pub opened: bool,
    pub created_at: DateTime<Utc>,
}

impl Bid {
    /// The sealed-bid rule as the guards state it (RLS states it again): the
    /// supplier's staff see their own bids; the buyer's procurement officers
    /// see submitted bids once the deadline has passed; each side's
    /// administrators and auditors see what their staff sees; no one else.
    pub fn visible_to(&self, a: &AuthContext) -> bool {
        let readers = a.has_role(OrgAdmin) || a.has_role(Auditor);
        let supplier = a.organization_id == self.organization_id
            && (a.has_role(SupplierAdmin) || a.has_role(SupplierUser) || readers);
        let buyer = a.organization_id == self.buyer_id
            && (a.has_role(ProcurementOfficer) || readers)
            && self.opened
            && self.status != BidStatus::Draft;
        supplier || buyer
    }
}

/// A supplier's offer on a tender (or one of its lots). Sealed: its
/// supplier sees it at any time, the buyer's procurement officers only after
/// the tender's deadline, no one else ever.
#[Object]
impl Bid {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The tender bid on.
    async fn tender(&self, ctx: &Context<'_>) -> Result<Tender> {
        tender::load_visible(ctx, self.tender_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Tender").into())
    }
    /// The lot bid on, for a divided tender.
    async fn lot_id(&self) -> Option<ID> {
        self.lot_id.map(|l| ID(l.to_string()))
    }
    /// The bidding supplier's profile.
    async fn supplier(&self, ctx: &Context<'_>) -> Result<Option<Supplier>> {
        Ok(ctx
            .data::<Loaded<SupplierOfOrgLoader>>()?
            .load_one(self.organization_id)
            .await?)
    }
    /// The price offered.
    async fn amount(&self) -> Money {
        Money::new(self.amount, &self.currency)
    }
    /// What is offered.
    async fn technical_summary(&self) -> &str {
        &self.technical_summary
    }
    /// Where the bid is in its life.
    async fn status(&self) -> BidStatus {
        self.status
    }
    /// When it was submitted.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.submitted_at
    }
    /// When the draft was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors (each organization sees what it did).
    #[graphql(guard = "public(platform::audit::history::READERS)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Bid", self.id, first, after).await?)
    }
}
