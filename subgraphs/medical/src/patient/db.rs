use platform::AppResult;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Allergy, BloodType, Patient, Sex};
use platform::crypto::Sealed;

/// Keyset position in the alphabetical patient list.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PatientCursor {
    pub family: String,
    pub given: String,
    pub id: Uuid,
}

/// All rows by id, deleted ones included (history still points at them).
pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Patient>> {
    Ok(sqlx::query_as!(
        Patient,
        r#"select id, organization_id, mrn, given_name, family_name, birth_date, sex as "sex: _",
            blood_type as "blood_type: _", contact_enc, contact_key_id, insurance_enc,
            insurance_key_id, created_at, updated_at, deleted_at from patients where id = any($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?)
}

pub async fn live(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Patient>> {
    Ok(sqlx::query_as!(
        Patient,
        r#"select id, organization_id, mrn, given_name, family_name, birth_date, sex as "sex: _",
            blood_type as "blood_type: _", contact_enc, contact_key_id, insurance_enc,
            insurance_key_id, created_at, updated_at,
            deleted_at from patients where id = $1 and deleted_at is null for update"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// `search` matches a medical record number or a name by prefix.
pub async fn page(
    conn: &mut PgConnection,
    search: Option<&str>,
    after: Option<&PatientCursor>,
    limit: i64,
) -> AppResult<Vec<Patient>> {
    let pattern = search.map(|s| platform::validate::like_pattern(s, false));
    Ok(sqlx::query_as!(
        Patient,
        r#"select id, organization_id, mrn, given_name, family_name, birth_date, sex as "sex: _",
            blood_type as "blood_type: _", contact_enc, contact_key_id, insurance_enc,
            insurance_key_id, created_at, updated_at, deleted_at from patients
          where deleted_at is null
            and ($1::text is null or mrn ilike $1 or family_name ilike $1 or given_name ilike $1
                 or (given_name || ' ' || family_name) ilike $1 or (family_name || ' ' || given_name) ilike $1)
            and ($2::text is null or (lower(family_name), lower(given_name), id) > ($2, $3, $4))
          order by lower(family_name), lower(given_name), id
          limit $5"#,
        pattern,
        after.map(|c| c.family.clone()),
        after.map(|c| c.given.clone()),
        after.map(|c| c.id),
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub struct NewPatient<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub mrn: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub birth_date: chrono::NaiveDate,
    pub sex: &'a str,
    pub contact: Option<Sealed>,
    pub insurance: Option<Sealed>,
}

pub async fn insert(conn: &mut PgConnection, p: NewPatient<'_>) -> AppResult<Patient> {
    Ok(sqlx::query_as!(
        Patient,
        r#"insert into patients (id, organization_id, mrn, given_name, family_name, birth_date, sex,
                               contact_enc, contact_key_id, insurance_enc, insurance_key_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id, organization_id, mrn,
            given_name, family_name, birth_date, sex as "sex: _", blood_type as "blood_type: _",
            contact_enc, contact_key_id, insurance_enc, insurance_key_id, created_at, updated_at,
            deleted_at"#,
        p.id,
        p.organization_id,
        p.mrn,
        p.given_name,
        p.family_name,
        p.birth_date,
        p.sex,
        p.contact.as_ref().map(|s| s.data.clone()),
        p.contact.as_ref().map(|s| s.key_id.clone()),
        p.insurance.as_ref().map(|s| s.data.clone()),
        p.insurance.as_ref().map(|s| s.key_id.clone())
    )
    .fetch_one(conn)
    .await?)
}

/// Writes the whole administrative record (callers merge changes first).
pub async fn update(conn: &mut PgConnection, p: &Patient) -> AppResult<Patient> {
    Ok(sqlx::query_as!(
        Patient,
        r#"update patients set mrn = $2, given_name = $3, family_name = $4, birth_date = $5, sex = $6,
                contact_enc = $7, contact_key_id = $8, insurance_enc = $9, insurance_key_id = $10,
                blood_type = $11, updated_at = now()
          where id = $1 returning id, organization_id, mrn, given_name, family_name, birth_date,
            sex as "sex: _", blood_type as "blood_type: _", contact_enc, contact_key_id,
            insurance_enc, insurance_key_id, created_at, updated_at, deleted_at"#,
        p.id,
        &p.mrn,
        &p.given_name,
        &p.family_name,
        p.birth_date,
        p.sex as Sex,
        p.contact_enc.as_deref(),
        p.contact_key_id.as_deref(),
        p.insurance_enc.as_deref(),
        p.insurance_key_id.as_deref(),
        p.blood_type as Option<BloodType>
    )
    .fetch_one(conn)
    .await?)
}

pub async fn soft_delete(conn: &mut PgConnection, id: Uuid) -> AppResult<()> {
    sqlx::query!(
        r#"update patients set deleted_at = now(), updated_at = now() where id = $1"#,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn allergies_of(conn: &mut PgConnection, patients: &[Uuid]) -> AppResult<Vec<Allergy>> {
    Ok(sqlx::query_as!(
        Allergy,
        r#"select id, patient_id, substance, reaction, severity as "severity: _" from allergies
          where patient_id = any($1) order by created_at, id"#,
        patients
    )
    .fetch_all(conn)
    .await?)
}

pub async fn insert_allergy(
    conn: &mut PgConnection,
    org: Uuid,
    patient: Uuid,
    substance: &str,
    reaction: Option<&str>,
    severity: &str,
) -> AppResult<Allergy> {
    Ok(sqlx::query_as!(
        Allergy,
        r#"insert into allergies (organization_id, patient_id, substance, reaction, severity)
         values ($1, $2, $3, $4, $5) returning id, patient_id, substance, reaction, severity as "severity: _""#,
        org,
        patient,
        substance,
        reaction,
        severity
    )
    .fetch_one(conn)
    .await?)
}

pub async fn delete_allergy(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Uuid>> {
    Ok(
        sqlx::query_scalar!(r#"delete from allergies where id = $1 returning patient_id"#, id)
            .fetch_optional(conn)
            .await?,
    )
}
