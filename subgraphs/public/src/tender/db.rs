use chrono::{DateTime, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Amendment, Lot, Tender};

/// What `Tender` is read from (the lifecycle's generic statement).
pub const COLUMNS: &str = "id, organization_id, reference, title, description, procurement_method, main_category, \
     cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline, \
     (submission_deadline <= now()) as deadline_passed, status, cancellation_reason, published_at, created_at";

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TenderCursor {
    pub submission_deadline: DateTime<Utc>,
    pub id: Uuid,
}

pub struct Filter<'a> {
    pub status: Option<&'a str>,
    /// A CPV code or its leading digits (a division, group or class).
    pub cpv: Option<&'a str>,
    pub deadline_after: Option<DateTime<Utc>>,
    /// Words in the reference, title or description.
    pub search: Option<&'a str>,
    /// Whether the caller's own drafts are listed (partners never see any).
    pub drafts: bool,
}

/// The tenders the caller sees (RLS: its own, and published ones of the
/// vertical), by submission deadline.
pub async fn page(
    conn: &mut PgConnection,
    f: &Filter<'_>,
    after: Option<&TenderCursor>,
    limit: i64,
) -> AppResult<Vec<Tender>> {
    let search = f.search.map(|s| platform::validate::like_pattern(s, true));
    let cpv = f.cpv.map(|c| format!("{c}%"));
    Ok(sqlx::query_as!(
        Tender,
        r#"select id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at
             from tenders
            where ($1::text is null or status = $1)
              and ($2::text is null or exists (select 1 from unnest(cpv_codes) c where c like $2))
              and ($3::timestamptz is null or submission_deadline > $3)
              and ($4::text is null or reference ilike $4 or title ilike $4 or description ilike $4)
              and ($5::timestamptz is null or (submission_deadline, id) > ($5, $6))
              and ($8 or status <> 'draft')
            order by submission_deadline, id limit $7"#,
        f.status,
        cpv,
        f.deadline_after,
        search,
        after.map(|c| c.submission_deadline),
        after.map(|c| c.id),
        limit,
        f.drafts
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Tender>> {
    Ok(sqlx::query_as!(
        Tender,
        r#"select id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at
             from tenders where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

/// How a transaction takes its turn on a tender's bids (a transaction-scoped
/// advisory lock, keyed by the tender): bid submissions and withdrawals
/// share it, so they never wait for each other; the buyer's steps (close,
/// award, cancel…) take it alone, so they wait for the submissions in
/// flight and every later submission sees the step's outcome. Without it a
/// submission that began before the deadline could commit after the close
/// had counted the bids, and stay `submitted` on a closed tender.
#[derive(Clone, Copy)]
pub enum Turn {
    Bidding,
    Deciding,
}

pub async fn take_turn(conn: &mut PgConnection, tender: Uuid, turn: Turn) -> AppResult<()> {
    let key = tender.to_string();
    match turn {
        Turn::Bidding => {
            sqlx::query!(
                r#"select 1 as "locked!" from (select pg_advisory_xact_lock_shared(hashtext('procurement.tender'), hashtext($1))) l"#,
                key
            )
            .fetch_one(conn)
            .await?;
        }
        Turn::Deciding => {
            sqlx::query!(
                r#"select 1 as "locked!" from (select pg_advisory_xact_lock(hashtext('procurement.tender'), hashtext($1))) l"#,
                key
            )
            .fetch_one(conn)
            .await?;
        }
    }
    Ok(())
}

/// The tender, locked for a change by its buyer (RLS: the caller's own).
pub async fn lock_own(conn: &mut PgConnection, org: Uuid, id: Uuid) -> AppResult<Option<Tender>> {
    Ok(sqlx::query_as!(
        Tender,
        r#"select id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at
             from tenders where organization_id = $1 and id = $2 for update"#,
        org,
        id
    )
    .fetch_optional(conn)
    .await?)
}

pub struct NewTender<'a> {
    pub reference: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub method: &'a str,
    pub category: &'a str,
    pub cpv_codes: &'a [String],
    pub estimated_amount: i64,
    pub currency: &'a str,
    pub enquiry_deadline: Option<DateTime<Utc>>,
    pub submission_deadline: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, t: &NewTender<'_>) -> AppResult<Tender> {
    Ok(sqlx::query_as!(
        Tender,
        r#"insert into tenders (organization_id, reference, title, description, procurement_method, main_category,
                               cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           returning id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at"#,
        org,
        t.reference,
        t.title,
        t.description,
        t.method,
        t.category,
        t.cpv_codes,
        t.estimated_amount,
        t.currency,
        t.enquiry_deadline,
        t.submission_deadline
    )
    .fetch_one(conn)
    .await?)
}

pub async fn insert_lot(
    conn: &mut PgConnection,
    org: Uuid,
    tender: Uuid,
    number: i32,
    title: &str,
    amount: i64,
) -> AppResult<()> {
    sqlx::query!(
        "insert into lots (organization_id, tender_id, number, title, estimated_amount) values ($1, $2, $3, $4, $5)",
        org,
        tender,
        number,
        title,
        amount
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The amended fields of a published tender (the amendment row is written beside it).
pub struct Amended {
    pub title: String,
    pub description: String,
    pub estimated_amount: i64,
    pub enquiry_deadline: Option<DateTime<Utc>>,
    pub submission_deadline: DateTime<Utc>,
}

pub async fn amend(
    conn: &mut PgConnection,
    id: Uuid,
    a: &Amended,
    rationale: &str,
    changes: &serde_json::Value,
) -> AppResult<Tender> {
    let org: Uuid = sqlx::query_scalar!(
        r#"insert into amendments (organization_id, tender_id, rationale, changes)
           select organization_id, id, $2, $3 from tenders where id = $1 returning organization_id"#,
        id,
        rationale,
        changes
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(sqlx::query_as!(
        Tender,
        r#"update tenders set title = $3, description = $4, estimated_amount = $5, enquiry_deadline = $6,
                  submission_deadline = $7, updated_at = now()
            where organization_id = $1 and id = $2
           returning id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at"#,
        org,
        id,
        a.title,
        a.description,
        a.estimated_amount,
        a.enquiry_deadline,
        a.submission_deadline
    )
    .fetch_one(conn)
    .await?)
}

pub async fn lots_of(conn: &mut PgConnection, tenders: &[Uuid]) -> AppResult<Vec<Lot>> {
    Ok(sqlx::query_as!(
        Lot,
        r#"select l.id, l.tender_id, l.number, l.title, l.estimated_amount, t.currency
             from lots l join tenders t on t.id = l.tender_id
            where l.tender_id = any($1) order by l.tender_id, l.number"#,
        tenders
    )
    .fetch_all(conn)
    .await?)
}

pub async fn amendments_of(conn: &mut PgConnection, tenders: &[Uuid]) -> AppResult<Vec<Amendment>> {
    Ok(sqlx::query_as!(
        Amendment,
        r#"select id, tender_id, rationale, changes, amended_at from amendments
            where tender_id = any($1) order by tender_id, amended_at, id"#,
        tenders
    )
    .fetch_all(conn)
    .await?)
}

/// Submitted bids per tender: a count, never the bids (see `bid_counts` in the migration).
pub async fn bid_counts(conn: &mut PgConnection, tenders: &[Uuid]) -> AppResult<Vec<(Uuid, i64)>> {
    Ok(sqlx::query!(
        r#"select tender_id as "tender_id!", bids as "bids!" from bid_counts($1)"#,
        tenders
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.tender_id, r.bids))
    .collect())
}

pub async fn cancel(conn: &mut PgConnection, id: Uuid, reason: &str) -> AppResult<Tender> {
    Ok(sqlx::query_as!(
        Tender,
        r#"update tenders set status = 'cancelled', cancellation_reason = $2, updated_at = now() where id = $1
           returning id, organization_id, reference, title, description,
                  procurement_method as "procurement_method: _", main_category as "main_category: _",
                  cpv_codes, estimated_amount, currency, enquiry_deadline, submission_deadline,
                  (submission_deadline <= now()) as "deadline_passed!", status as "status: _",
                  cancellation_reason, published_at, created_at"#,
        id,
        reason
    )
    .fetch_one(conn)
    .await?)
}

/// The caller's organization's buyer profile (RLS: its own row, or any with the vertical).
pub async fn buyer_profile(conn: &mut PgConnection) -> AppResult<Option<super::BuyerProfile>> {
    Ok(sqlx::query_as!(
        super::BuyerProfile,
        "select legal_name, identifier_scheme, identifier_id from buyers where organization_id = current_org()"
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn upsert_buyer(conn: &mut PgConnection, org: Uuid, b: &super::BuyerProfile) -> AppResult<()> {
    sqlx::query!(
        "insert into buyers (organization_id, legal_name, identifier_scheme, identifier_id) values ($1, $2, $3, $4)
         on conflict (organization_id) do update
           set legal_name = excluded.legal_name, identifier_scheme = excluded.identifier_scheme,
               identifier_id = excluded.identifier_id",
        org,
        b.legal_name,
        b.identifier_scheme,
        b.identifier_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
