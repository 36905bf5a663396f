//! Procedures performed on a patient.

use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::AppError;
use uuid::Uuid;

use crate::{
    access::{medical, CARE_TEAM, CLINICAL},
    appointment::{loader::AppointmentLoader, model::Appointment},
    patient::{loader::PatientLoader, model::Patient},
    user::User,
    Loaded,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Procedure {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub appointment_id: Option<Uuid>,
    pub code: String,
    pub performed_at: DateTime<Utc>,
    pub performer_id: Uuid,
    pub notes: Option<String>,
}

/// A procedure (CCAM or CPT code) performed on a patient.
#[Object(guard = "medical(CARE_TEAM)")]
impl Procedure {
    /// Identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// CCAM or CPT code, e.g. `DEQP003`.
    async fn code(&self) -> &str {
        &self.code
    }
    /// When it was performed.
    async fn performed_at(&self) -> DateTime<Utc> {
        self.performed_at
    }
    /// Who performed it.
    async fn performer(&self) -> Option<User> {
        Some(User { id: self.performer_id })
    }
    /// The patient.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Patient> {
        ctx.data::<Loaded<PatientLoader>>()?
            .load_one(self.patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Patient").into())
    }
    /// The appointment it was part of, if any.
    async fn appointment(&self, ctx: &Context<'_>) -> Result<Option<Appointment>> {
        match self.appointment_id {
            None => Ok(None),
            Some(id) => Ok(ctx.data::<Loaded<AppointmentLoader>>()?.load_one(id).await?),
        }
    }
    /// Clinical notes on the procedure. Practitioners and nurses only.
    #[graphql(guard = "medical(CLINICAL)")]
    async fn notes(&self, ctx: &Context<'_>) -> Option<&str> {
        platform::audit::read(ctx, "Patient", self.patient_id);
        self.notes.as_deref()
    }
}
