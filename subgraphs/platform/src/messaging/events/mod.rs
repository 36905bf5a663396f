//! Domain events that are never lost: written to the subgraph's
//! `event_outbox` in the transaction that makes the change (so an event
//! exists exactly when its change does), then moved to Redis Streams by the
//! service's relay, marked published only after Redis acknowledged them.
//!
//! Delivery is at least once: a relay that dies between Redis's answer and
//! its own commit sends those events again, so consumers skip event ids they
//! already processed. One relay per schema runs at a time (an advisory lock
//! in `outbox_claim`), so events leave in the order they were written.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{compliance::audit::Actor, foundation::error::AppResult};

/// One event, as a producer describes it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The stream it goes to, e.g. `identity.membership`.
    pub family: &'static str,
    /// The full name, e.g. `identity.membership.added`.
    pub kind: &'static str,
    /// The payload's version: bumped on an incompatible payload change.
    pub version: i32,
    /// The entity it is about (events of one entity stay in order).
    pub entity_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

impl Event {
    /// Version 1 of `kind` (`<family>.<name>`) about `entity`.
    pub fn new(kind: &'static str, entity: Uuid, payload: serde_json::Value) -> Self {
        let family = kind.rsplit_once('.').map_or(kind, |(f, _)| f);
        Event {
            family,
            kind,
            version: 1,
            entity_id: Some(entity),
            payload,
        }
    }
}

/// Writes `event` in the caller's transaction (tenant-scoped: the tenant is
/// the actor's organization). Returns the event id.
pub async fn emit(conn: &mut PgConnection, actor: &Actor, event: Event) -> AppResult<Uuid> {
    // Dynamic on purpose: the same statement runs in every subgraph's schema.
    let id: Uuid = sqlx::query_scalar(
        "insert into event_outbox (organization_id, family, type, version, entity_id, payload, request_id, traceparent)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
    )
    .bind(actor.organization_id)
    .bind(event.family)
    .bind(event.kind)
    .bind(event.version)
    .bind(event.entity_id)
    .bind(event.payload)
    .bind(actor.request_id.as_deref())
    // The consumers' work continues the producing request's trace.
    .bind(crate::infra::telemetry::current_traceparent())
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub use crate::infra::kv::stream_key;

mod consumer;
mod relay;
mod streams;

pub use consumer::*;
pub use relay::*;
pub use streams::*;
