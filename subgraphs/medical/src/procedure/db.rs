use chrono::{DateTime, Utc};
use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Procedure;

pub async fn of_patients(conn: &mut PgConnection, patients: &[Uuid]) -> AppResult<Vec<Procedure>> {
    Ok(sqlx::query_as!(
        Procedure,
        r#"select id, patient_id, appointment_id, code, performed_at, performer_id,
            notes from procedures where patient_id = any($1) order by performed_at, id"#,
        patients
    )
    .fetch_all(conn)
    .await?)
}

pub struct NewProcedure<'a> {
    pub organization_id: Uuid,
    pub patient_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub code: &'a str,
    pub performed_at: DateTime<Utc>,
    pub performer_id: Uuid,
    pub notes: Option<&'a str>,
}

pub async fn insert(conn: &mut PgConnection, p: &NewProcedure<'_>) -> AppResult<Procedure> {
    Ok(sqlx::query_as!(
        Procedure,
        r#"insert into procedures (organization_id, patient_id, appointment_id, code, performed_at,
            performer_id, notes)
         values ($1, $2, $3, $4, $5, $6, $7) returning id, patient_id, appointment_id, code,
            performed_at, performer_id, notes"#,
        p.organization_id,
        p.patient_id,
        p.appointment_id,
        p.code,
        p.performed_at,
        p.performer_id,
        p.notes
    )
    .fetch_one(conn)
    .await?)
}
