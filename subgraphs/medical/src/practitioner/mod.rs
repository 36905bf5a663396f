//! The organization's practitioners, as medical knows them: a projection of
//! identity's membership events (`identity.membership.*`, `identity.user.updated`),
//! never a read of identity's schema. Bookings and procedures need a current
//! member with the `PRACTITIONER` role; appointments of someone who left stay,
//! flagged (`Appointment.practitionerRemoved`).

pub mod loader;

use futures::FutureExt;
use platform::{
    events::{Delivery, Subscription},
    AppError, AppResult, Role,
};
use sqlx::PgConnection;
use uuid::Uuid;

/// What medical knows of one member.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Practitioner {
    pub user_id: Uuid,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
}

impl Practitioner {
    /// A current member who may be booked and record procedures.
    pub fn bookable(&self) -> bool {
        self.active && self.roles.iter().any(|r| r == Role::Practitioner.as_str())
    }
}

pub const GROUP: &str = "medical.practitioners";
pub const NAMES_GROUP: &str = "medical.practitioner_names";

/// The consumers that keep the projection.
pub fn subscriptions() -> Vec<Subscription> {
    vec![
        Subscription::new("identity.membership", GROUP, |c, d| apply(c, d).boxed()),
        Subscription::new("identity.user", NAMES_GROUP, |c, d| apply(c, d).boxed()),
    ]
}

/// Applies one identity event in the event's tenant transaction. Newer
/// state always wins (`last_seq`), so a redelivered older event is harmless.
pub async fn apply(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    let known = d.kind.starts_with("identity.membership.") || d.kind == "identity.user.updated";
    if !known {
        // Other kinds of the family (or `identity.user.erased`, handled by
        // erasure) change nothing here.
        return Ok(());
    }
    d.require_version(1)?;
    let p = &d.payload;
    match d.kind.as_str() {
        "identity.membership.added" | "identity.membership.roles_changed" => {
            let member = member_of(p)?;
            upsert(conn, d, &member, true).await?;
        }
        "identity.membership.removed" => {
            let member = member_of(p)?;
            upsert(conn, d, &member, false).await?;
        }
        "identity.membership.snapshot" => {
            let members: Vec<Member> = serde_json::from_value(p["members"].clone())?;
            for m in &members {
                upsert(conn, d, m, true).await?;
            }
            let listed: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
            sqlx::query(
                "update practitioners set active = false, last_seq = $3, updated_at = now()
                  where organization_id = $1 and not (user_id = any($2)) and last_seq < $3",
            )
            .bind(d.tenant)
            .bind(&listed)
            .bind(d.seq)
            .execute(&mut *conn)
            .await?;
        }
        "identity.user.updated" => {
            let user: Uuid = serde_json::from_value(p["userId"].clone())?;
            // A redelivered older rename never overwrites a newer name
            // (an erasure's "Erased user" above all).
            sqlx::query(
                "update practitioners set display_name = $3, name_seq = $4, updated_at = now()
                  where organization_id = $1 and user_id = $2 and name_seq < $4",
            )
            .bind(d.tenant)
            .bind(user)
            .bind(p["displayName"].as_str())
            .bind(d.seq)
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    user_id: Uuid,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
}

fn member_of(p: &serde_json::Value) -> anyhow::Result<Member> {
    Ok(serde_json::from_value(p.clone())?)
}

async fn upsert(conn: &mut PgConnection, d: &Delivery, m: &Member, active: bool) -> anyhow::Result<()> {
    sqlx::query(
        "insert into practitioners (organization_id, user_id, display_name, roles, active, last_seq, name_seq)
         values ($1, $2, $3, $4, $5, $6, case when $3::text is null then 0 else $6 end)
         on conflict (organization_id, user_id) do update
           set display_name = case when excluded.name_seq > practitioners.name_seq
                                   then excluded.display_name else practitioners.display_name end,
               name_seq = greatest(excluded.name_seq, practitioners.name_seq),
               roles = excluded.roles, active = excluded.active, last_seq = excluded.last_seq, updated_at = now()
         where practitioners.last_seq < excluded.last_seq",
    )
    .bind(d.tenant)
    .bind(m.user_id)
    .bind(m.display_name.as_deref())
    .bind(&m.roles)
    .bind(active)
    .bind(d.seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// What medical knows of these members (of the caller's organization).
pub async fn by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> AppResult<Vec<Practitioner>> {
    Ok(
        sqlx::query_as("select user_id, display_name, roles, active from practitioners where user_id = any($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// Refuses `user` as the practitioner of a booking or a procedure unless
/// they are a current member of the caller's organization with the
/// `PRACTITIONER` role (`field` names the input).
pub async fn require_bookable(conn: &mut PgConnection, field: &str, user: Uuid) -> AppResult<()> {
    let found = by_ids(conn, &[user]).await?.into_iter().next();
    match found {
        Some(p) if p.bookable() => Ok(()),
        Some(p) if !p.active => Err(AppError::bad_input(field, "is no longer a member of this organization")),
        Some(_) => Err(AppError::bad_input(field, "is not a practitioner of this organization")),
        None => Err(AppError::bad_input(field, "is not a member of this organization")),
    }
}
