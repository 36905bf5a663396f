//! identity's `User`, extended with a practitioner's schedule.

use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    access::{medical, ADMINISTRATIVE},
    appointment::{
        loader::{ScheduleKey, ScheduleLoader},
        model::Appointment,
        prefetch, validate_range,
    },
    Loaded,
};

/// A user of Hub (owned by the identity subgraph).
pub struct User {
    pub id: Uuid,
}

#[Object]
impl User {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// This practitioner's appointments overlapping `[from, to)` in the
    /// caller's organization (at most 92 days). Nullable on purpose: if the
    /// medical subgraph fails, the rest of the user still arrives.
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn schedule(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Vec<Appointment>>> {
        validate_range(Some(from), Some(to), true)?;
        let key = ScheduleKey {
            practitioner: self.id,
            from,
            to,
        };
        let rows = ctx
            .data::<Loaded<ScheduleLoader, ScheduleKey>>()?
            .load_one(key)
            .await?
            .unwrap_or_default();
        let look = ctx.look_ahead();
        prefetch(ctx, &rows, [look.field("patient"), look.field("patient")]).await?;
        Ok(Some(rows))
    }
}
