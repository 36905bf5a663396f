//! Recording procedures.

pub mod db;
pub mod model;

use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{DateTime, Duration, Utc};
use platform::{
    guards::auth,
    ids::parse_id,
    mutation::{mutate, Audit},
    validate::optional_text,
    AppError, AppResult,
    Role::*,
};
use serde_json::json;

use crate::{access::medical_write, appointment, patient};
use model::Procedure;

/// A procedure the calling practitioner performed on a patient.
#[derive(InputObject)]
pub struct RecordProcedureInput {
    pub patient_id: ID,
    /// The appointment it belongs to, if any (same patient).
    pub appointment_id: Option<ID>,
    /// CCAM (7 characters, e.g. `DEQP003`) or CPT (5 digits, e.g. `93000`) code.
    pub code: String,
    pub performed_at: DateTime<Utc>,
    pub notes: Option<String>,
}

/// CCAM: 4 letters + 3 digits; CPT: 5 digits or 4 digits + a letter.
pub fn valid_code(code: &str) -> AppResult<String> {
    let c = code.trim().to_uppercase();
    let b = c.as_bytes();
    let ccam = b.len() == 7 && b[..4].iter().all(u8::is_ascii_uppercase) && b[4..].iter().all(u8::is_ascii_digit);
    let cpt =
        b.len() == 5 && b[..4].iter().all(u8::is_ascii_digit) && (b[4].is_ascii_digit() || b[4].is_ascii_uppercase());
    if ccam || cpt {
        Ok(c)
    } else {
        Err(AppError::bad_input(
            "code",
            "not a CCAM (e.g. DEQP003) or CPT (e.g. 93000) code",
        ))
    }
}

#[derive(Default)]
pub struct ProcedureMutation;

#[Object]
impl ProcedureMutation {
    /// Records a procedure performed by the calling practitioner.
    #[graphql(guard = "medical_write([Practitioner])")]
    async fn record_procedure(&self, ctx: &Context<'_>, input: RecordProcedureInput) -> Result<Procedure> {
        let caller = auth(ctx)?;
        let performer = caller.user_id().ok_or(AppError::Forbidden)?;
        let patient_id = parse_id("patientId", &input.patient_id)?;
        let appointment_id = input
            .appointment_id
            .as_ref()
            .map(|a| parse_id("appointmentId", a))
            .transpose()?;
        let code = valid_code(&input.code)?;
        if input.performed_at > Utc::now() + Duration::minutes(5) {
            return Err(AppError::bad_input("performedAt", "cannot be in the future").into());
        }
        let notes = optional_text("notes", input.notes.as_deref(), 10_000)?;
        Ok(mutate(ctx, async |tx| {
            if patient::db::live(tx, patient_id).await?.is_none() {
                return Err(AppError::bad_input("patientId", "no such patient"));
            }
            // The performer is the caller: their token may outlive a removal
            // that medical already knows of.
            crate::practitioner::require_bookable(tx, "performer", performer).await?;
            if let Some(a) = appointment_id {
                let found = appointment::db::by_ids(tx, &[a]).await?;
                if !found.iter().any(|x| x.patient_id == patient_id) {
                    return Err(AppError::bad_input(
                        "appointmentId",
                        "no such appointment for this patient",
                    ));
                }
            }
            let p = db::insert(
                tx,
                &db::NewProcedure {
                    organization_id: caller.organization_id,
                    patient_id,
                    appointment_id,
                    code: &code,
                    performed_at: input.performed_at,
                    performer_id: performer,
                    notes: notes.as_deref(),
                },
            )
            .await?;
            let audit = Audit::new("procedure.record", "Procedure", p.id).details(json!({ "patient": patient_id }));
            Ok((p, audit))
        })
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_code;

    #[test]
    fn ccam_and_cpt_codes_are_accepted_and_others_refused() {
        assert_eq!(valid_code(" deqp003 ").unwrap(), "DEQP003");
        assert_eq!(valid_code("93000").unwrap(), "93000");
        assert_eq!(valid_code("0001F").unwrap(), "0001F");
        for bad in ["", "DEQ003", "9300", "DROP TABLE", "DEQP0034"] {
            assert!(valid_code(bad).is_err(), "{bad}");
        }
    }
}
