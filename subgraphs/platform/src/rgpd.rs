//! Data subjects' rights (RGPD/GDPR): the report an erasure answers with.
//! Each subgraph erases what it holds of a subject and says what it had to
//! keep, for how long and under which retention rule; the value types are
//! shared (`@shareable`) so a client reads every subgraph's report alike.

use async_graphql::{SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};

use crate::retention::{Category, RetentionSettings};

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
/// them ([`SubgraphApp::personal_data`](crate::kit::SubgraphApp::personal_data)).
/// Content's `requestDataExport` gathers every subgraph's part into one archive.
pub fn routes(pool: sqlx::PgPool, subgraph: &'static str, records: PersonalData) -> axum::Router {
    use axum::{extract::State, response::IntoResponse, routing::get, Json};
    let handler = async move |State((pool, records)): State<(sqlx::PgPool, PersonalData)>, call: crate::rest::Call| {
        match subject(&pool, subgraph, records, &call).await {
            Ok(v) => Json(v).into_response(),
            Err(e) => {
                let status = match &e {
                    crate::AppError::Unauthenticated => axum::http::StatusCode::UNAUTHORIZED,
                    crate::AppError::Forbidden => axum::http::StatusCode::FORBIDDEN,
                    crate::AppError::Unavailable(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                };
                crate::server::error_response(status, &e, call.locale)
            }
        }
    };
    axum::Router::new()
        .route("/rgpd/subject", get(handler))
        .with_state((pool, records))
}

/// A subgraph's own records of a user, as JSON, in a tenant transaction.
pub type PersonalData = for<'a> fn(
    &'a mut sqlx::PgConnection,
    uuid::Uuid,
) -> futures::future::BoxFuture<'a, crate::AppResult<serde_json::Value>>;

async fn subject(
    pool: &sqlx::PgPool,
    subgraph: &str,
    records: PersonalData,
    call: &crate::rest::Call,
) -> crate::AppResult<serde_json::Value> {
    subject_data(pool, subgraph, records, call.auth()?).await
}

/// This subgraph's part of the caller's data export (see [`routes`]).
pub async fn subject_data(
    pool: &sqlx::PgPool,
    subgraph: &str,
    records: PersonalData,
    auth: &crate::AuthContext,
) -> crate::AppResult<serde_json::Value> {
    let user = auth.user_id().ok_or(crate::AppError::Forbidden)?;
    let mut tx = crate::db::TenantTx::begin(pool, auth).await?;
    // Dynamic on purpose: every subgraph's own `audit_log`.
    let actions: Vec<(DateTime<Utc>, String, String, uuid::Uuid, serde_json::Value)> = sqlx::query_as(
        "select created_at, action, entity_type, entity_id, details from audit_log
          where actor_user_id = $1 order by chain_seq nulls first, created_at",
    )
    .bind(user)
    .fetch_all(&mut *tx)
    .await?;
    let own = records(&mut tx, user).await?;
    tx.commit().await?;
    Ok(serde_json::json!({
        "subgraph": subgraph,
        "organizationId": auth.organization_id,
        "subjectId": user,
        "actions": actions.into_iter().map(|(at, action, entity_type, entity_id, details)| serde_json::json!({
            "at": at, "action": action, "entityType": entity_type, "entityId": entity_id, "details": details,
        })).collect::<Vec<_>>(),
        "records": own,
    }))
}

/// Rows of a query as JSON objects (`select to_jsonb(x) …`), for
/// `personal_data` implementations.
pub async fn json_rows(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    user: uuid::Uuid,
) -> crate::AppResult<serde_json::Value> {
    let rows: Vec<serde_json::Value> = sqlx::query_scalar(sql).bind(user).fetch_all(conn).await?;
    Ok(serde_json::Value::Array(rows))
}
