//! The reads behind FHIR searches: keyset pages and their totals, always
//! in the caller's tenant transaction (RLS filters every statement).

use chrono::{DateTime, NaiveDate, Utc};
use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    appointment::model::Appointment,
    patient::{
        db::PatientCursor,
        model::{Allergy, Patient},
    },
    procedure::model::Procedure,
};

/// `Patient?identifier=…&name=…&birthdate=…&gender=…`, live records only.
#[derive(Default)]
pub struct PatientFilter {
    pub mrn: Option<String>,
    /// A `like` prefix pattern on the given, family or full name.
    pub name: Option<String>,
    pub born_from: Option<NaiveDate>,
    pub born_before: Option<NaiveDate>,
    pub sex: Option<&'static str>,
}

pub async fn patients(
    conn: &mut PgConnection,
    f: &PatientFilter,
    after: Option<&PatientCursor>,
    limit: i64,
) -> AppResult<Vec<Patient>> {
    Ok(sqlx::query_as!(
        Patient,
        r#"select id, organization_id, mrn, given_name, family_name, birth_date, sex as "sex: _",
            blood_type as "blood_type: _", contact_enc, contact_key_id, insurance_enc,
            insurance_key_id, created_at, updated_at, deleted_at from patients
          where deleted_at is null
            and ($1::text is null or mrn = $1)
            and ($2::text is null or family_name ilike $2 or given_name ilike $2
                 or (given_name || ' ' || family_name) ilike $2)
            and ($3::date is null or birth_date >= $3)
            and ($4::date is null or birth_date < $4)
            and ($5::text is null or sex = $5)
            and ($6::text is null or (lower(family_name), lower(given_name), id) > ($6, $7, $8))
          order by lower(family_name), lower(given_name), id
          limit $9"#,
        f.mrn,
        f.name,
        f.born_from,
        f.born_before,
        f.sex,
        after.map(|c| c.family.clone()),
        after.map(|c| c.given.clone()),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count_patients(conn: &mut PgConnection, f: &PatientFilter) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from patients
          where deleted_at is null
            and ($1::text is null or mrn = $1)
            and ($2::text is null or family_name ilike $2 or given_name ilike $2
                 or (given_name || ' ' || family_name) ilike $2)
            and ($3::date is null or birth_date >= $3)
            and ($4::date is null or birth_date < $4)
            and ($5::text is null or sex = $5)"#,
        f.mrn,
        f.name,
        f.born_from,
        f.born_before,
        f.sex
    )
    .fetch_one(conn)
    .await?)
}

/// `Appointment?patient=…&practitioner=…&date=…&status=…`, by start.
#[derive(Default)]
pub struct AppointmentFilter {
    pub patient: Option<Uuid>,
    pub practitioner: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    /// Any of these statuses; `Some(empty)` matches nothing.
    pub statuses: Option<Vec<String>>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct TimeCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

pub async fn appointments(
    conn: &mut PgConnection,
    f: &AppointmentFilter,
    after: Option<&TimeCursor>,
    limit: i64,
) -> AppResult<Vec<Appointment>> {
    Ok(sqlx::query_as!(
        Appointment,
        r#"select id, organization_id, patient_id, practitioner_id, starts_at, ends_at, status as "status: _",
            reason, idempotency_key, created_at from appointments
          where ($1::uuid is null or patient_id = $1)
            and ($2::uuid is null or practitioner_id = $2)
            and ($3::timestamptz is null or starts_at >= $3)
            and ($4::timestamptz is null or starts_at < $4)
            and ($5::text[] is null or status = any($5))
            and ($6::timestamptz is null or (starts_at, id) > ($6, $7))
          order by starts_at, id
          limit $8"#,
        f.patient,
        f.practitioner,
        f.from,
        f.before,
        f.statuses.as_deref(),
        after.map(|c| c.at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count_appointments(conn: &mut PgConnection, f: &AppointmentFilter) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from appointments
          where ($1::uuid is null or patient_id = $1)
            and ($2::uuid is null or practitioner_id = $2)
            and ($3::timestamptz is null or starts_at >= $3)
            and ($4::timestamptz is null or starts_at < $4)
            and ($5::text[] is null or status = any($5))"#,
        f.patient,
        f.practitioner,
        f.from,
        f.before,
        f.statuses.as_deref()
    )
    .fetch_one(conn)
    .await?)
}

/// `Procedure?patient=…`, by the time performed.
pub async fn procedures(
    conn: &mut PgConnection,
    patient: Option<Uuid>,
    after: Option<&TimeCursor>,
    limit: i64,
) -> AppResult<Vec<Procedure>> {
    Ok(sqlx::query_as!(
        Procedure,
        r#"select id, patient_id, appointment_id, code, performed_at, performer_id, notes from procedures
          where ($1::uuid is null or patient_id = $1)
            and ($2::timestamptz is null or (performed_at, id) > ($2, $3))
          order by performed_at, id
          limit $4"#,
        patient,
        after.map(|c| c.at),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count_procedures(conn: &mut PgConnection, patient: Option<Uuid>) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from procedures where ($1::uuid is null or patient_id = $1)"#,
        patient
    )
    .fetch_one(conn)
    .await?)
}

pub async fn procedure(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Procedure>> {
    Ok(sqlx::query_as!(
        Procedure,
        r#"select id, patient_id, appointment_id, code, performed_at, performer_id, notes from procedures
          where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// `AllergyIntolerance?patient=…`, by id (a stable order for the cursor).
pub async fn allergies(
    conn: &mut PgConnection,
    patient: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<Allergy>> {
    Ok(sqlx::query_as!(
        Allergy,
        r#"select id, patient_id, substance, reaction, severity as "severity: _" from allergies
          where ($1::uuid is null or patient_id = $1) and ($2::uuid is null or id > $2)
          order by id
          limit $3"#,
        patient,
        after,
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count_allergies(conn: &mut PgConnection, patient: Option<Uuid>) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from allergies where ($1::uuid is null or patient_id = $1)"#,
        patient
    )
    .fetch_one(conn)
    .await?)
}

pub async fn allergy(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Allergy>> {
    Ok(sqlx::query_as!(
        Allergy,
        r#"select id, patient_id, substance, reaction, severity as "severity: _" from allergies where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// `Observation?patient=…`: live patients with a recorded blood group.
pub async fn blood_grouped(
    conn: &mut PgConnection,
    patient: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<Patient>> {
    Ok(sqlx::query_as!(
        Patient,
        r#"select id, organization_id, mrn, given_name, family_name, birth_date, sex as "sex: _",
            blood_type as "blood_type: _", contact_enc, contact_key_id, insurance_enc,
            insurance_key_id, created_at, updated_at, deleted_at from patients
          where deleted_at is null and blood_type is not null
            and ($1::uuid is null or id = $1) and ($2::uuid is null or id > $2)
          order by id
          limit $3"#,
        patient,
        after,
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn count_blood_grouped(conn: &mut PgConnection, patient: Option<Uuid>) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from patients
          where deleted_at is null and blood_type is not null and ($1::uuid is null or id = $1)"#,
        patient
    )
    .fetch_one(conn)
    .await?)
}
