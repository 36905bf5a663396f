use chrono::{DateTime, NaiveDate, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Award, Contract};

pub const COLUMNS: &str = "id, organization_id, tender_id, award_id, supplier_id, amount, currency, period_start, \
     period_end, status, signed_at, created_at";

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ContractCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

pub async fn page(
    conn: &mut PgConnection,
    status: Option<&str>,
    after: Option<&ContractCursor>,
    limit: i64,
) -> AppResult<Vec<Contract>> {
    Ok(sqlx::query_as!(
        Contract,
        r#"select id, organization_id, tender_id, award_id, supplier_id, amount, currency, period_start,
                  period_end, status as "status: _", signed_at, created_at
             from contracts
            where ($1::text is null or status = $1)
              and ($2::timestamptz is null or (created_at, id) > ($2, $3))
            order by created_at, id limit $4"#,
        status,
        after.map(|c| c.created_at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Contract>> {
    Ok(sqlx::query_as!(
        Contract,
        r#"select id, organization_id, tender_id, award_id, supplier_id, amount, currency, period_start,
                  period_end, status as "status: _", signed_at, created_at
             from contracts where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn of_awards(conn: &mut PgConnection, awards: &[Uuid]) -> AppResult<Vec<Contract>> {
    Ok(sqlx::query_as!(
        Contract,
        r#"select id, organization_id, tender_id, award_id, supplier_id, amount, currency, period_start,
                  period_end, status as "status: _", signed_at, created_at
             from contracts where award_id = any($1)"#,
        awards
    )
    .fetch_all(conn)
    .await?)
}

pub async fn awards_of(conn: &mut PgConnection, tenders: &[Uuid]) -> AppResult<Vec<Award>> {
    Ok(sqlx::query_as!(
        Award,
        r#"select a.id, a.tender_id, a.lot_id, a.supplier_id, a.bid_id, a.amount, a.currency, a.awarded_at
             from awards a left join lots l on l.id = a.lot_id
            where a.tender_id = any($1) order by a.tender_id, l.number nulls first, a.id"#,
        tenders
    )
    .fetch_all(conn)
    .await?)
}

pub async fn insert_award(conn: &mut PgConnection, org: Uuid, bid: &crate::bid::model::Bid) -> AppResult<Award> {
    Ok(sqlx::query_as!(
        Award,
        r#"insert into awards (organization_id, tender_id, lot_id, supplier_id, bid_id, amount, currency)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, tender_id, lot_id, supplier_id, bid_id, amount, currency, awarded_at"#,
        org,
        bid.tender_id,
        bid.lot_id,
        bid.organization_id,
        bid.id,
        bid.amount,
        bid.currency
    )
    .fetch_one(conn)
    .await?)
}

pub async fn insert_contract(
    conn: &mut PgConnection,
    org: Uuid,
    award: &Award,
    start: NaiveDate,
    end: NaiveDate,
) -> AppResult<Contract> {
    Ok(sqlx::query_as!(
        Contract,
        r#"insert into contracts (organization_id, tender_id, award_id, supplier_id, amount, currency,
                                 period_start, period_end)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id, organization_id, tender_id, award_id, supplier_id, amount, currency, period_start,
                  period_end, status as "status: _", signed_at, created_at"#,
        org,
        award.tender_id,
        award.id,
        award.supplier_id,
        award.amount,
        award.currency,
        start,
        end
    )
    .fetch_one(conn)
    .await?)
}

/// Accepts the awarded bids and rejects every other submitted bid of the
/// tender (RLS: the buyer's officers, after the deadline); returns how many
/// bids were decided.
pub async fn decide_bids(conn: &mut PgConnection, tender: Uuid, accepted: &[Uuid]) -> AppResult<u64> {
    Ok(sqlx::query!(
        "update bids set status = case when id = any($2) then 'accepted' else 'rejected' end, updated_at = now()
          where tender_id = $1 and status = 'submitted'",
        tender,
        accepted
    )
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn mark_awarded(conn: &mut PgConnection, tender: Uuid) -> AppResult<()> {
    sqlx::query!(
        "update tenders set status = 'awarded', updated_at = now() where id = $1",
        tender
    )
    .execute(conn)
    .await?;
    Ok(())
}
