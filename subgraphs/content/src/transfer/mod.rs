//! The bytes: `PUT /files/<grant>` receives an upload, `GET /files/<grant>`
//! serves a download. Uploads stream to the object store as a multipart
//! write (memory stays flat whatever the size) while the service counts,
//! hashes and sniffs them; the version becomes available only after the
//! whole file was stored, matched its grant and passed the scanner. A
//! refused or broken upload aborts the multipart write, so no bytes remain;
//! what a crash leaves behind, the sweep removes (`housekeeping`, a
//! background job of the kit).

mod download;
mod housekeeping;
mod upload;

use std::{process::Stdio, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Path as UrlPath, State as AxState},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use futures::StreamExt;
use object_store::{path::Path, GetOptions, GetRange, WriteMultipart};
use platform::{
    audit::{self, Actor},
    db::{Scope, TenantTx},
    AppError,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::{
    document::db,
    signing::{Grant, Refused},
    sniff, State,
};

use download::download;
pub use housekeeping::{purge, sweep, sweep_forever, Purged};
use upload::upload;

/// Parts of a multipart write: S3's minimum is 5 MiB; two in flight at most.
const PART_BYTES: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

pub fn routes(state: Arc<State>) -> Router {
    Router::new()
        .route("/files/{token}", get(download).put(upload))
        .with_state(state)
}

/// An error a transfer client reads: a stable code and a message.
fn problem(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn refused(r: Refused) -> Response {
    match r {
        // Not a URL this service makes.
        Refused::Malformed => problem(StatusCode::NOT_FOUND, "NOT_FOUND", "no such file link"),
        Refused::Expired => problem(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "this link has expired: ask for a new one",
        ),
        Refused::UnknownKey | Refused::BadSignature => {
            problem(StatusCode::FORBIDDEN, "FORBIDDEN", "this link is not valid")
        }
    }
}

/// One `file.download` read of the patient's record (and of the document),
/// as the caller who was given the link.
async fn audit_download(
    st: &State,
    org: Uuid,
    read: &crate::signing::AuditedRead,
    request_id: Option<String>,
) -> Result<(), AppError> {
    let scope = Scope {
        organization_id: org,
        user_id: read.user,
        ..Default::default()
    };
    let actor = Actor {
        organization_id: org,
        user_id: read.user,
        client_id: read.client,
        request_id,
    };
    let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
    let details = json!({ "document": read.document });
    audit::record_read(
        &mut tx,
        &actor,
        "file.download",
        "Patient",
        &[read.patient],
        details.clone(),
    )
    .await?;
    audit::record_read(&mut tx, &actor, "file.download", "Document", &[read.document], details).await?;
    tx.commit().await
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "transfer failed");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
