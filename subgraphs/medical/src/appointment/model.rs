//! The `Appointment` entity.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::AppError;
use uuid::Uuid;

use crate::{
    access::{medical, medical_or, ADMINISTRATIVE, APPOINTMENTS, HISTORY, READ},
    patient::{loader::PatientLoader, model::Patient},
    practitioner::loader::PractitionerLoader,
    user::User,
    Loaded,
};

/// A booked slot between a patient and a practitioner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Appointment {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub patient_id: Uuid,
    pub practitioner_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where an appointment is in its life: scheduled → checked in → completed,
/// or cancelled, or no-show.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AppointmentStatus {
    Scheduled,
    CheckedIn,
    Completed,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            AppointmentStatus::Scheduled => "scheduled",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }
}

/// A booked slot between a patient and a practitioner.
#[Object(guard = "medical_or(APPOINTMENTS, READ)")]
impl Appointment {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The patient seen.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Patient> {
        ctx.data::<Loaded<PatientLoader>>()?
            .load_one(self.patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Patient").into())
    }
    /// The practitioner (an identity user).
    async fn practitioner(&self) -> Option<User> {
        Some(User {
            id: self.practitioner_id,
        })
    }
    /// True once the practitioner has left the organization or lost the
    /// `PRACTITIONER` role since the booking: the appointment stays, and
    /// should be moved to someone else or cancelled.
    async fn practitioner_removed(&self, ctx: &Context<'_>) -> Result<bool> {
        let p = ctx
            .data::<Loaded<PractitionerLoader>>()?
            .load_one(self.practitioner_id)
            .await?;
        Ok(!p.is_some_and(|p| p.bookable()))
    }
    /// Start, inclusive.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }
    /// End, exclusive.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }
    /// Current status.
    async fn status(&self) -> AppointmentStatus {
        self.status
    }
    /// Why the patient comes (not for auditors: it is health data).
    #[graphql(guard = "medical_or(ADMINISTRATIVE, READ)")]
    async fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// When it was booked.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors.
    #[graphql(guard = "medical(HISTORY)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "Appointment", self.id, first, after).await?)
    }
}
