//! Invoices and their lines. Amounts are integer cents in EUR.

use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use platform::AppError;
use uuid::Uuid;

use super::loader::InvoiceLinesLoader;
use crate::{
    access::{medical, medical_or, BILLING_SCOPE, HISTORY, INVOICES},
    patient::{loader::PatientLoader, model::Patient},
    Loaded,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invoice {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub status: InvoiceStatus,
    pub currency: String,
    pub issued_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One billed item.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
pub struct InvoiceLine {
    #[graphql(skip)]
    pub invoice_id: Uuid,
    /// Tariff code.
    pub code: String,
    /// What was done or supplied.
    pub description: String,
    /// How many.
    pub quantity: i32,
    /// Price of one, in cents.
    pub unit_price_cents: i32,
    /// `quantity × unitPriceCents`.
    pub total_cents: i32,
}

/// draft → issued → paid, or void. An issued invoice's lines never change.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Issued,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }
}

/// A patient's invoice. Billing clerks, admins and auditors.
#[Object(guard = "medical_or(INVOICES, BILLING_SCOPE)")]
impl Invoice {
    /// Identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Who is billed.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Patient> {
        ctx.data::<Loaded<PatientLoader>>()?
            .load_one(self.patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Patient").into())
    }
    /// Current status.
    async fn status(&self) -> InvoiceStatus {
        self.status
    }
    /// ISO 4217 currency; always `EUR`.
    async fn currency(&self) -> &str {
        &self.currency
    }
    /// Billed items, in order.
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<InvoiceLine>> {
        Ok(ctx
            .data::<Loaded<InvoiceLinesLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }
    /// Sum of the lines, in cents.
    async fn total_cents(&self, ctx: &Context<'_>) -> Result<i32> {
        let lines = ctx
            .data::<Loaded<InvoiceLinesLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default();
        Ok(lines.iter().map(|l| l.total_cents).sum())
    }
    /// When it was issued.
    async fn issued_at(&self) -> Option<DateTime<Utc>> {
        self.issued_at
    }
    /// When it was paid.
    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.paid_at
    }
    /// When it was voided.
    async fn voided_at(&self) -> Option<DateTime<Utc>> {
        self.voided_at
    }
    /// When the draft was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors.
    #[graphql(guard = "medical(HISTORY)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Invoice", self.id, first, after).await?)
    }
}
