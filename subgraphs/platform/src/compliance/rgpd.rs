//! Data subjects' rights (RGPD/GDPR): the report an erasure answers with.
//! Each subgraph erases what it holds of a subject and says what it had to
//! keep, for how long and under which retention rule; the value types are
//! shared (`@shareable`) so a client reads every subgraph's report alike.

use async_graphql::{SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};

use crate::compliance::retention::{Category, RetentionSettings};

/// What an erasure did, and what the law made it keep.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct ErasureReport {
    /// The erased subject (a user or a patient).
    pub subject_id: ID,
    /// When the erasure was done.
    pub erased_at: DateTime<Utc>,
    /// Removed or made unrecognizable now.
    pub erased: Vec<ErasedData>,
    /// Kept, sealed from every role, until its retention ends; then the
    /// retention job deletes it.
    pub retained: Vec<RetainedData>,
}

/// Data an erasure removed or made unrecognizable.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct ErasedData {
    /// What it was, e.g. "contact details", "sessions".
    pub what: String,
    /// How many records.
    pub count: i64,
}

/// Data the law makes an erasure keep, sealed, for a while.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct RetainedData {
    /// What it is, e.g. "clinical notes", "invoices".
    pub what: String,
    /// How many records.
    pub count: i64,
    /// The retention category (`clinical_records`, `invoices`, …;
    /// `audit_trail` is never deleted).
    pub category: String,
    /// When the retention job deletes it; none for the audit trail.
    pub until: Option<DateTime<Utc>>,
    /// Why it is kept, in words.
    pub rule: String,
}

impl ErasureReport {
    pub fn new(subject: uuid::Uuid, at: DateTime<Utc>) -> Self {
        ErasureReport {
            subject_id: ID(subject.to_string()),
            erased_at: at,
            erased: vec![],
            retained: vec![],
        }
    }

    pub fn add_erased(&mut self, what: &str, count: i64) -> &mut Self {
        self.erased.push(ErasedData {
            what: what.to_string(),
            count,
        });
        self
    }

    /// Kept under `category`, whose period runs from `since`.
    pub fn add_retained(
        &mut self,
        what: &str,
        count: i64,
        category: Category,
        settings: &RetentionSettings,
        since: DateTime<Utc>,
    ) -> &mut Self {
        let days = category.days(settings);
        self.retained.push(RetainedData {
            what: what.to_string(),
            count,
            category: category.name().to_string(),
            until: Some(since + Duration::days(i64::from(days))),
            rule: format!("{}: kept {days} days", category.name()),
        });
        self
    }

    /// Kept under `category`, whose period has not started yet: it runs
    /// from an event still to come (`from`, in words: an invoice's payment),
    /// so no date can be promised.
    pub fn add_retained_pending(
        &mut self,
        what: &str,
        count: i64,
        category: Category,
        settings: &RetentionSettings,
        from: &str,
    ) -> &mut Self {
        let days = category.days(settings);
        self.retained.push(RetainedData {
            what: what.to_string(),
            count,
            category: category.name().to_string(),
            until: None,
            rule: format!("{}: kept {days} days from {from}", category.name()),
        });
        self
    }

    /// The audit trail names the subject by id only, and stays: its chains
    /// must verify for as long as the organization exists.
    pub fn add_audit_trail(&mut self, count: i64) -> &mut Self {
        self.retained.push(RetainedData {
            what: "audit trail entries (by id, no name)".into(),
            count,
            category: "audit_trail".into(),
            until: None,
            rule: "tamper-evident trail: entries are never changed or deleted".into(),
        });
        self
    }
}

/// A subgraph's part of a user's data export (`GET /rgpd/subject`, behind
/// the router secret, as the caller): what the user did here (their audit
/// entries in the caller's organization) and the subgraph's own records of
/// them ([`SubgraphApp::personal_data`](crate::service::kit::SubgraphApp::personal_data)).
/// Content's `requestDataExport` gathers every subgraph's part into one archive.
pub fn routes(pool: sqlx::PgPool, subgraph: &'static str, records: PersonalData) -> axum::Router {
    use axum::{
        extract::{Query, State},
        response::IntoResponse,
        routing::get,
        Json,
    };
    let handler = async move |State((pool, records)): State<(sqlx::PgPool, PersonalData)>,
                              Query(page): Query<SubjectPage>,
                              call: crate::security::rest::Call| {
        match subject(&pool, subgraph, records, &call, page).await {
            Ok(v) => Json(v).into_response(),
            Err(e) => {
                let status = match &e {
                    crate::foundation::error::AppError::Unauthenticated => axum::http::StatusCode::UNAUTHORIZED,
                    crate::foundation::error::AppError::Forbidden => axum::http::StatusCode::FORBIDDEN,
                    crate::foundation::error::AppError::Unavailable(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    crate::foundation::error::AppError::BadUserInput { .. } => axum::http::StatusCode::BAD_REQUEST,
                    _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                };
                crate::security::rest::error_response(status, &e, call.locale)
            }
        }
    };
    axum::Router::new()
        .route("/rgpd/subject", get(handler))
        .with_state((pool, records))
}

/// A subgraph's own records of a user, as JSON, in a tenant transaction.
pub type PersonalData =
    for<'a> fn(
        &'a mut sqlx::PgConnection,
        uuid::Uuid,
    ) -> futures::future::BoxFuture<'a, crate::foundation::error::AppResult<serde_json::Value>>;

/// The most audit entries one page of `/rgpd/subject` holds.
pub const SUBJECT_PAGE: i64 = 1000;

/// Which page of `/rgpd/subject`: the audit entries after chain sequence
/// `after`, at most `limit` (≤ [`SUBJECT_PAGE`]). A page with more to come
/// says `"next": <after>`; the subgraph's records come with the first page.
#[derive(Debug, Default, Clone, Copy, serde::Deserialize)]
pub struct SubjectPage {
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

async fn subject(
    pool: &sqlx::PgPool,
    subgraph: &str,
    records: PersonalData,
    call: &crate::security::rest::Call,
    page: SubjectPage,
) -> crate::foundation::error::AppResult<serde_json::Value> {
    subject_data(pool, subgraph, records, call.auth()?, page).await
}

/// One page of this subgraph's part of the caller's data export (see [`routes`]).
pub async fn subject_data(
    pool: &sqlx::PgPool,
    subgraph: &str,
    records: PersonalData,
    auth: &crate::security::auth::AuthContext,
    page: SubjectPage,
) -> crate::foundation::error::AppResult<serde_json::Value> {
    let user = auth.user_id().ok_or(crate::foundation::error::AppError::Forbidden)?;
    let limit = page.limit.unwrap_or(SUBJECT_PAGE);
    if !(1..=SUBJECT_PAGE).contains(&limit) {
        return Err(crate::foundation::error::AppError::bad_input(
            "limit",
            format!("must be 1 to {SUBJECT_PAGE}"),
        ));
    }
    let mut tx = crate::data::db::TenantTx::begin(pool, auth).await?;
    // Dynamic on purpose: every subgraph's own `audit_log`.
    let mut actions: Vec<(i64, DateTime<Utc>, String, String, uuid::Uuid, serde_json::Value)> = sqlx::query_as(
        "select chain_seq, created_at, action, entity_type, entity_id, details from audit_log
          where actor_user_id = $1 and chain_seq > $2 order by chain_seq limit $3",
    )
    .bind(user)
    .bind(page.after.unwrap_or(0))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let more = actions.len() as i64 > limit;
    actions.truncate(usize::try_from(limit).unwrap_or(0));
    let own = match page.after {
        None => records(&mut tx, user).await?,
        Some(_) => serde_json::Value::Null,
    };
    tx.commit().await?;
    let next = if more { actions.last().map(|a| a.0) } else { None };
    let mut part = serde_json::json!({
        "subgraph": subgraph,
        "organizationId": auth.organization_id,
        "subjectId": user,
        "actions": actions.into_iter().map(|(_, at, action, entity_type, entity_id, details)| serde_json::json!({
            "at": at, "action": action, "entityType": entity_type, "entityId": entity_id, "details": details,
        })).collect::<Vec<_>>(),
    });
    if page.after.is_none() {
        part["records"] = own;
    }
    if let Some(n) = next {
        part["next"] = n.into();
    }
    Ok(part)
}

/// Rows of a query as JSON objects (`select to_jsonb(x) …`), for
/// `personal_data` implementations.
pub async fn json_rows(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    user: uuid::Uuid,
) -> crate::foundation::error::AppResult<serde_json::Value> {
    let rows: Vec<serde_json::Value> = sqlx::query_scalar(sql).bind(user).fetch_all(conn).await?;
    Ok(serde_json::Value::Array(rows))
}
