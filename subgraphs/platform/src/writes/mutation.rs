//! The shape of every write: open the caller's tenant transaction, do the
//! work, write the audit record, commit. A resolver hands its work to
//! [`mutate`] and cannot forget one of the three; if any step fails, nothing
//! is written (the transaction rolls back when dropped).

use async_graphql::Context;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    compliance::audit::{self, actor},
    data::db::TenantTx,
    data::runtime::runtime,
    foundation::error::AppResult,
    messaging::events::{self, Event},
    security::guards::auth,
};

/// What a mutation did, for the audit trail: action (`patient.update`),
/// entity type and id, and details (never the sensitive values themselves).
#[derive(Debug, Clone)]
pub struct Audit {
    pub action: String,
    pub entity: &'static str,
    pub id: Uuid,
    pub details: serde_json::Value,
    /// Domain events of the change, written to the outbox beside the record.
    pub events: Vec<Event>,
}

impl Audit {
    pub fn new(action: impl Into<String>, entity: &'static str, id: Uuid) -> Self {
        Audit {
            action: action.into(),
            entity,
            id,
            details: serde_json::Value::Object(Default::default()),
            events: vec![],
        }
    }

    /// Adds a domain event (see `docs/events.md`).
    pub fn event(mut self, event: Event) -> Self {
        self.events.push(event);
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Runs `work` in the caller's tenant transaction, records the audit entry it
/// returns with its events, and commits.
pub async fn mutate<T>(
    ctx: &Context<'_>,
    work: impl AsyncFnOnce(&mut PgConnection) -> AppResult<(T, Audit)>,
) -> AppResult<T> {
    let rt = runtime(ctx)?;
    let mut tx = TenantTx::begin(&rt.pool, auth(ctx)?).await?;
    let (value, entry) = work(&mut tx).await?;
    let actor = actor(ctx)?;
    for event in entry.events {
        events::emit(&mut tx, &actor, event).await?;
    }
    audit::record(&mut tx, &actor, &entry.action, entry.entity, entry.id, entry.details).await?;
    tx.commit().await?;
    Ok(value)
}
