//! Audit trail: every mutation records who did what to which entity, in the
//! caller's transaction, so the record exists exactly when the change does.
//! Each subgraph's schema has its own `audit_log` table (see its migrations).

pub mod chain;

use async_graphql::Context;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    auth::{AuthContext, Principal, RequestMeta},
    error::AppResult,
};

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn from_auth(auth: &AuthContext, meta: Option<&RequestMeta>) -> Self {
        let (user_id, client_id) = match auth.principal {
            Principal::User(u) => (Some(u), None),
            Principal::Partner(c) => (None, Some(c)),
        };
        Actor {
            organization_id: auth.organization_id,
            user_id,
            client_id,
            request_id: meta.map(|m| m.request_id.clone()),
        }
    }

    /// An actor known before a token exists (login, token exchange).
    pub fn user(organization_id: Uuid, user_id: Option<Uuid>, ctx: Option<&Context<'_>>) -> Self {
        Actor {
            organization_id,
            user_id,
            client_id: None,
            request_id: ctx
                .and_then(|c| c.data_opt::<RequestMeta>())
                .map(|m| m.request_id.clone()),
        }
    }
}

/// The authenticated caller of a resolver as an audit actor.
pub fn actor(ctx: &Context<'_>) -> AppResult<Actor> {
    let auth = crate::guards::auth(ctx)?;
    Ok(Actor::from_auth(auth, ctx.data_opt::<RequestMeta>()))
}

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    details: serde_json::Value,
) -> AppResult<()> {
    // Dynamic on purpose: the same statement runs in every subgraph's schema
    // (its own `audit_log`, found through the connection's search path).
    sqlx::query(
        "insert into audit_log
           (organization_id, actor_user_id, actor_client_id, action, entity_type, entity_id, request_id, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(actor.organization_id)
    .bind(actor.user_id)
    .bind(actor.client_id)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(actor.request_id.as_deref())
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row per entity for the same action, in one statement: reads of
/// health data (a FHIR search page names many patients) are audited too,
/// never sampled.
pub async fn record_many(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_ids: &[Uuid],
    details: serde_json::Value,
) -> AppResult<()> {
    if entity_ids.is_empty() {
        return Ok(());
    }
    // Dynamic on purpose, as `record`.
    sqlx::query(
        "insert into audit_log
           (organization_id, actor_user_id, actor_client_id, action, entity_type, entity_id, request_id, details)
         select $1, $2, $3, $4, $5, e, $7, $8 from unnest($6::uuid[]) as e",
    )
    .bind(actor.organization_id)
    .bind(actor.user_id)
    .bind(actor.client_id)
    .bind(action)
    .bind(entity_type)
    .bind(entity_ids)
    .bind(actor.request_id.as_deref())
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}
