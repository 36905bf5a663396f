//! Bidding: drafting, submitting and withdrawing before the deadline.

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
    mutation::{mutate, Audit},
    validate::optional_text,
    AppError, AppResult, OnConstraint,
    Role::*,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    access::{public, public_write, BIDDERS},
    money::{self, MoneyInput},
    supplier::{self, model::ComplianceStatus},
    tender::{self, model::TenderStatus},
};
use db::BidCursor;
use model::{Bid, BidStatus};

/// A draft bid of the caller's supplier profile on a published tender.
#[derive(InputObject)]
pub struct CreateBidInput {
    /// A published tender whose deadline is ahead.
    pub tender_id: ID,
    /// Required for a tender divided into lots.
    pub lot_id: Option<ID>,
    /// In the tender's currency; more than zero.
    pub amount: MoneyInput,
    /// What is offered, up to 5,000 characters.
    #[graphql(default)]
    pub technical_summary: String,
}

fn already_bidding() -> AppError {
    AppError::Conflict("this supplier already has an active bid on this tender or lot".into())
}

/// Why a bid did not move: missing, in another state, or past the deadline.
async fn refusal(conn: &mut PgConnection, org: Uuid, id: Uuid, to: &str) -> AppError {
    match db::by_ids(conn, &[id]).await {
        Ok(rows) => match rows.into_iter().find(|b| b.organization_id == org) {
            None => AppError::NotFound("Bid"),
            Some(b) if b.opened => AppError::Conflict("the tender's submission deadline has passed".into()),
            Some(b) => AppError::Conflict(format!("the bid is {} and cannot become {to}", b.status.as_db())),
        },
        Err(e) => e,
    }
}

#[derive(Default)]
pub struct BidQuery;

#[Object]
impl BidQuery {
    /// The caller's organization's bids, oldest first.
    #[graphql(guard = "public(BIDDERS)")]
    async fn my_bids(
        &self,
        ctx: &Context<'_>,
        status: Option<BidStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<BidCursor>, Bid>> {
        let org = auth(ctx)?.organization_id;
        list_page(
            ctx,
            first,
            after,
            async |c, after, n| db::own_page(c, org, status.map(BidStatus::as_db), after, n).await,
            |b| BidCursor {
                created_at: b.created_at,
                id: b.id,
            },
            |b| b,
        )
        .await
    }
}

#[derive(Default)]
pub struct BidMutation;

#[Object]
impl BidMutation {
    /// Drafts a bid on a published tender before its deadline.
    #[graphql(guard = "public_write([SupplierAdmin, SupplierUser])")]
    async fn create_bid(&self, ctx: &Context<'_>, input: CreateBidInput) -> Result<Bid> {
        let org = auth(ctx)?.organization_id;
        let tender_id = parse_id("tenderId", &input.tender_id)?;
        let lot_id = input.lot_id.as_ref().map(|l| parse_id("lotId", l)).transpose()?;
        let (amount, currency) = money::valid("amount", &input.amount)?;
        if amount <= 0 {
            return Err(AppError::bad_input("amount.amount", "must be more than 0").into());
        }
        let summary = optional_text("technicalSummary", Some(&input.technical_summary), 5000)?.unwrap_or_default();
        Ok(mutate(ctx, async |tx| {
            // Not locked: closing needs the deadline behind, and submitting
            // checks the deadline again in its own statement.
            let Some(t) = tender::db::by_ids(tx, &[tender_id]).await?.pop() else {
                return Err(AppError::bad_input("tenderId", "no such tender"));
            };
            if t.organization_id == org {
                return Err(AppError::Forbidden);
            }
            if t.status != TenderStatus::Published || t.deadline_passed {
                return Err(AppError::Conflict("the tender does not accept bids".into()));
            }
            if t.currency != currency {
                return Err(AppError::bad_input(
                    "amount.currency",
                    "must be in the tender's currency",
                ));
            }
            let lots = db::lot_ids(tx, tender_id).await?;
            match lot_id {
                None if !lots.is_empty() => {
                    return Err(AppError::bad_input(
                        "lotId",
                        "the tender is divided into lots: name one",
                    ))
                }
                Some(l) if !lots.contains(&l) => {
                    return Err(AppError::bad_input("lotId", "is not a lot of this tender"))
                }
                _ => {}
            }
            let new = db::NewBid {
                buyer_id: t.organization_id,
                tender_id,
                lot_id,
                amount,
                currency: &currency,
                technical_summary: &summary,
            };
            let bid = db::insert(tx, org, &new)
                .await
                .on_constraint(&[("bids_one_active_key", already_bidding)])?;
            let audit = Audit::new("bid.create", "Bid", bid.id).details(json!({ "tender": tender_id, "lot": lot_id }));
            Ok((bid, audit))
        })
        .await?)
    }

    /// Submits a draft bid before the deadline. A non-compliant supplier
    /// (no valid compliance document) cannot submit.
    #[graphql(guard = "public_write([SupplierAdmin, SupplierUser])")]
    async fn submit_bid(&self, ctx: &Context<'_>, id: ID) -> Result<Bid> {
        let org = auth(ctx)?.organization_id;
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            match supplier::db::own_compliance(tx, org).await? {
                None => return Err(AppError::Conflict("register the supplier profile first".into())),
                Some(ComplianceStatus::NonCompliant) => {
                    return Err(AppError::Conflict(
                        "the supplier is not compliant: a compliance document is missing or expired".into(),
                    ))
                }
                Some(_) => {}
            }
            let bid = moved(tx, org, id, "draft", "submitted").await?;
            let event = platform::events::Event::new(
                "procurement.bid.submitted",
                bid.id,
                json!({
                    "bidId": bid.id,
                    "tenderId": bid.tender_id,
                    "lotId": bid.lot_id,
                    "buyerId": bid.buyer_id,
                    "supplierId": bid.organization_id,
                    "submittedAt": bid.submitted_at,
                }),
            );
            Ok((
                bid,
                Audit::new("bid.submitted", "Bid", id)
                    .details(json!({ "from": "draft" }))
                    .event(event),
            ))
        })
        .await?)
    }

    /// Withdraws a submitted bid before the deadline.
    #[graphql(guard = "public_write([SupplierAdmin, SupplierUser])")]
    async fn withdraw_bid(&self, ctx: &Context<'_>, id: ID) -> Result<Bid> {
        let org = auth(ctx)?.organization_id;
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            let bid = moved(tx, org, id, "submitted", "withdrawn").await?;
            Ok((
                bid,
                Audit::new("bid.withdrawn", "Bid", id).details(json!({ "from": "submitted" })),
            ))
        })
        .await?)
    }
}

async fn moved(tx: &mut PgConnection, org: Uuid, id: Uuid, from: &str, to: &str) -> AppResult<Bid> {
    match db::move_before_deadline(tx, org, id, from, to).await? {
        Some(b) => Ok(b),
        None => Err(refusal(tx, org, id, to).await),
    }
}
