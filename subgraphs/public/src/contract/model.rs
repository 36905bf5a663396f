//! Awards and the `Contract` entity.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, NaiveDate, Utc};
use platform::{scalars::Date, AppError};
use uuid::Uuid;

use crate::{
    access::public,
    contract::loader::ContractOfAwardLoader,
    money::Money,
    organization::Organization,
    supplier::{loader::SupplierOfOrgLoader, model::Supplier},
    tender::{self, model::Tender},
    Loaded,
};

/// pending → active (signed) → completed | terminated.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ContractStatus {
    /// Awarded, not signed yet.
    Pending,
    /// Signed and running.
    Active,
    /// Ended early.
    Terminated,
    /// Ended as agreed.
    Completed,
}

impl ContractStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            ContractStatus::Pending => "pending",
            ContractStatus::Active => "active",
            ContractStatus::Terminated => "terminated",
            ContractStatus::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Award {
    pub id: Uuid,
    pub tender_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub supplier_id: Uuid,
    pub bid_id: Uuid,
    pub amount: i64,
    pub currency: String,
    pub awarded_at: DateTime<Utc>,
}

/// The buyer's decision for one lot (or an undivided tender): public once made.
#[Object]
impl Award {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The lot awarded, for a divided tender.
    async fn lot_id(&self) -> Option<ID> {
        self.lot_id.map(|l| ID(l.to_string()))
    }
    /// The winning supplier's profile.
    async fn supplier(&self, ctx: &Context<'_>) -> Result<Option<Supplier>> {
        Ok(ctx
            .data::<Loaded<SupplierOfOrgLoader>>()?
            .load_one(self.supplier_id)
            .await?)
    }
    /// The winning bid's price.
    async fn value(&self) -> Money {
        Money::new(self.amount, &self.currency)
    }
    /// When the buyer decided.
    async fn awarded_at(&self) -> DateTime<Utc> {
        self.awarded_at
    }
    /// The contract that follows from it.
    async fn contract(&self, ctx: &Context<'_>) -> Result<Option<Contract>> {
        Ok(ctx.data::<Loaded<ContractOfAwardLoader>>()?.load_one(self.id).await?)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contract {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub tender_id: Uuid,
    pub award_id: Uuid,
    pub supplier_id: Uuid,
    pub amount: i64,
    pub currency: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub status: ContractStatus,
    pub signed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The agreement between a buyer and the supplier awarded a tender or lot.
/// Public-interest data: the whole vertical and `procurement:read` partners read it.
#[Object]
impl Contract {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The buyer organization (identity).
    async fn buyer(&self) -> Option<Organization> {
        Some(Organization {
            id: self.organization_id,
        })
    }
    /// The supplier organization (identity).
    async fn supplier(&self) -> Option<Organization> {
        Some(Organization { id: self.supplier_id })
    }
    /// The tender it follows from.
    async fn tender(&self, ctx: &Context<'_>) -> Result<Tender> {
        tender::load_visible(ctx, self.tender_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Tender").into())
    }
    /// The contract's value (the winning bid's price).
    async fn value(&self) -> Money {
        Money::new(self.amount, &self.currency)
    }
    /// First day.
    async fn period_start(&self) -> Date {
        Date(self.period_start)
    }
    /// Last day.
    async fn period_end(&self) -> Date {
        Date(self.period_end)
    }
    /// Where the contract is in its life.
    async fn status(&self) -> ContractStatus {
        self.status
    }
    /// When it was signed.
    async fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.signed_at
    }
    /// When it was awarded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors.
    #[graphql(guard = "public(platform::audit::history::READERS)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Contract", self.id, first, after).await?)
    }
}
