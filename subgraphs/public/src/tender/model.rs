//! The `Tender` entity, its lots and amendments.

use async_graphql::{ComplexObject, Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    access::{can, public, BID_READERS, OFFICER, SUPPLIER},
    bid::{loader::BidsOfTenderLoader, model::Bid},
    contract::{loader::AwardsOfTenderLoader, model::Award},
    money::Money,
    organization::Organization,
    state,
    tender::loader::{AmendmentsLoader, BidCountLoader, LotsLoader},
    Loaded,
};

/// How suppliers are admitted (OCDS `procurementMethod`).
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ProcurementMethod {
    /// Any interested supplier may bid.
    Open,
    /// Only suppliers that qualified may bid.
    Selective,
    /// The buyer invites the suppliers it chooses.
    Limited,
    /// Awarded to one supplier without competition.
    Direct,
}

impl ProcurementMethod {
    pub fn as_db(self) -> &'static str {
        match self {
            ProcurementMethod::Open => "open",
            ProcurementMethod::Selective => "selective",
            ProcurementMethod::Limited => "limited",
            ProcurementMethod::Direct => "direct",
        }
    }
}

/// What is bought (OCDS `mainProcurementCategory`).
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MainCategory {
    Goods,
    Works,
    Services,
}

impl MainCategory {
    pub fn as_db(self) -> &'static str {
        match self {
            MainCategory::Goods => "goods",
            MainCategory::Works => "works",
            MainCategory::Services => "services",
        }
    }
}

/// Where a tender is: draft → published → closed → awarded or unsuccessful;
/// cancelled from any state before the award.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenderStatus {
    /// Seen by the buyer only.
    Draft,
    /// Open for bids until the submission deadline.
    Published,
    /// The deadline has passed; bids are being evaluated.
    Closed,
    Awarded,
    /// Closed without an award.
    Unsuccessful,
    Cancelled,
}

impl TenderStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            TenderStatus::Draft => "draft",
            TenderStatus::Published => "published",
            TenderStatus::Closed => "closed",
            TenderStatus::Awarded => "awarded",
            TenderStatus::Unsuccessful => "unsuccessful",
            TenderStatus::Cancelled => "cancelled",
        }
    }
}

/// A call for bids by a buyer organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tender {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub reference: String,
    pub title: String,
    pub description: String,
    pub procurement_method: ProcurementMethod,
    pub main_category: MainCategory,
    pub cpv_codes: Vec<String>,
    pub estimated_amount: i64,
    pub currency: String,
    pub enquiry_deadline: Option<DateTime<Utc>>,
    pub submission_deadline: DateTime<Utc>,
    /// Judged by the database clock when the row was read.
    pub deadline_passed: bool,
    pub status: TenderStatus,
    pub cancellation_reason: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A call for bids by a buyer organization. Drafts are seen by the buyer
/// only; published tenders by every organization of the public vertical.
#[Object]
impl Tender {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The OCDS open contracting id, once published.
    async fn ocid(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self
            .published_at
            .map(|_| state(ctx).map(|s| s.ocid(self.id)))
            .transpose()?)
    }
    /// The buyer's reference, unique per buyer.
    async fn reference(&self) -> &str {
        &self.reference
    }
    /// What is bought, in a line.
    async fn title(&self) -> &str {
        &self.title
    }
    /// What is bought, in full.
    async fn description(&self) -> &str {
        &self.description
    }
    /// How suppliers are admitted.
    async fn procurement_method(&self) -> ProcurementMethod {
        self.procurement_method
    }
    /// What is bought: goods, works or services.
    async fn main_category(&self) -> MainCategory {
        self.main_category
    }
    /// CPV codes (Common Procurement Vocabulary), 8 digits with an optional check digit.
    async fn cpv_codes(&self) -> &[String] {
        &self.cpv_codes
    }
    /// The buyer's estimate of the whole tender.
    async fn estimated_value(&self) -> Money {
        Money::new(self.estimated_amount, &self.currency)
    }
    /// Until when suppliers may ask questions.
    async fn enquiry_deadline(&self) -> Option<DateTime<Utc>> {
        self.enquiry_deadline
    }
    /// Until when bids are accepted; bids stay sealed until then.
    async fn submission_deadline(&self) -> DateTime<Utc> {
        self.submission_deadline
    }
    /// Whether the submission deadline has passed, by the database clock.
    async fn deadline_passed(&self) -> bool {
        self.deadline_passed
    }
    /// Where the tender is in its life.
    async fn status(&self) -> TenderStatus {
        self.status
    }
    /// Why it was cancelled.
    async fn cancellation_reason(&self) -> Option<&str> {
        self.cancellation_reason.as_deref()
    }
    /// When it was published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.published_at
    }
    /// When the draft was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// The buyer organization (identity).
    async fn buyer(&self) -> Option<Organization> {
        Some(Organization {
            id: self.organization_id,
        })
    }
    /// The tender's lots, by number; empty when it is not divided.
    async fn lots(&self, ctx: &Context<'_>) -> Result<Vec<Lot>> {
        Ok(ctx
            .data::<Loaded<LotsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }
    /// Changes made after publication, oldest first.
    async fn amendments(&self, ctx: &Context<'_>) -> Result<Vec<Amendment>> {
        Ok(ctx
            .data::<Loaded<AmendmentsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }
    /// How many bids were submitted (the count is public; amounts are sealed).
    async fn bid_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(ctx
            .data::<Loaded<BidCountLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or(0))
    }
    /// The bids the caller may see: a supplier its own, the buyer's
    /// procurement officers every submitted bid once the deadline has passed,
    /// each side's administrators and auditors what their staff sees.
    /// Empty for anyone else.
    async fn bids(&self, ctx: &Context<'_>) -> Result<Vec<Bid>> {
        if !can(ctx, &OFFICER) && !can(ctx, &SUPPLIER) && !can(ctx, &BID_READERS) {
            return Ok(vec![]);
        }
        let caller = platform::guards::auth(ctx)?;
        let rows = ctx.data::<Loaded<BidsOfTenderLoader>>()?.load_one(self.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.visible_to(caller))
            .collect())
    }
    /// Its awards, one per lot (or one for an undivided tender).
    async fn awards(&self, ctx: &Context<'_>) -> Result<Vec<Award>> {
        Ok(ctx
            .data::<Loaded<AwardsOfTenderLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors (the buyer's, for tenders it runs).
    #[graphql(guard = "public(platform::audit::history::READERS)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Tender", self.id, first, after).await?)
    }
}

/// A part of a tender awarded on its own.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub struct Lot {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub tender_id: Uuid,
    /// 1, 2, … within the tender.
    pub number: i32,
    /// What the lot covers.
    pub title: String,
    #[graphql(skip)]
    pub estimated_amount: i64,
    #[graphql(skip)]
    pub currency: String,
}

#[ComplexObject]
impl Lot {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The buyer's estimate for this lot.
    async fn estimated_value(&self) -> Money {
        Money::new(self.estimated_amount, &self.currency)
    }
}

/// A dated change to a published tender, with its rationale.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
pub struct Amendment {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub tender_id: Uuid,
    /// Why the tender changed.
    pub rationale: String,
    /// `{field: {from, to}}` for each field changed.
    pub changes: serde_json::Value,
    /// When it changed.
    pub amended_at: DateTime<Utc>,
}
