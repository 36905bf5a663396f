use chrono::{DateTime, Utc};
use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Appointment;

pub const COLUMNS: &str =
    "id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status, reason, idempotency_key, created_at";

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AppointmentCursor {
    pub starts_at: DateTime<Utc>,
    pub id: Uuid,
}

pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub practitioner: Option<Uuid>,
    pub status: Option<&'static str>,
}

pub async fn page(
    conn: &mut PgConnection,
    f: &Filter,
    after: Option<&AppointmentCursor>,
    limit: i64,
) -> AppResult<Vec<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"select id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status as "status: _",
            reason, idempotency_key, created_at from appointments
          where ($1::timestamptz is null or ends_at > $1)
            and ($2::timestamptz is null or starts_at < $2)
            and ($3::uuid is null or practitioner_id = $3)
            and ($4::text is null or status = $4)
            and ($5::timestamptz is null or (starts_at, id) > ($5, $6))
          order by starts_at, id
          limit $7"#,
        f.from,
        f.to,
        f.practitioner,
        f.status,
        after.map(|c| c.starts_at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"select id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status as "status: _",
            reason, idempotency_key, created_at from appointments where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

/// Appointments of several practitioners overlapping one range.
pub async fn of_practitioners(
    conn: &mut PgConnection,
    practitioners: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"select id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status as "status: _",
            reason, idempotency_key, created_at from appointments
          where practitioner_id = any($1) and ends_at > $2 and starts_at < $3
          order by starts_at, id"#,
        practitioners,
        from,
        to
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_idempotency_key(conn: &mut PgConnection, key: &str) -> AppResult<Option<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"select id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status as "status: _",
            reason, idempotency_key, created_at from appointments where idempotency_key = $1"#,
        key
    )
    .fetch_optional(conn)
    .await?)
}

pub struct NewAppointment<'a> {
    pub organization_id: Uuid,
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

/// `None` when the idempotency key was already used (the caller re-reads).
pub async fn insert(conn: &mut PgConnection, a: &NewAppointment<'_>) -> AppResult<Option<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"insert into appointments (organization_id, patient_id, practitioner_id, starts_at, ends_at, reason,
            idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict on constraint appointments_idempotency_key do nothing
         returning id, organization_id, patient_id, practitioner_id, starts_at, ends_at,
            status as "status: _", reason, idempotency_key, created_at"#,
        a.organization_id,
        a.patient_id,
        a.practitioner_id,
        a.starts_at,
        a.ends_at,
        a.reason,
        a.idempotency_key
    )
    .fetch_optional(conn)
    .await?)
}
