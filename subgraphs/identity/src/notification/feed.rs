//! The events that become notifications (group `identity.notifications`)
//! and the tender mails to suppliers (group `identity.mail`): identity
//! resolves who hears of what, since it alone knows members, addresses and
//! languages. Producers name their audience by organization or user.

use std::sync::Arc;

use futures::FutureExt;
use platform::{
    db::{set_scope, Scope},
    events::{Delivery, Subscription},
    Role,
};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::State;

pub const GROUP: &str = "identity.notifications";

/// Roles that hear of a tender as a supplier.
const SUPPLIER_ROLES: &[Role] = &platform::roles::public::SUPPLIER;

pub fn subscriptions(state: &Arc<State>) -> Vec<Subscription> {
    let mail = state.clone();
    vec![
        Subscription::new("identity.invitation", GROUP, |c, d| invitation(c, d).boxed()),
        Subscription::new("procurement.tender", GROUP, |c, d| tender(c, d).boxed()),
        Subscription::new("content.document", GROUP, |c, d| document(c, d).boxed()),
        Subscription::new("procurement.tender", crate::communication::MAIL_GROUP, move |c, d| {
            let st = mail.clone();
            async move { tender_mail(&st, c, d).await }.boxed()
        }),
    ]
}

/// Someone who hears of an event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recipient {
    pub user_id: Uuid,
    pub email: String,
    pub locale: String,
}

/// Members of `org` holding any of `roles`, read in `org`'s scope; the
/// connection is put back in `back`'s scope.
async fn members(conn: &mut PgConnection, org: Uuid, roles: &[&str], back: Uuid) -> anyhow::Result<Vec<Recipient>> {
    set_scope(conn, &scoped(org)).await?;
    let found = sqlx::query_as(
        "select u.id as user_id, u.email, u.locale from memberships m join users u on u.id = m.user_id
          where m.organization_id = $1 and m.roles && $2 and u.status = 'active' order by u.id",
    )
    .bind(org)
    .bind(roles)
    .fetch_all(&mut *conn)
    .await;
    set_scope(conn, &scoped(back)).await?;
    Ok(found?)
}

fn scoped(org: Uuid) -> Scope {
    Scope {
        organization_id: org,
        ..Default::default()
    }
}

/// The suppliers a tender event names: every supplier member of the
/// organizations in `audience.organizations`, and the users in
/// `audience.users` that are still members of their organization.
async fn audience(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<Vec<Recipient>> {
    let roles: Vec<&str> = SUPPLIER_ROLES.iter().map(|r| r.as_str()).collect();
    let mut out: Vec<Recipient> = vec![];
    let orgs: Vec<Uuid> = serde_json::from_value(d.payload["audience"]["organizations"].clone()).unwrap_or_default();
    for org in orgs {
        out.extend(members(conn, org, &roles, d.tenant).await?);
    }
    let users: Vec<Value> = serde_json::from_value(d.payload["audience"]["users"].clone()).unwrap_or_default();
    for u in users {
        let (Some(user), Some(org)) = (
            u["userId"].as_str().and_then(|s| s.parse::<Uuid>().ok()),
            u["organizationId"].as_str().and_then(|s| s.parse::<Uuid>().ok()),
        ) else {
            continue;
        };
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        out.extend(
            members(conn, org, &all, d.tenant)
                .await?
                .into_iter()
                .filter(|r| r.user_id == user),
        );
    }
    out.sort_by_key(|r| r.user_id);
    out.dedup_by_key(|r| r.user_id);
    Ok(out)
}

async fn notify(
    conn: &mut PgConnection,
    d: &Delivery,
    users: &[Uuid],
    kind: &str,
    subject: (&str, Uuid),
    details: Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "insert into notifications (organization_id, user_id, kind, subject_type, subject_id, details, event_id)
         select $1, u, $3, $4, $5, $6, $7 from unnest($2::uuid[]) u
         on conflict (event_id, user_id) do nothing",
    )
    .bind(d.tenant)
    .bind(users)
    .bind(kind)
    .bind(subject.0)
    .bind(subject.1)
    .bind(details)
    .bind(d.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An invitation to someone who already has an account.
async fn invitation(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    if d.kind != "identity.invitation.created" {
        return Ok(());
    }
    d.require_version(1)?;
    // Visible to the inviting organization while the invitation is pending.
    let user: Option<Uuid> = sqlx::query_scalar("select id from users where email = $1")
        .bind(d.payload["email"].as_str().unwrap_or_default())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(user) = user else { return Ok(()) };
    let roles: Vec<&str> = d.payload["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let details = json!({ "organization": d.payload["organizationName"], "roles": roles.join(", ") });
    notify(conn, d, &[user], "invitation", ("Invitation", d.entity_id()?), details).await
}

fn tender_details(d: &Delivery) -> Value {
    let deadline = d.payload["submissionDeadline"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M").to_string());
    json!({
        "reference": d.payload["reference"],
        "title": d.payload["title"],
        "deadline": deadline,
        "bids": d.payload["bids"],
    })
}

async fn tender(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    let kind = match d.kind.as_str() {
        "procurement.tender.amended" => "tender_amended",
        "procurement.tender.deadline_approaching" => "tender_deadline",
        "procurement.tender.closed" => "bids_received",
        _ => return Ok(()),
    };
    d.require_version(1)?;
    let users: Vec<Uuid> = if kind == "bids_received" {
        // The buyer's officers: its bids open for evaluation.
        members(conn, d.tenant, &[Role::ProcurementOfficer.as_str()], d.tenant)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect()
    } else {
        audience(conn, d).await?.into_iter().map(|r| r.user_id).collect()
    };
    notify(conn, d, &users, kind, ("Tender", d.entity_id()?), tender_details(d)).await
}

/// Roles of the document's organization that read a classification.
fn readers(classification: &str) -> &'static [Role] {
    use Role::*;
    match classification {
        "clinical" => &[Practitioner, Nurse],
        "administrative" => &[OrgAdmin, Practitioner, Nurse, Secretary, BillingClerk],
        "procurement_public" | "procurement_internal" => &[ProcurementOfficer, ProcurementViewer],
        "compliance" => &[SupplierAdmin],
        _ => &[],
    }
}

/// A new document, for the colleagues who may read it (not its uploader).
async fn document(conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    if d.kind != "content.document.available" {
        return Ok(());
    }
    d.require_version(1)?;
    let roles: Vec<&str> = readers(d.payload["classification"].as_str().unwrap_or_default())
        .iter()
        .map(|r| r.as_str())
        .collect();
    let uploader = d.payload["uploadedBy"].as_str().and_then(|s| s.parse::<Uuid>().ok());
    let users: Vec<Uuid> = members(conn, d.tenant, &roles, d.tenant)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .filter(|u| Some(*u) != uploader)
        .collect();
    let details = json!({ "ownerType": d.payload["ownerType"], "version": d.payload["version"] });
    notify(
        conn,
        d,
        &users,
        "document_available",
        ("Document", d.entity_id()?),
        details,
    )
    .await
}

/// Amendments and deadline reminders, mailed to the tender's audience in
/// each one's language.
async fn tender_mail(st: &State, conn: &mut PgConnection, d: &Delivery) -> anyhow::Result<()> {
    let template = match d.kind.as_str() {
        "procurement.tender.amended" => "tender_amended",
        "procurement.tender.deadline_approaching" => "tender_deadline",
        _ => return Ok(()),
    };
    d.require_version(1)?;
    let mut vars = tender_details(d);
    vars["link"] = json!(format!("{}/tenders/{}", st.mail.app_url(), d.entity_id()?));
    vars["rationale"] = d.payload["rationale"].clone();
    for r in audience(conn, d).await? {
        st.mail.send(d, template, &r.locale, &r.email, vars.clone()).await?;
    }
    Ok(())
}
