use chrono::{DateTime, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Bid;

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BidCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The caller's organization's own bids, newest last.
pub async fn own_page(
    conn: &mut PgConnection,
    org: Uuid,
    status: Option<&str>,
    after: Option<&BidCursor>,
    limit: i64,
) -> AppResult<Vec<Bid>> {
    Ok(sqlx::query_as!(
        Bid,
        r#"select b.id, b.organization_id, b.buyer_id, b.tender_id, b.lot_id, b.amount, b.currency,
                  b.technical_summary, b.status as "status: _", b.submitted_at,
                  tender_opened(b.buyer_id, b.tender_id) as "opened!", b.created_at
             from bids b
            where b.organization_id = $1 and ($2::text is null or b.status = $2)
              and ($3::timestamptz is null or (b.created_at, b.id) > ($3, $4))
            order by b.created_at, b.id limit $5"#,
        org,
        status,
        after.map(|c| c.created_at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// The bids of these tenders that RLS lets the caller see.
pub async fn of_tenders(conn: &mut PgConnection, tenders: &[Uuid]) -> AppResult<Vec<Bid>> {
    Ok(sqlx::query_as!(
        Bid,
        r#"select b.id, b.organization_id, b.buyer_id, b.tender_id, b.lot_id, b.amount, b.currency,
                  b.technical_summary, b.status as "status: _", b.submitted_at,
                  tender_opened(b.buyer_id, b.tender_id) as "opened!", b.created_at
             from bids b where b.tender_id = any($1) order by b.tender_id, b.amount, b.id"#,
        tenders
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Bid>> {
    Ok(sqlx::query_as!(
        Bid,
        r#"select b.id, b.organization_id, b.buyer_id, b.tender_id, b.lot_id, b.amount, b.currency,
                  b.technical_summary, b.status as "status: _", b.submitted_at,
                  tender_opened(b.buyer_id, b.tender_id) as "opened!", b.created_at
             from bids b where b.id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub struct NewBid<'a> {
    pub buyer_id: Uuid,
    pub tender_id: Uuid,
    pub lot_id: Option<Uuid>,
    pub amount: i64,
    pub currency: &'a str,
    pub technical_summary: &'a str,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, b: &NewBid<'_>) -> AppResult<Bid> {
    Ok(sqlx::query_as!(
        Bid,
        r#"insert into bids (organization_id, buyer_id, tender_id, lot_id, amount, currency, technical_summary)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, organization_id, buyer_id, tender_id, lot_id, amount, currency, technical_summary,
                     status as "status: _", submitted_at, tender_opened(buyer_id, tender_id) as "opened!", created_at"#,
        org,
        b.buyer_id,
        b.tender_id,
        b.lot_id,
        b.amount,
        b.currency,
        b.technical_summary
    )
    .fetch_one(conn)
    .await?)
}

/// Moves the caller's own bid from `from` to `to` while its tender is
/// published and before the deadline (database clock, at the moment of the
/// move, not the transaction's start); `None` if it did not move. It takes
/// its turn on the tender first, so a close or an award in progress
/// finishes before it (and it then finds the tender closed).
pub async fn move_before_deadline(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    from: &str,
    to: &str,
) -> AppResult<Option<Bid>> {
    let tender = sqlx::query_scalar!(
        "select tender_id from bids where organization_id = $1 and id = $2",
        org,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(tender) = tender else { return Ok(None) };
    crate::tender::db::take_turn(conn, tender, crate::tender::db::Turn::Bidding).await?;
    Ok(sqlx::query_as!(
        Bid,
        r#"update bids b set status = $4, updated_at = now(),
                  submitted_at = case when $4 = 'submitted' then now() else b.submitted_at end
             from tenders t
            where b.organization_id = $1 and b.id = $2 and b.status = $3
              and t.organization_id = b.buyer_id and t.id = b.tender_id
              and t.status = 'published' and t.submission_deadline > clock_timestamp()
           returning b.id, b.organization_id, b.buyer_id, b.tender_id, b.lot_id, b.amount, b.currency,
                     b.technical_summary, b.status as "status: _", b.submitted_at, false as "opened!", b.created_at"#,
        org,
        id,
        from,
        to
    )
    .fetch_optional(conn)
    .await?)
}

/// The lots of a tender the caller can see (to check a bid's or an award's lot).
pub async fn lot_ids(conn: &mut PgConnection, tender: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar!("select id from lots where tender_id = $1 order by number", tender)
            .fetch_all(conn)
            .await?,
    )
}
