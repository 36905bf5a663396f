//! In-app notifications of the signed-in user, fed by events
//! ([`feed`]): `notifications(first, after, unreadOnly)` and
//! `markNotificationsRead`. Messages are rendered in the reader's language
//! when read, from what the event said.

pub mod feed;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, Enum, Object, Result, ID,
};
use chrono::{DateTime, Utc};
use platform::{
    db::TenantTx,
    guards::{auth, UserOnly},
    i18n::Locale,
    ids::parse_id,
    pagination::Page,
    AppError,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state;

/// What a notification is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NotificationKind {
    /// An organization invites you (you already have an account).
    Invitation,
    /// A tender you bid on or follow was amended.
    TenderAmended,
    /// A tender you bid on or follow closes for bids within a day.
    TenderDeadline,
    /// Your tender closed: its bids are open for evaluation.
    BidsReceived,
    /// A document was uploaded where you work.
    DocumentAvailable,
}

impl NotificationKind {
    pub fn as_db(self) -> &'static str {
        match self {
            NotificationKind::Invitation => "invitation",
            NotificationKind::TenderAmended => "tender_amended",
            NotificationKind::TenderDeadline => "tender_deadline",
            NotificationKind::BidsReceived => "bids_received",
            NotificationKind::DocumentAvailable => "document_available",
        }
    }

    fn from_db(s: &str) -> Option<Self> {
        [
            NotificationKind::Invitation,
            NotificationKind::TenderAmended,
            NotificationKind::TenderDeadline,
            NotificationKind::BidsReceived,
            NotificationKind::DocumentAvailable,
        ]
        .into_iter()
        .find(|k| k.as_db() == s)
    }
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct NotificationRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: Uuid,
    pub details: serde_json::Value,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Something that happened that the signed-in user should know of.
pub struct Notification(NotificationRow);

/// Something that happened that the signed-in user should know of.
#[Object]
impl Notification {
    /// Stable identifier (what `markNotificationsRead` takes).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What it is about.
    async fn kind(&self) -> Result<NotificationKind> {
        NotificationKind::from_db(&self.0.kind)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown notification kind {}", self.0.kind)).into())
    }
    /// What happened, in the reader's language (`Accept-Language`).
    async fn message(&self, ctx: &Context<'_>) -> String {
        let locale = ctx.data_opt::<Locale>().copied().unwrap_or_default();
        message(&self.0.kind, &self.0.details, locale)
    }
    /// The type of the record it is about (`Invitation`, `Tender`, `Document`).
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }
    /// The id of that record.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.to_string())
    }
    /// The organization it comes from.
    async fn organization_id(&self) -> ID {
        ID(self.0.organization_id.to_string())
    }
    /// When it was written (shortly after what it tells of).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the user marked it read; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
}

fn s<'a>(d: &'a serde_json::Value, k: &str) -> &'a str {
    d[k].as_str().unwrap_or_default()
}

/// The message of a notification in `locale`.
pub fn message(kind: &str, d: &serde_json::Value, locale: Locale) -> String {
    use Locale::*;
    let (org, roles, reference, title) = (s(d, "organization"), s(d, "roles"), s(d, "reference"), s(d, "title"));
    let deadline = s(d, "deadline");
    let count = d["bids"].as_i64().unwrap_or(0);
    match (kind, locale) {
        ("invitation", En) => format!("{org} invites you to join them as {roles}."),
        ("invitation", Fr) => format!("{org} vous invite à le rejoindre ({roles})."),
        ("invitation", De) => format!("{org} lädt Sie ein, beizutreten ({roles})."),
        ("tender_amended", En) => format!("Tender {reference} “{title}” was amended."),
        ("tender_amended", Fr) => format!("L'appel d'offres {reference} « {title} » a été modifié."),
        ("tender_amended", De) => format!("Die Ausschreibung {reference} „{title}“ wurde geändert."),
        ("tender_deadline", En) => format!("Tender {reference} “{title}” closes for bids on {deadline} (UTC)."),
        ("tender_deadline", Fr) => {
            format!("L'appel d'offres {reference} « {title} » ferme aux offres le {deadline} (UTC).")
        }
        ("tender_deadline", De) => format!("Die Ausschreibung {reference} „{title}“ endet am {deadline} (UTC)."),
        ("bids_received", En) => format!("Tender {reference} is closed: {count} bid(s) to evaluate."),
        ("bids_received", Fr) => format!("L'appel d'offres {reference} est clos : {count} offre(s) à évaluer."),
        ("bids_received", De) => {
            format!("Die Ausschreibung {reference} ist geschlossen: {count} Angebot(e) zu prüfen.")
        }
        ("document_available", En) => format!("A new document is available on a {} record.", s(d, "ownerType")),
        ("document_available", Fr) => format!("Un nouveau document est disponible ({}).", s(d, "ownerType")),
        ("document_available", De) => format!("Ein neues Dokument ist verfügbar ({}).", s(d, "ownerType")),
        (other, _) => other.to_string(),
    }
}

/// Keyset position: newest first.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct NotificationCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The signed-in user's notifications, newest first.
    #[graphql(guard = "UserOnly")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        unread_only: Option<bool>,
    ) -> Result<Connection<OpaqueCursor<NotificationCursor>, Notification>> {
        let unread_only = unread_only.unwrap_or(false);
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let user = caller.user_id().ok_or(AppError::Forbidden)?;
        let page = Page::<NotificationCursor>::new(first, after.as_deref(), st.settings.limits.page_size)?;
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let rows: Vec<NotificationRow> = sqlx::query_as(
            "select id, organization_id, kind, subject_type, subject_id, details, read_at, created_at
               from notifications
              where user_id = $1 and (not $2 or read_at is null)
                and ($3::timestamptz is null or (created_at, id) < ($3, $4))
              order by created_at desc, id desc limit $5",
        )
        .bind(user)
        .bind(unread_only)
        .bind(page.after.as_ref().map(|c| c.created_at))
        .bind(page.after.as_ref().map(|c| c.id))
        .bind(page.fetch())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(page.connection(
            rows,
            |r| NotificationCursor {
                created_at: r.created_at,
                id: r.id,
            },
            Notification,
        ))
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the signed-in user's notifications read: those in `ids`, or
    /// all of them with `all: true`. Returns how many were unread.
    #[graphql(guard = "UserOnly")]
    async fn mark_notifications_read(&self, ctx: &Context<'_>, ids: Option<Vec<ID>>, all: Option<bool>) -> Result<i32> {
        let all = all.unwrap_or(false);
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let user = caller.user_id().ok_or(AppError::Forbidden)?;
        let ids: Option<Vec<Uuid>> = match (ids, all) {
            (Some(_), true) | (None, false) => {
                return Err(AppError::bad_input("ids", "give the ids, or all: true").into());
            }
            (Some(ids), false) => Some(ids.iter().map(|i| parse_id("ids", i)).collect::<Result<_, _>>()?),
            (None, true) => None,
        };
        let mut tx = TenantTx::begin(&st.pool, caller).await?;
        let n = sqlx::query(
            "update notifications set read_at = now()
              where user_id = $1 and read_at is null and ($2::uuid[] is null or id = any($2))",
        )
        .bind(user)
        .bind(ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        platform::audit::record(
            &mut tx,
            &platform::audit::actor(ctx)?,
            "notification.read",
            "User",
            user,
            serde_json::json!({ "count": n, "all": all }),
        )
        .await?;
        tx.commit().await?;
        Ok(n as i32)
    }
}
