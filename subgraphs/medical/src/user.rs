//! identity's `User`, extended with a practitioner's schedule.

use async_graphql::{dataloader::DataLoader, Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    access::{medical, ADMINISTRATIVE},
    appointment::{
        loader::{ScheduleKey, ScheduleLoader},
        model::Appointment,
        validate_range,
    },
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
    /// caller's organization (at most 92 days).
    #[graphql(guard = "medical(ADMINISTRATIVE)")]
    async fn schedule(&self, ctx: &Context<'_>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Appointment>> {
        validate_range(Some(from), Some(to), true)?;
        let key = ScheduleKey {
            practitioner: self.id,
            from,
            to,
        };
        Ok(ctx
            .data::<DataLoader<ScheduleLoader>>()?
            .load_one(key)
            .await?
            .unwrap_or_default())
    }
}
