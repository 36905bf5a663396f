//! The award (one transaction: awards, contracts, accepted and rejected
//! bids, the tender awarded) and the contracts' lifecycle.

pub mod db;
pub mod loader;
pub mod model;
pub mod rules;

use platform::lists::list_page;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Object, Result, ID,
};
use platform::{
    guards::auth,
    ids::{parse_id, parse_key},
    lifecycle::{self, Lifecycle},
    mutation::{mutate, Audit},
    scalars::Date,
    AppError,
    Role::*,
};
use serde_json::json;

use crate::{
    access::{public_or_partner, public_write, require_or_partner, MEMBERS},
    bid, ocds,
    tender::{self, model::Tender},
    Loaded,
};
use db::ContractCursor;
use loader::ContractLoader;
use model::{Contract, ContractStatus};

/// The bid a lot (or the tender) is awarded to.
#[derive(InputObject)]
pub struct AwardChoice {
    /// The lot, for a tender divided into lots.
    pub lot_id: Option<ID>,
    /// The winning bid (submitted, on this tender and lot).
    pub bid_id: ID,
}

/// The winning bids of a closed tender: one award per lot (or one for the tender).
#[derive(InputObject)]
pub struct AwardTenderInput {
    /// A tender of the caller's organization whose deadline has passed.
    pub tender_id: ID,
    /// One choice per lot, or one for an undivided tender.
    pub awards: Vec<AwardChoice>,
    /// First day of the contracts.
    pub contract_start: Date,
    /// Last day of the contracts; not before the first.
    pub contract_end: Date,
}

impl Lifecycle for Contract {
    const ENTITY: &'static str = "Contract";
    const ACTION: &'static str = "contract";
    const TABLE: &'static str = "contracts";
    const COLUMNS: &'static str = db::COLUMNS;
    const ON_MOVE: &'static str = "signed_at = case when $2 = 'active' then now() else signed_at end";
    type Status = ContractStatus;

    fn db_name(status: ContractStatus) -> &'static str {
        status.as_db()
    }

    /// Signature and end of a contract are OCDS releases of its tender.
    async fn after_move(conn: &mut sqlx::PgConnection, c: &Contract, to: ContractStatus) -> platform::AppResult<()> {
        ocds::record(conn, c.tender_id, ocds::contract_tags(to.as_db())).await
    }

    /// `procurement.contract.signed` v1 (docs/events.md).
    async fn event(
        _: &mut sqlx::PgConnection,
        c: &Contract,
        to: ContractStatus,
    ) -> platform::AppResult<Option<platform::events::Event>> {
        Ok((to == ContractStatus::Active).then(|| {
            platform::events::Event::new(
                "procurement.contract.signed",
                c.id,
                serde_json::json!({
                    "contractId": c.id,
                    "tenderId": c.tender_id,
                    "buyerId": c.organization_id,
                    "supplierId": c.supplier_id,
                    "amount": c.amount,
                    "currency": c.currency,
                    "signedAt": c.signed_at,
                }),
            )
        }))
    }
}

#[derive(Default)]
pub struct ContractQuery;

#[Object]
impl ContractQuery {
    /// Contracts of the vertical, oldest first.
    #[graphql(guard = "public_or_partner(MEMBERS)")]
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        status: Option<ContractStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<ContractCursor>, Contract>> {
        list_page(
            ctx,
            first,
            after,
            async |c, after, n| db::page(c, status.map(ContractStatus::as_db), after, n).await,
            |c| ContractCursor {
                created_at: c.created_at,
                id: c.id,
            },
            |c| c,
        )
        .await
    }

    /// One contract.
    #[graphql(guard = "public_or_partner(MEMBERS)")]
    async fn contract(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contract>> {
        let id = parse_id("id", &id)?;
        Ok(ctx.data::<Loaded<ContractLoader>>()?.load_one(id).await?)
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_contract_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contract>> {
        require_or_partner(ctx, &MEMBERS)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<ContractLoader>>()?.load_one(id).await?)
    }
}

#[derive(Default)]
pub struct ContractMutation;

#[Object]
impl ContractMutation {
    /// Awards a tender after its deadline: one submitted bid per lot. In one
    /// transaction the awards and their (pending) contracts are written, the
    /// chosen bids accepted, every other submitted bid rejected and the
    /// tender marked awarded; if anything is refused, nothing is written.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn award_tender(&self, ctx: &Context<'_>, input: AwardTenderInput) -> Result<Tender> {
        let org = auth(ctx)?.organization_id;
        let tender_id = parse_id("tenderId", &input.tender_id)?;
        if input.contract_end.0 < input.contract_start.0 {
            return Err(AppError::bad_input("contractEnd", "must not be before contractStart").into());
        }
        let choices = input
            .awards
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let lot = a
                    .lot_id
                    .as_ref()
                    .map(|l| parse_id(&format!("awards[{i}].lotId"), l))
                    .transpose()?;
                Ok((lot, parse_id(&format!("awards[{i}].bidId"), &a.bid_id)?))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let (start, end) = (input.contract_start.0, input.contract_end.0);
        Ok(mutate(ctx, async |tx| {
            tender::db::take_turn(tx, tender_id, tender::db::Turn::Deciding).await?;
            let Some(t) = tender::db::lock_own(tx, org, tender_id).await? else {
                return Err(AppError::NotFound("Tender"));
            };
            rules::awardable(&t)?;
            let lots = bid::db::lot_ids(tx, tender_id).await?;
            let bids = bid::db::by_ids(tx, &choices.iter().map(|(_, b)| *b).collect::<Vec<_>>()).await?;
            let mut awarded = vec![];
            for (lot, bid) in choices
                .iter()
                .map(|c| c.0)
                .zip(rules::chosen(tender_id, &lots, &choices, &bids)?)
            {
                let award = db::insert_award(tx, org, bid).await?;
                let contract = db::insert_contract(tx, org, &award, start, end).await?;
                awarded.push(json!({ "lot": lot, "bid": bid.id, "award": award.id, "contract": contract.id }));
            }
            let accepted: Vec<uuid::Uuid> = choices.iter().map(|(_, b)| *b).collect();
            let decided = db::decide_bids(tx, tender_id, &accepted).await?;
            db::mark_awarded(tx, tender_id).await?;
            ocds::record(tx, tender_id, ocds::tender_tags("awarded")).await?;
            let tender = tender::db::lock_own(tx, org, tender_id)
                .await?
                .ok_or(AppError::NotFound("Tender"))?;
            let audit = Audit::new("tender.awarded", "Tender", tender_id)
                .details(json!({ "awards": awarded, "bidsDecided": decided }));
            Ok((tender, audit))
        })
        .await?)
    }

    /// Records the signature of a pending contract: it becomes active.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn sign_contract(&self, ctx: &Context<'_>, id: ID) -> Result<Contract> {
        Ok(lifecycle::step::<Contract>(ctx, &id, &[ContractStatus::Pending], ContractStatus::Active).await?)
    }

    /// Ends an active contract as agreed.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn complete_contract(&self, ctx: &Context<'_>, id: ID) -> Result<Contract> {
        Ok(lifecycle::step::<Contract>(ctx, &id, &[ContractStatus::Active], ContractStatus::Completed).await?)
    }

    /// Ends an active contract early.
    #[graphql(guard = "public_write([ProcurementOfficer])")]
    async fn terminate_contract(&self, ctx: &Context<'_>, id: ID) -> Result<Contract> {
        Ok(lifecycle::step::<Contract>(ctx, &id, &[ContractStatus::Active], ContractStatus::Terminated).await?)
    }
}
