//! Record history for people: an entity's audit rows as `history(first,
//! after)`, newest first. `AuditEntry` is one value type every subgraph
//! defines identically (`@shareable`), so a client reads the history of a
//! user, a patient or a tender with the same fragment.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, Enum, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    data::runtime::runtime, foundation::error::AppResult, foundation::pagination::Page, security::guards::auth,
};

/// Who may read a record's history besides the roles that work with it
/// (defined with the other role sets).
pub use crate::security::roles::HISTORY_READERS as READERS;

/// Who acted.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(name = "AuditActorKind")]
pub enum ActorKind {
    /// A signed-in user (`actorId` is their user id; an erased user's id
    /// stays, their name and e-mail do not).
    User,
    /// A partner application (`actorId` is its client id).
    Partner,
    /// The platform itself (sealing reads, retention, event consumers).
    System,
}

/// One thing that happened to a record.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct AuditEntry {
    /// The audit row's id (`hub audit export` shows the same).
    pub id: ID,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What was done, e.g. `patient.update`, `tender.publish`.
    pub action: String,
    /// Whether a user, a partner or the platform acted.
    pub actor_kind: ActorKind,
    /// The user or partner client who acted; none for the platform.
    pub actor_id: Option<ID>,
    /// Names of the fields the change touched (empty for creations and
    /// state changes).
    pub changed_fields: Vec<String>,
    /// What the audit row recorded besides field names: references and
    /// states, never sensitive values (those are not written to the trail).
    pub details: Vec<AuditDetail>,
}

/// A recorded detail of an audit entry.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct AuditDetail {
    /// The detail's key, e.g. `reason`, `from`, `lines`.
    pub name: String,
    /// Its value as text (numbers and lists in JSON).
    pub value: String,
}

/// A `history(first, after)` field's value.
pub type History = Connection<OpaqueCursor<i64>, AuditEntry>;

/// Keys of `details` that list changed field names.
const FIELD_LISTS: [&str; 3] = ["fields", "changes", "changed"];

fn entry(
    id: Uuid,
    at: DateTime<Utc>,
    action: String,
    user: Option<Uuid>,
    client: Option<Uuid>,
    details: Value,
) -> AuditEntry {
    let (actor_kind, actor_id) = match (user, client) {
        (Some(u), _) => (ActorKind::User, Some(ID(u.to_string()))),
        (None, Some(c)) => (ActorKind::Partner, Some(ID(c.to_string()))),
        (None, None) => (ActorKind::System, None),
    };
    let mut changed_fields = vec![];
    let mut rest = vec![];
    if let Value::Object(map) = details {
        for (name, value) in map {
            if FIELD_LISTS.contains(&name.as_str()) {
                match value {
                    Value::Array(items) => {
                        changed_fields.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)))
                    }
                    Value::Object(fields) => changed_fields.extend(fields.keys().cloned()),
                    _ => {}
                }
                continue;
            }
            let value = match value {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            rest.push(AuditDetail { name, value });
        }
    }
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    AuditEntry {
        id: ID(id.to_string()),
        at,
        action,
        actor_kind,
        actor_id,
        changed_fields,
        details: rest,
    }
}

type Row = (i64, Uuid, DateTime<Utc>, String, Option<Uuid>, Option<Uuid>, Value);

/// The history of `entity_type` `entity_id` in the caller's organization,
/// newest first. The caller's guard decides who may see it; row-level
/// security keeps it to the caller's organization.
pub async fn history(
    ctx: &Context<'_>,
    entity_type: &str,
    entity_id: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<History> {
    let rt = runtime(ctx)?;
    let page = Page::<i64>::new(first, after.as_deref(), rt.settings.limits.page_size)?;
    let mut tx = rt.reads.begin_for(auth(ctx)?).await?;
    // Dynamic on purpose: every subgraph's own `audit_log` (search path).
    let rows: Vec<Row> = sqlx::query_as(
        "select chain_seq, id, created_at, action, actor_user_id, actor_client_id, details
           from audit_log
          where entity_type = $1 and entity_id = $2 and chain_seq is not null
            and ($3::bigint is null or chain_seq < $3)
          order by chain_seq desc
          limit $4",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(page.after)
    .bind(page.fetch())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(page.connection(
        rows,
        |r| r.0,
        |(_, id, at, action, user, client, details)| entry(id, at, action, user, client, details),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_become_changed_fields_and_the_rest_details() {
        let e = entry(
            Uuid::nil(),
            Utc::now(),
            "patient.update".into(),
            None,
            None,
            serde_json::json!({ "fields": ["contact", "sex"], "reason": "typo", "lines": 2, "gone": null }),
        );
        assert_eq!(e.changed_fields, ["contact", "sex"]);
        assert_eq!(e.actor_kind, ActorKind::System);
        let details: Vec<(&str, &str)> = e.details.iter().map(|d| (d.name.as_str(), d.value.as_str())).collect();
        assert_eq!(details, [("lines", "2"), ("reason", "typo")]);
    }
}
