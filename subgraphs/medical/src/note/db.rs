use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::ClinicalNote;
use platform::crypto::Sealed;

pub async fn of_patients(conn: &mut PgConnection, patients: &[Uuid]) -> AppResult<Vec<ClinicalNote>> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"select id, patient_id, author_id, body_enc, body_key_id, amends_id, created_at, updated_at,
            signed_at,
            signed_by from clinical_notes where patient_id = any($1) order by created_at, id"#,
        patients
    )
    .fetch_all(conn)
    .await?)
}

pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<ClinicalNote>> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"select id, patient_id, author_id, body_enc, body_key_id, amends_id, created_at, updated_at,
            signed_at, signed_by from clinical_notes where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn for_update(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<ClinicalNote>> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"select id, patient_id, author_id, body_enc, body_key_id, amends_id, created_at, updated_at,
            signed_at, signed_by from clinical_notes where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    org: Uuid,
    patient: Uuid,
    author: Uuid,
    body: &Sealed,
    amends: Option<Uuid>,
) -> AppResult<ClinicalNote> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"insert into clinical_notes (id, organization_id, patient_id, author_id, body_enc, body_key_id,
            amends_id)
         values ($1, $2, $3, $4, $5, $6, $7) returning id, patient_id, author_id, body_enc,
            body_key_id, amends_id, created_at, updated_at, signed_at, signed_by"#,
        id,
        org,
        patient,
        author,
        &body.data,
        &body.key_id,
        amends
    )
    .fetch_one(conn)
    .await?)
}

pub async fn set_body(conn: &mut PgConnection, id: Uuid, body: &Sealed) -> AppResult<ClinicalNote> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"update clinical_notes set body_enc = $2, body_key_id = $3,
            updated_at = now() where id = $1 returning id, patient_id, author_id, body_enc,
            body_key_id, amends_id, created_at, updated_at, signed_at, signed_by"#,
        id,
        &body.data,
        &body.key_id
    )
    .fetch_one(conn)
    .await?)
}

pub async fn sign(conn: &mut PgConnection, id: Uuid, by: Uuid) -> AppResult<ClinicalNote> {
    Ok(sqlx::query_as!(
        ClinicalNote,
        r#"update clinical_notes set signed_at = now(), signed_by = $2,
            updated_at = now() where id = $1 returning id, patient_id, author_id, body_enc,
            body_key_id, amends_id, created_at, updated_at, signed_at, signed_by"#,
        id,
        by
    )
    .fetch_one(conn)
    .await?)
}
