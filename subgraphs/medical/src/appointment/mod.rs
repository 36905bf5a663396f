//! Appointments: listing, booking (no double booking, idempotent), lifecycle.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, InputObject, Lookahead, Object, Result, ID,
};
use chrono::{DateTime, Duration, Utc};
use platform::{
    audit::{self, actor},
    db::TenantTx,
    guards::auth,
    ids::{parse_id, parse_key},
    lifecycle::{self, Lifecycle},
    pagination::Page,
    reads::LoaderCtx,
    validate::optional_text,
    AppError, AppResult, OnConstraint,
    Role::*,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    access::{can, medical_or, medical_write, require_or, APPOINTMENTS, CLINICAL, READ},
    patient,
    patient::loader::{AllergiesLoader, PatientLoader},
    practitioner, state,
    user::User,
    Loaded,
};
use db::AppointmentCursor;
use loader::AppointmentLoader;
use model::{Appointment, AppointmentStatus};

const MAX_RANGE_DAYS: i64 = 92;
const MAX_LENGTH_HOURS: i64 = 12;

/// `to` after `from`, and a bounded span when both are given.
pub fn validate_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, required: bool) -> AppResult<()> {
    match (from, to) {
        (Some(f), Some(t)) if t <= f => Err(AppError::bad_input("to", "must be after from")),
        (Some(f), Some(t)) if t - f > Duration::days(MAX_RANGE_DAYS) => Err(AppError::bad_input(
            "to",
            format!("the range may span at most {MAX_RANGE_DAYS} days"),
        )),
        (None, _) | (_, None) if required => Err(AppError::bad_input("from", "from and to are required")),
        _ => Ok(()),
    }
}

/// A slot to book for a patient with a practitioner of the organization.
#[derive(InputObject)]
pub struct ScheduleAppointmentInput {
    pub patient_id: ID,
    /// The practitioner's user id (identity).
    pub practitioner_id: ID,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// Retrying with the same key returns the appointment created the first
    /// time instead of booking twice.
    pub idempotency_key: Option<String>,
    /// Where the confirmation (and a later cancellation) is mailed; kept
    /// sealed, never shown again.
    pub notify_email: Option<String>,
    /// The mail's language: `en`, `fr` or `de` (default: the caller's).
    pub notify_locale: Option<String>,
}

#[derive(Default)]
pub struct AppointmentQuery;

#[Object]
impl AppointmentQuery {
    /// Appointments overlapping `[from, to)`, by start time.
    #[graphql(guard = "medical_or(APPOINTMENTS, READ)")]
    #[allow(clippy::too_many_arguments)]
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        practitioner_id: Option<ID>,
        status: Option<AppointmentStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<AppointmentCursor>, Appointment>> {
        let st = state(ctx)?;
        validate_range(from, to, false)?;
        let page = Page::<AppointmentCursor>::new(first, after.as_deref(), st.settings.limits.page_size)?;
        let filter = db::Filter {
            from,
            to,
            practitioner: practitioner_id
                .as_ref()
                .map(|p| parse_id("practitionerId", p))
                .transpose()?,
            status: status.map(AppointmentStatus::as_db),
        };
        let rows = LoaderCtx::of(ctx)?
            .run(ctx.field().name(), async |c| {
                db::page(c, &filter, page.after.as_ref(), page.fetch()).await
            })
            .await?;
        let look = ctx.look_ahead();
        prefetch(
            ctx,
            &rows,
            [
                look.field("edges").field("node").field("patient"),
                look.field("nodes").field("patient"),
            ],
        )
        .await?;
        Ok(page.connection(
            rows,
            |a| AppointmentCursor {
                starts_at: a.starts_at,
                id: a.id,
            },
            |a| a,
        ))
    }

    /// One appointment.
    #[graphql(guard = "medical_or(APPOINTMENTS, READ)")]
    async fn appointment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Appointment>> {
        let id = parse_id("id", &id)?;
        Ok(ctx.data::<Loaded<AppointmentLoader>>()?.load_one(id).await?)
    }

    // async-graphql ignores guards on entity resolvers: check here.
    #[graphql(entity)]
    async fn find_appointment_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Appointment>> {
        require_or(ctx, &APPOINTMENTS, READ)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<AppointmentLoader>>()?.load_one(id).await?)
    }

    /// Users are identity's; this subgraph only adds `schedule` (guarded there).
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        auth(ctx)?;
        Ok(parse_key(&id).map(|id| User { id }))
    }
}

#[derive(Default)]
pub struct AppointmentMutation;

#[Object]
impl AppointmentMutation {
    /// Books an appointment. A practitioner is never booked twice at once
    /// (CONFLICT); an idempotency key makes retries safe.
    #[graphql(guard = "medical_write([Secretary, Practitioner, Nurse, OrgAdmin])")]
    async fn schedule_appointment(&self, ctx: &Context<'_>, input: ScheduleAppointmentInput) -> Result<Appointment> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let patient_id = parse_id("patientId", &input.patient_id)?;
        let practitioner_id = parse_id("practitionerId", &input.practitioner_id)?;
        if input.ends_at <= input.starts_at {
            return Err(AppError::bad_input("endsAt", "must be after startsAt").into());
        }
        if input.ends_at - input.starts_at > Duration::hours(MAX_LENGTH_HOURS) {
            return Err(AppError::bad_input(
                "endsAt",
                format!("an appointment lasts at most {MAX_LENGTH_HOURS} hours"),
            )
            .into());
        }
        let reason = optional_text("reason", input.reason.as_deref(), 500)?;
        let key = optional_text("idempotencyKey", input.idempotency_key.as_deref(), 200)?;
        let notify = input
            .notify_email
            .as_deref()
            .map(|e| platform::validate::email("notifyEmail", e))
            .transpose()?;
        let notify_locale = match input.notify_locale.as_deref() {
            Some(l) => platform::validate::locale("notifyLocale", l)?,
            None => ctx.data_opt::<platform::i18n::Locale>().copied().unwrap_or_default(),
        };
        let new = db::NewAppointment {
            organization_id: caller.organization_id,
            patient_id,
            practitioner_id,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            reason: reason.as_deref(),
            idempotency_key: key.as_deref(),
        };

        // Not `mutate`: an idempotent replay answers the first booking and
        // writes nothing, not even an audit record.
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        if let Some(k) = &key {
            if let Some(existing) = db::by_idempotency_key(&mut tx, k).await? {
                return Ok(same_request(existing, &new)?);
            }
        }
        if patient::db::live(&mut tx, patient_id).await?.is_none() {
            return Err(AppError::bad_input("patientId", "no such patient").into());
        }
        practitioner::require_bookable(&mut tx, "practitionerId", practitioner_id).await?;
        let inserted = db::insert(&mut tx, &new)
            .await
            .on_constraint(&[("appointments_no_overlap", || {
                AppError::Conflict("the practitioner already has an appointment at that time".into())
            })])?;
        let appointment = match inserted {
            Some(a) => a,
            // A concurrent request with the same key won the race.
            None => {
                let k = key.as_deref().unwrap_or_default();
                let existing = db::by_idempotency_key(&mut tx, k)
                    .await?
                    .ok_or(AppError::Conflict("idempotency key in use".into()))?;
                return Ok(same_request(existing, &new)?);
            }
        };
        if let Some(email) = &notify {
            let sealed = st.cipher.seal_str(email, &notify_aad(appointment.id))?;
            sqlx::query(
                "update appointments set notify_email_enc = $2, notify_email_key_id = $3, notify_locale = $4 where id = $1",
            )
            .bind(appointment.id)
            .bind(&sealed.data)
            .bind(&sealed.key_id)
            .bind(notify_locale.as_str())
            .execute(&mut *tx)
            .await?;
        }
        audit::record(
            &mut tx,
            &actor(ctx)?,
            "appointment.schedule",
            "Appointment",
            appointment.id,
            json!({ "patient": patient_id, "practitioner": practitioner_id, "notify": notify.is_some() }),
        )
        .await?;
        platform::events::emit(
            &mut tx,
            &actor(ctx)?,
            event("medical.appointment.scheduled", &appointment),
        )
        .await?;
        tx.commit().await?;
        Ok(appointment)
    }

    /// The patient has arrived.
    #[graphql(guard = "medical_write([Secretary, Nurse, Practitioner])")]
    async fn check_in_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<Appointment> {
        Ok(
            lifecycle::step::<Appointment>(ctx, &id, &[AppointmentStatus::Scheduled], AppointmentStatus::CheckedIn)
                .await?,
        )
    }

    /// The visit is over.
    #[graphql(guard = "medical_write([Practitioner])")]
    async fn complete_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<Appointment> {
        Ok(
            lifecycle::step::<Appointment>(ctx, &id, &[AppointmentStatus::CheckedIn], AppointmentStatus::Completed)
                .await?,
        )
    }

    /// Cancels a scheduled or checked-in appointment; its slot frees up.
    #[graphql(guard = "medical_write([Secretary, Practitioner, Nurse, OrgAdmin])")]
    async fn cancel_appointment(&self, ctx: &Context<'_>, id: ID) -> Result<Appointment> {
        Ok(lifecycle::step::<Appointment>(
            ctx,
            &id,
            &[AppointmentStatus::Scheduled, AppointmentStatus::CheckedIn],
            AppointmentStatus::Cancelled,
        )
        .await?)
    }

    /// The patient did not come.
    #[graphql(guard = "medical_write([Secretary, Nurse])")]
    async fn mark_appointment_no_show(&self, ctx: &Context<'_>, id: ID) -> Result<Appointment> {
        Ok(
            lifecycle::step::<Appointment>(ctx, &id, &[AppointmentStatus::Scheduled], AppointmentStatus::NoShow)
                .await?,
        )
    }
}

/// Loads what the selection asks of these appointments' patients in one
/// batch per loader. DataLoader batches by a short timer, which a long list
/// can outlast; prefetching keeps a page's cost independent of its length.
pub async fn prefetch(ctx: &Context<'_>, rows: &[Appointment], patient: [Lookahead<'_>; 2]) -> Result<()> {
    if !patient.iter().any(|l| l.exists()) {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = rows.iter().map(|a| a.patient_id).collect();
    ids.sort();
    ids.dedup();
    ctx.data::<Loaded<PatientLoader>>()?.load_many(ids.clone()).await?;
    if patient.iter().any(|l| l.field("allergies").exists()) && can(ctx, &CLINICAL) {
        ctx.data::<Loaded<AllergiesLoader>>()?.load_many(ids).await?;
    }
    Ok(())
}

/// Binds a sealed notification address to its appointment.
pub fn notify_aad(appointment: Uuid) -> String {
    format!("medical.appointment.notify:{appointment}")
}

/// A retried request must be the same request.
fn same_request(existing: Appointment, new: &db::NewAppointment<'_>) -> AppResult<Appointment> {
    let same = existing.patient_id == new.patient_id
        && existing.practitioner_id == new.practitioner_id
        && existing.starts_at == new.starts_at
        && existing.ends_at == new.ends_at;
    if same {
        Ok(existing)
    } else {
        Err(AppError::Conflict(
            "this idempotency key was used for a different appointment".into(),
        ))
    }
}

impl Lifecycle for Appointment {
    const ENTITY: &'static str = "Appointment";
    const ACTION: &'static str = "appointment";
    const TABLE: &'static str = "appointments";
    const COLUMNS: &'static str = db::COLUMNS;
    type Status = AppointmentStatus;

    fn db_name(status: AppointmentStatus) -> &'static str {
        status.as_db()
    }

    async fn event(
        _: &mut sqlx::PgConnection,
        a: &Appointment,
        to: AppointmentStatus,
    ) -> AppResult<Option<platform::events::Event>> {
        Ok((to == AppointmentStatus::Cancelled).then(|| event("medical.appointment.cancelled", a)))
    }
}

/// `medical.appointment.*` v1 (docs/events.md).
fn event(kind: &'static str, a: &Appointment) -> platform::events::Event {
    platform::events::Event::new(
        kind,
        a.id,
        json!({
            "appointmentId": a.id,
            "patientId": a.patient_id,
            "practitionerId": a.practitioner_id,
            "startsAt": a.starts_at,
            "endsAt": a.ends_at,
        }),
    )
}
