use chrono::{DateTime, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Invoice, InvoiceLine};

pub const COLUMNS: &str = "id, patient_id, status, currency, issued_at, paid_at, voided_at, created_at";

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct InvoiceCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

pub async fn page(
    conn: &mut PgConnection,
    status: Option<&str>,
    after: Option<&InvoiceCursor>,
    limit: i64,
) -> AppResult<Vec<Invoice>> {
    Ok(sqlx::query_as!(
        Invoice,
        r#"select id, patient_id, status as "status: _", currency, issued_at, paid_at, voided_at,
            created_at from invoices
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

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Invoice>> {
    Ok(sqlx::query_as!(
        Invoice,
        r#"select id, patient_id, status as "status: _", currency, issued_at, paid_at, voided_at,
            created_at from invoices where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn of_patients(conn: &mut PgConnection, patients: &[Uuid]) -> AppResult<Vec<Invoice>> {
    Ok(sqlx::query_as!(
        Invoice,
        r#"select id, patient_id, status as "status: _", currency, issued_at, paid_at, voided_at,
            created_at from invoices where patient_id = any($1) order by created_at, id"#,
        patients
    )
    .fetch_all(conn)
    .await?)
}

pub async fn lines_of(conn: &mut PgConnection, invoices: &[Uuid]) -> AppResult<Vec<InvoiceLine>> {
    Ok(sqlx::query_as!(
        InvoiceLine,
        r#"select invoice_id, code, description, quantity, unit_price_cents::int4 as "unit_price_cents!",
                (quantity * unit_price_cents)::int4 as "total_cents!"
           from invoice_lines where invoice_id = any($1) order by invoice_id, position"#,
        invoices
    )
    .fetch_all(conn)
    .await?)
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, patient: Uuid) -> AppResult<Invoice> {
    Ok(sqlx::query_as!(
        Invoice,
        r#"insert into invoices (organization_id, patient_id) values ($1, $2) returning id, patient_id,
            status as "status: _", currency, issued_at, paid_at, voided_at, created_at"#,
        org,
        patient
    )
    .fetch_one(conn)
    .await?)
}

pub struct Line {
    pub code: String,
    pub description: String,
    pub quantity: i32,
    pub unit_price_cents: i32,
}

/// Replaces a draft's lines (the trigger refuses for any other status).
pub async fn replace_lines(conn: &mut PgConnection, org: Uuid, invoice: Uuid, lines: &[Line]) -> AppResult<()> {
    sqlx::query!(r#"delete from invoice_lines where invoice_id = $1"#, invoice)
        .execute(&mut *conn)
        .await?;
    let positions: Vec<i32> = (0..lines.len() as i32).collect();
    let codes: Vec<&str> = lines.iter().map(|l| l.code.as_str()).collect();
    let descriptions: Vec<&str> = lines.iter().map(|l| l.description.as_str()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.unit_price_cents as i64).collect();
    sqlx::query!(
        "insert into invoice_lines (organization_id, invoice_id, position, code, description, quantity, unit_price_cents)
         select $1, $2, * from unnest($3::int4[], $4::text[], $5::text[], $6::int4[], $7::int8[])",
        org,
        invoice,
        &positions,
        &codes as &[&str],
        &descriptions as &[&str],
        &quantities,
        &prices
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn line_count(conn: &mut PgConnection, id: Uuid) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "count!" from invoice_lines where invoice_id = $1"#,
        id
    )
    .fetch_one(conn)
    .await?)
}
