//! `erasePatient`: a practice answers a patient's erasure request in one
//! call. What identifies the patient goes (names, birth date, contact,
//! insurance number, appointments' confirmation addresses), sealed where
//! the medical record must be kept; the record closes, and the retention
//! job deletes its clinical content when the law lets it. Content acts on
//! `medical.patient.erased` for the documents it holds.

use chrono::{DateTime, NaiveDate, Utc};
use platform::{
    crypto::Sealed,
    events::Event,
    mutation::{mutate, Audit},
    retention::Category,
    rgpd::ErasureReport,
    validate::text,
    AppError, AppResult,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    appointment::notify_aad,
    patient::model::{contact_aad, Contact},
    state, PSEUDONYMIZE_PATIENT,
};

/// The additional data the sealed identity is bound to.
pub fn sealed_identity_aad(patient: Uuid) -> String {
    format!("medical.patient.sealed_identity:{patient}")
}

type Identity = (
    String,
    String,
    String,
    NaiveDate,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

async fn count(conn: &mut PgConnection, table: &str, patient: Uuid) -> AppResult<i64> {
    // Dynamic on purpose: a count per table of the patient's record.
    Ok(
        sqlx::query_scalar(&format!("select count(*) from {table} where patient_id = $1"))
            .bind(patient)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn erase(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
    reason: &str,
    confirm_mrn: &str,
) -> AppResult<ErasureReport> {
    let st = state(ctx)?;
    let reason = text("reason", reason, 1, 500)?;
    let now = Utc::now();
    let retention = &st.settings.retention;
    mutate(ctx, async |tx| {
        let row: Option<Identity> = sqlx::query_as(
            "select mrn, given_name, family_name, birth_date, sex, deleted_at, erased_at
               from patients where id = $1 for update",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let (mrn, given, family, birth, sex, deleted_at, erased_at) = row.ok_or(AppError::NotFound("Patient"))?;
        if erased_at.is_some() {
            return Err(AppError::Conflict("this patient was already erased".into()));
        }
        if confirm_mrn.trim() != mrn {
            return Err(AppError::bad_input(
                "confirmMrn",
                "is not this patient's medical record number: check that the id names the patient to erase",
            ));
        }
        // The addresses go from the mail records too, so read them before they are dropped.
        let addresses = known_addresses(st, tx, id).await?;
        let mails = platform::mail::forget_recipients(tx, &addresses).await?;
        // The record closes now, unless it closed before: its retention runs from then.
        let closed = deleted_at.unwrap_or(now);
        let identity = json!({ "mrn": mrn, "givenName": given, "familyName": family, "birthDate": birth, "sex": sex });
        let sealed = st
            .cipher
            .seal(identity.to_string().as_bytes(), &sealed_identity_aad(id))?;
        // Dynamic on purpose: the retention rule's own pseudonymization.
        sqlx::query(&format!("update patients set {PSEUDONYMIZE_PATIENT} where id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "update patients set erased_at = $2, erasure_reason = $3, deleted_at = coalesce(deleted_at, $2),
                    sealed_identity_enc = $4, sealed_identity_key_id = $5
              where id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(&reason)
        .bind(&sealed.data)
        .bind(&sealed.key_id)
        .execute(&mut *tx)
        .await?;
        let cancelled = sqlx::query(
            "update appointments set status = 'cancelled', updated_at = now()
              where patient_id = $1 and status in ('scheduled', 'checked_in') and starts_at > $2",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let confirmations = sqlx::query(
            "update appointments set notify_email_enc = null, notify_email_key_id = null
              where patient_id = $1 and notify_email_enc is not null",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // An appointment's reason is free text about the patient: it goes
        // now; the appointment itself stays with the record until its
        // retention ends.
        let reasons = sqlx::query("update appointments set reason = null, updated_at = now() where patient_id = $1 and reason is not null")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let allergies = count(tx, "allergies", id).await?;
        let notes = count(tx, "clinical_notes", id).await?;
        let procedures = count(tx, "procedures", id).await?;
        let appointments = count(tx, "appointments", id).await?;
        // Invoices go 10 years after they were paid or voided (the rule's
        // own clock), not after the record closed.
        let (settled, last_settled): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "select count(*), max(coalesce(paid_at, voided_at)) from invoices
              where patient_id = $1 and coalesce(paid_at, voided_at) is not null",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let open = count(tx, "invoices", id).await? - settled;
        let trail = count_trail(tx, id).await?;

        let mut report = ErasureReport::new(id, now);
        report
            .add_erased(
                "name, medical record number, birth date (year kept), sex, blood type, contact details, insurance number",
                1,
            )
            .add_erased("future appointments, cancelled", i64::try_from(cancelled).unwrap_or(i64::MAX))
            .add_erased(
                "appointment confirmation addresses",
                i64::try_from(confirmations).unwrap_or(i64::MAX),
            )
            .add_erased("addresses in mail records", mails)
            .add_erased("appointment reasons", i64::try_from(reasons).unwrap_or(i64::MAX));
        for (what, n, category) in [
            ("identity, sealed (no role can read it)", 1, Category::ClinicalRecords),
            ("clinical notes", notes, Category::ClinicalRecords),
            ("allergies", allergies, Category::ClinicalRecords),
            ("procedures", procedures, Category::ClinicalRecords),
            ("appointments (without the patient's name or reason)", appointments, Category::ClinicalRecords),
        ] {
            if n > 0 {
                report.add_retained(what, n, category, retention, closed);
            }
        }
        if let (true, Some(last)) = (settled > 0, last_settled) {
            report.add_retained("settled invoices (without the patient's name)", settled, Category::Invoices, retention, last);
        }
        if open > 0 {
            report.add_retained_pending(
                "open invoices (without the patient's name)",
                open,
                Category::Invoices,
                retention,
                "their payment or voiding",
            );
        }
        report.add_audit_trail(trail + 1);
        Ok((
            report,
            // The reason is free text (it may name the patient): it stays
            // on the pseudonymized record, not in the trail that outlives it.
            Audit::new("patient.erase", "Patient", id)
                .event(Event::new("medical.patient.erased", id, json!({ "patient": id }))),
        ))
    })
    .await
}

async fn count_trail(conn: &mut PgConnection, patient: Uuid) -> AppResult<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from audit_log where entity_id = $1")
            .bind(patient)
            .fetch_one(conn)
            .await?,
    )
}

type SealedRow = (Uuid, Option<Vec<u8>>, Option<String>);

/// Every e-mail address the practice holds for the patient: their contact
/// details' and the appointments' confirmation addresses.
async fn known_addresses(st: &crate::State, conn: &mut PgConnection, patient: Uuid) -> AppResult<Vec<String>> {
    let mut found = vec![];
    let contact: Option<SealedRow> =
        sqlx::query_as("select id, contact_enc, contact_key_id from patients where id = $1")
            .bind(patient)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((id, Some(data), Some(key_id))) = contact {
        let json = st.cipher.open(&Sealed { data, key_id }, &contact_aad(id))?;
        let contact: Contact = serde_json::from_slice(&json).map_err(|e| AppError::Internal(e.into()))?;
        found.extend(contact.email);
    }
    let notify: Vec<SealedRow> = sqlx::query_as(
        "select id, notify_email_enc, notify_email_key_id from appointments
          where patient_id = $1 and notify_email_enc is not null",
    )
    .bind(patient)
    .fetch_all(&mut *conn)
    .await?;
    for (id, data, key_id) in notify {
        if let (Some(data), Some(key_id)) = (data, key_id) {
            found.push(st.cipher.open_str(&Sealed { data, key_id }, &notify_aad(id))?);
        }
    }
    Ok(found)
}
