//! Invoices: drafting, issuing, payment, voiding.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use platform::lists::list_page;
use platform::{
    guards::auth,
    ids::parse_id,
    lifecycle::{self, Lifecycle},
    mutation::{mutate, Audit},
    validate::text,
    AppError, AppResult, OnConstraint,
    Role::*,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    access::{medical_or, medical_write, BILLING_SCOPE, INVOICES},
    patient, Loaded,
};
use db::InvoiceCursor;
use loader::InvoiceLoader;
use model::{Invoice, InvoiceStatus};

const MAX_LINES: usize = 200;

/// One billed item of an invoice.
#[derive(InputObject)]
pub struct InvoiceLineInput {
    pub code: String,
    pub description: String,
    /// 1 to 10,000.
    pub quantity: i32,
    /// Price of one unit in cents; not negative.
    pub unit_price_cents: i32,
}

/// A draft invoice for a patient, with its lines.
#[derive(InputObject)]
pub struct CreateInvoiceInput {
    pub patient_id: ID,
    pub lines: Vec<InvoiceLineInput>,
}

fn lines_immutable() -> AppError {
    AppError::Conflict("only a draft invoice's lines can change".into())
}

fn valid_lines(lines: Vec<InvoiceLineInput>) -> AppResult<Vec<db::Line>> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(AppError::bad_input("lines", format!("give 1 to {MAX_LINES} lines")));
    }
    let mut total: i64 = 0;
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.into_iter().enumerate() {
        if !(1..=10_000).contains(&l.quantity) {
            return Err(AppError::bad_input(
                format!("lines[{i}].quantity"),
                "must be 1 to 10000",
            ));
        }
        if l.unit_price_cents < 0 {
            return Err(AppError::bad_input(
                format!("lines[{i}].unitPriceCents"),
                "must not be negative",
            ));
        }
        total += l.quantity as i64 * l.unit_price_cents as i64;
        out.push(db::Line {
            code: text(&format!("lines[{i}].code"), &l.code, 1, 20)?,
            description: text(&format!("lines[{i}].description"), &l.description, 1, 500)?,
            quantity: l.quantity,
            unit_price_cents: l.unit_price_cents,
        });
    }
    if total > i32::MAX as i64 {
        return Err(AppError::bad_input("lines", "the invoice total is too large"));
    }
    Ok(out)
}

#[derive(Default)]
pub struct InvoiceQuery;

#[Object]
impl InvoiceQuery {
    /// Invoices, oldest first, optionally by status.
    #[graphql(guard = "medical_or(INVOICES, BILLING_SCOPE)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        status: Option<InvoiceStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<InvoiceCursor>, Invoice>> {
        list_page(
            ctx,
            first,
            after,
            async |c, after, n| db::page(c, status.map(InvoiceStatus::as_db), after, n).await,
            |i| InvoiceCursor {
                created_at: i.created_at,
                id: i.id,
            },
            |i| i,
        )
        .await
    }

    /// One invoice.
    #[graphql(guard = "medical_or(INVOICES, BILLING_SCOPE)")]
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Invoice>> {
        let id = parse_id("id", &id)?;
        Ok(ctx.data::<Loaded<InvoiceLoader>>()?.load_one(id).await?)
    }
}

#[derive(Default)]
pub struct InvoiceMutation;

#[Object]
impl InvoiceMutation {
    /// Drafts an invoice for a patient.
    #[graphql(guard = "medical_write([BillingClerk])")]
    async fn create_invoice(&self, ctx: &Context<'_>, input: CreateInvoiceInput) -> Result<Invoice> {
        let caller = auth(ctx)?;
        let patient_id = parse_id("patientId", &input.patient_id)?;
        let lines = valid_lines(input.lines)?;
        Ok(mutate(ctx, async |tx| {
            if patient::db::live(tx, patient_id).await?.is_none() {
                return Err(AppError::bad_input("patientId", "no such patient"));
            }
            let invoice = db::insert(tx, caller.organization_id, patient_id).await?;
            db::replace_lines(tx, caller.organization_id, invoice.id, &lines).await?;
            let audit = Audit::new("invoice.create", "Invoice", invoice.id)
                .details(json!({ "patient": patient_id, "lines": lines.len() }));
            Ok((invoice, audit))
        })
        .await?)
    }

    /// Replaces a draft invoice's lines.
    #[graphql(guard = "medical_write([BillingClerk])")]
    async fn set_invoice_lines(&self, ctx: &Context<'_>, id: ID, lines: Vec<InvoiceLineInput>) -> Result<Invoice> {
        let caller = auth(ctx)?;
        let id = parse_id("id", &id)?;
        let lines = valid_lines(lines)?;
        Ok(mutate(ctx, async |tx| {
            let invoice = db::by_ids(tx, &[id])
                .await?
                .into_iter()
                .next()
                .ok_or(AppError::NotFound("Invoice"))?;
            if invoice.status != InvoiceStatus::Draft {
                return Err(lines_immutable());
            }
            db::replace_lines(tx, caller.organization_id, id, &lines)
                .await
                .on_constraint(&[("invoice_lines_immutable", lines_immutable)])?;
            let audit = Audit::new("invoice.set_lines", "Invoice", id).details(json!({ "lines": lines.len() }));
            Ok((invoice, audit))
        })
        .await?)
    }

    /// Issues a draft: its lines are frozen from now on.
    #[graphql(guard = "medical_write([BillingClerk])")]
    async fn issue_invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Invoice> {
        Ok(lifecycle::step::<Invoice>(ctx, &id, &[InvoiceStatus::Draft], InvoiceStatus::Issued).await?)
    }

    /// Records payment of an issued invoice.
    #[graphql(guard = "medical_write([BillingClerk])")]
    async fn mark_invoice_paid(&self, ctx: &Context<'_>, id: ID) -> Result<Invoice> {
        Ok(lifecycle::step::<Invoice>(ctx, &id, &[InvoiceStatus::Issued], InvoiceStatus::Paid).await?)
    }

    /// Voids a draft or issued invoice.
    #[graphql(guard = "medical_write([BillingClerk])")]
    async fn void_invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Invoice> {
        Ok(lifecycle::step::<Invoice>(
            ctx,
            &id,
            &[InvoiceStatus::Draft, InvoiceStatus::Issued],
            InvoiceStatus::Void,
        )
        .await?)
    }
}

impl Lifecycle for Invoice {
    const ENTITY: &'static str = "Invoice";
    const ACTION: &'static str = "invoice";
    const TABLE: &'static str = "invoices";
    const COLUMNS: &'static str = db::COLUMNS;
    const ON_MOVE: &'static str = "issued_at = case when $2 = 'issued' then now() else issued_at end, paid_at = case when $2 = 'paid' then now() else paid_at end, voided_at = case when $2 = 'void' then now() else voided_at end";
    type Status = InvoiceStatus;

    fn db_name(status: InvoiceStatus) -> &'static str {
        status.as_db()
    }

    async fn precondition(conn: &mut sqlx::PgConnection, id: Uuid, to: InvoiceStatus) -> AppResult<()> {
        if to == InvoiceStatus::Issued && db::line_count(conn, id).await? == 0 {
            if <Self as Lifecycle>::current(conn, id).await?.is_none() {
                return Err(AppError::NotFound(Self::ENTITY));
            }
            return Err(AppError::Conflict("an invoice needs lines to be issued".into()));
        }
        Ok(())
    }
}
