//! Identity's domain events (the catalogue is `docs/events.md`). An event
//! that carries a link's secret (an invitation, a password reset) carries it
//! sealed with identity's field cipher, bound to the entity: neither the
//! outbox nor Redis ever holds it readable, and only identity's own mail
//! consumer opens it.

use base64::{engine::general_purpose::STANDARD, Engine};
use platform::{
    audit::Actor,
    crypto::{FieldCipher, Sealed},
    events::{emit, Event},
    AppError, AppResult,
};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

fn secret_aad(entity: Uuid) -> String {
    format!("identity.event.secret:{entity}")
}

/// Writes `kind` about `entity` with `secret` sealed into `payload.secret`.
pub async fn emit_with_secret(
    conn: &mut PgConnection,
    cipher: &FieldCipher,
    actor: &Actor,
    kind: &'static str,
    entity: Uuid,
    mut payload: Value,
    secret: &str,
) -> AppResult<Uuid> {
    let sealed = cipher.seal_str(secret, &secret_aad(entity))?;
    payload["secret"] = json!({ "key": sealed.key_id, "data": STANDARD.encode(&sealed.data) });
    emit(conn, actor, Event::new(kind, entity, payload)).await
}

/// The secret an event carries (for its delivery).
pub fn open_secret(cipher: &FieldCipher, entity: Uuid, payload: &Value) -> AppResult<String> {
    let invalid = || AppError::Internal(anyhow::anyhow!("event about {entity} has no sealed secret"));
    let sealed = &payload["secret"];
    let data = STANDARD
        .decode(sealed["data"].as_str().ok_or_else(invalid)?)
        .map_err(|_| invalid())?;
    let key_id = sealed["key"].as_str().ok_or_else(invalid)?.to_string();
    cipher.open_str(&Sealed { data, key_id }, &secret_aad(entity))
}

/// `identity.membership.{added,roles_changed,removed}` v1: about the user
/// (events of one member stay in order), in the organization's stream.
pub async fn membership(
    conn: &mut PgConnection,
    actor: &Actor,
    kind: &'static str,
    user: Uuid,
    roles: &[String],
    display_name: Option<&str>,
) -> AppResult<Uuid> {
    emit(
        conn,
        actor,
        Event::new(
            kind,
            user,
            json!({ "userId": user, "roles": roles, "displayName": display_name }),
        ),
    )
    .await
}

/// Writes one `identity.membership.snapshot` per organization (every
/// current member, roles and name) into identity's outbox, as the database
/// owner or admin with `search_path` on identity. Consumers replace their
/// view of the organization with it: how a lost projection is rebuilt.
/// Membership writes wait while it reads, so no change slips between the
/// snapshot and the events after it.
pub async fn membership_snapshots(conn: &mut PgConnection) -> anyhow::Result<(usize, usize)> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("lock table memberships in share mode")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(Uuid, Uuid, Vec<String>, String)> = sqlx::query_as(
        "select m.organization_id, m.user_id, m.roles, u.display_name
           from memberships m join users u on u.id = m.user_id order by m.organization_id, m.created_at",
    )
    .fetch_all(&mut *tx)
    .await?;
    let orgs: Vec<Uuid> = sqlx::query_scalar("select id from organizations order by created_at")
        .fetch_all(&mut *tx)
        .await?;
    for org in &orgs {
        let members: Vec<Value> = rows
            .iter()
            .filter(|r| r.0 == *org)
            .map(|r| json!({ "userId": r.1, "roles": r.2, "displayName": r.3 }))
            .collect();
        let actor = Actor {
            organization_id: *org,
            user_id: None,
            client_id: None,
            request_id: None,
        };
        emit(
            &mut tx,
            &actor,
            Event::new("identity.membership.snapshot", *org, json!({ "members": members })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((orgs.len(), rows.len()))
}
