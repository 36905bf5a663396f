//! The bytes: `PUT /files/<grant>` receives an upload, `GET /files/<grant>`
//! serves a download. Uploads stream to the object store as a multipart
//! write (memory stays flat whatever the size) while the service counts,
//! hashes and sniffs them; the version becomes available only after the
//! whole file was stored, matched its grant and passed the scanner. A
//! refused or broken upload aborts the multipart write, so no bytes remain;
//! what a crash leaves behind, the sweep removes.

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

/// Parts of a multipart write: S3's minimum is 5 MiB; two in flight at most.
const PART_BYTES: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

pub fn routes(state: Arc<State>) -> Router {
    if state.content.sweep_interval_secs > 0 {
        tokio::spawn(sweep_forever(state.clone()));
    }
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

async fn download(AxState(st): AxState<Arc<State>>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    let grant = match st.signer.verify(&token, now()) {
        Ok(g) => g,
        Err(r) => return refused(r),
    };
    let Grant::Download {
        org,
        key,
        sha256,
        size,
        content_type,
        filename,
        audited,
        ..
    } = grant
    else {
        return problem(StatusCode::FORBIDDEN, "FORBIDDEN", "this link is for uploading");
    };
    let etag = format!("\"{sha256}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let range = match headers.get(header::RANGE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(r)) => match http_range_header::parse_range_header(r).and_then(|p| p.validate(size)) {
            // One range is served as such; several are served whole (a 200 is a valid answer).
            Ok(ranges) if ranges.len() == 1 => Some(ranges[0].clone()),
            Ok(_) => None,
            Err(_) => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response()
            }
        },
        Some(Err(_)) => None,
    };
    let opts = GetOptions {
        range: range.as_ref().map(|r| GetRange::Bounded(*r.start()..*r.end() + 1)),
        ..Default::default()
    };
    let got = match st.store.get_opts(&Path::from(key.as_str()), opts).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => {
            return problem(StatusCode::NOT_FOUND, "NOT_FOUND", "the file is no longer stored")
        }
        Err(e) => return internal(e),
    };
    // Health data leaves only once its read is in the read log.
    if let Some(read) = &audited {
        let request_id = headers
            .get(platform::server::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Err(e) = audit_download(&st, org, read, request_id).await {
            tracing::error!(error = %platform::error::error_chain(&e), "auditing a download failed: not serving it");
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "the read cannot be audited right now; try again shortly",
            );
        }
    }
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        filename.replace(|c: char| !c.is_ascii() || c == '"' || c == '\\', "_"),
        platform::rest::encode_component(&filename)
    );
    let mut h = HeaderMap::new();
    let mut put = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, content_type);
    put(header::CONTENT_DISPOSITION, disposition);
    put(header::ETAG, etag);
    put(header::ACCEPT_RANGES, "bytes".into());
    put(header::CACHE_CONTROL, "private, no-store".into());
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    let status = match &range {
        Some(r) => {
            put(header::CONTENT_RANGE, format!("bytes {}-{}/{size}", r.start(), r.end()));
            put(header::CONTENT_LENGTH, (r.end() - r.start() + 1).to_string());
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            put(header::CONTENT_LENGTH, size.to_string());
            StatusCode::OK
        }
    };
    (status, h, Body::from_stream(got.into_stream())).into_response()
}

/// How an upload ended, short of success.
enum Outcome {
    /// The bytes were not what the grant allows: the version is rejected.
    Rejected(StatusCode, &'static str, String),
    /// The transfer broke off (400) or storage failed (500): the version is pending again.
    Broken(StatusCode),
}

async fn upload(
    AxState(st): AxState<Arc<State>>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let grant = match st.signer.verify(&token, now()) {
        Ok(g) => g,
        Err(r) => return refused(r),
    };
    let Grant::Upload {
        org,
        user,
        roles,
        verticals,
        document,
        version,
        max_bytes,
        content_type,
        ..
    } = grant
    else {
        return problem(StatusCode::FORBIDDEN, "FORBIDDEN", "this link is for downloading");
    };
    let scope = Scope {
        organization_id: org,
        user_id: user,
        roles,
        verticals,
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_bytes) {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("the file is larger than the {max_bytes} bytes announced"),
        );
    }
    let claimed = async {
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        let v = db::claim_upload(&mut tx, version, document).await?;
        tx.commit().await?;
        Ok::<_, AppError>(v)
    }
    .await;
    let v = match claimed {
        Ok(Some(v)) => v,
        Ok(None) => {
            return problem(
                StatusCode::CONFLICT,
                "CONFLICT",
                "this version was already uploaded, refused, or is being uploaded now",
            )
        }
        Err(e) => return internal(e),
    };
    let key = Path::from(v.storage_key.as_str());
    let result = receive(&st, &key, body, max_bytes, &content_type).await;
    let finish = async {
        let mut tx = TenantTx::begin_scoped(&st.pool, &scope).await?;
        let response = match &result {
            Ok((size, sha256, sniffed)) => {
                if db::make_available(&mut tx, &v, *size as i64, sha256, sniffed).await? {
                    let actor = Actor {
                        organization_id: org,
                        user_id: user,
                        client_id: None,
                        request_id: headers
                            .get("x-request-id")
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_string),
                    };
                    audit::record(
                        &mut tx,
                        &actor,
                        "document.version.upload",
                        "Document",
                        document,
                        json!({ "version": v.number, "bytes": size, "sha256": sha256, "content_type": sniffed }),
                    )
                    .await?;
                    let (owner_type, owner_id, classification): (String, Uuid, String) =
                        sqlx::query_as("select owner_type, owner_id, classification from documents where id = $1")
                            .bind(document)
                            .fetch_one(&mut *tx)
                            .await?;
                    platform::events::emit(
                        &mut tx,
                        &actor,
                        platform::events::Event::new(
                            "content.document.available",
                            document,
                            json!({
                                "documentId": document, "version": v.number, "ownerType": owner_type,
                                "ownerId": owner_id, "classification": classification, "byteSize": size,
                                "contentType": sniffed, "uploadedBy": user,
                            }),
                        ),
                    )
                    .await?;
                    (
                        StatusCode::CREATED,
                        Json(json!({
                            "documentId": document, "version": v.number, "status": "AVAILABLE",
                            "byteSize": size, "sha256": sha256, "contentType": sniffed,
                        })),
                    )
                        .into_response()
                } else {
                    problem(
                        StatusCode::CONFLICT,
                        "CONFLICT",
                        "this version changed during the upload",
                    )
                }
            }
            Err(Outcome::Rejected(status, code, reason)) => {
                db::reject(&mut tx, v.id, reason).await?;
                problem(*status, code, reason)
            }
            Err(Outcome::Broken(status)) => {
                db::release_upload(&mut tx, v.id).await?;
                problem(
                    *status,
                    "UPLOAD_INCOMPLETE",
                    "the upload did not complete: send the file again",
                )
            }
        };
        tx.commit().await?;
        Ok::<_, AppError>(response)
    }
    .await;
    match finish {
        Ok(r) => {
            if !r.status().is_success() && result.is_ok() {
                discard(&st, &key).await;
            }
            r
        }
        Err(e) => {
            // The database did not record the version: its bytes must not stay.
            if result.is_ok() {
                discard(&st, &key).await;
            }
            internal(e)
        }
    }
}

async fn discard(st: &State, key: &Path) {
    if let Err(e) = st.store.delete(key).await {
        if !matches!(e, object_store::Error::NotFound { .. }) {
            tracing::warn!(error = %e, key = %key, "could not delete refused bytes; the sweep will retry");
        }
    }
}

/// Streams the body into the store. Returns size, sha256 and the sniffed type.
async fn receive(
    st: &State,
    key: &Path,
    body: Body,
    max_bytes: u64,
    declared: &str,
) -> Result<(u64, String, String), Outcome> {
    let upload = st.store.put_multipart(key).await.map_err(broken)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut scanner = match Scanner::start(st) {
        Ok(s) => s,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(broken(e));
        }
    };
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(sniff::SNIFF_BYTES);
    let mut sniffed: Option<&'static str> = None;
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match stream.next().await {
            None => break,
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                tracing::info!(error = %e, "upload broke off");
                return refuse(writer, Outcome::Broken(StatusCode::BAD_REQUEST)).await;
            }
        };
        size += chunk.len() as u64;
        if size > max_bytes {
            return refuse(
                writer,
                Outcome::Rejected(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    format!("the file is larger than the {max_bytes} bytes announced"),
                ),
            )
            .await;
        }
        if sniffed.is_none() {
            let take = (sniff::SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() >= sniff::SNIFF_BYTES {
                match check_type(&head, false, declared) {
                    Ok(t) => sniffed = Some(t),
                    Err(o) => return refuse(writer, o).await,
                }
            }
        }
        hasher.update(&chunk);
        scanner.feed(&chunk).await;
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return refuse(writer, broken(e)).await;
        }
        writer.put(chunk);
    }
    let sniffed = match sniffed {
        Some(t) => t,
        None => match check_type(&head, true, declared) {
            Ok(t) => t,
            Err(o) => return refuse(writer, o).await,
        },
    };
    match scanner.verdict().await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                writer,
                Outcome::Rejected(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "MALWARE_DETECTED",
                    "the file was refused by the malware scanner".into(),
                ),
            )
            .await
        }
        Err(e) => return refuse(writer, broken(e)).await,
    }
    writer.finish().await.map_err(broken)?;
    let sha256 = platform::crypto::hex(&hasher.finalize());
    Ok((
        size,
        sha256,
        if declared == "text/csv" {
            declared.to_string()
        } else {
            sniffed.to_string()
        },
    ))
}

fn broken(e: impl std::fmt::Display) -> Outcome {
    tracing::error!(error = %e, "upload failed in storage");
    Outcome::Broken(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn refuse<T>(writer: WriteMultipart, outcome: Outcome) -> Result<T, Outcome> {
    let _ = writer.abort().await;
    Err(outcome)
}

fn check_type(head: &[u8], complete: bool, declared: &str) -> Result<&'static str, Outcome> {
    match sniff::sniff(head, complete) {
        Some(t) if sniff::matches(declared, t) => Ok(t),
        found => Err(Outcome::Rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            match found {
                Some(t) => format!("the file is {t}, not {declared} as announced"),
                None => format!("the file is not {declared} as announced, nor another allowed type"),
            },
        )),
    }
}

/// The optional malware scanner: a command fed the file on stdin while it
/// streams in; exit status 0 approves.
struct Scanner {
    child: Option<tokio::process::Child>,
    stdin: Option<tokio::process::ChildStdin>,
}

impl Scanner {
    fn start(st: &State) -> std::io::Result<Self> {
        let Some((program, args)) = st.content.scanner.as_deref().and_then(|c| c.split_first()) else {
            return Ok(Scanner {
                child: None,
                stdin: None,
            });
        };
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Scanner {
            child: Some(child),
            stdin,
        })
    }

    async fn feed(&mut self, bytes: &[u8]) {
        if let Some(stdin) = self.stdin.as_mut() {
            // A scanner may stop reading once it decided (a match): its verdict still counts.
            if stdin.write_all(bytes).await.is_err() {
                self.stdin = None;
            }
        }
    }

    async fn verdict(mut self) -> std::io::Result<bool> {
        drop(self.stdin.take());
        match self.child.take() {
            None => Ok(true),
            Some(mut child) => Ok(child.wait().await?.success()),
        }
    }
}

/// Removes what broken uploads and crashes left: versions whose upload URL
/// expired (plus a grace period for uploads still streaming) lose their
/// bytes, then their row. Returns how many were swept.
pub async fn sweep(st: &State) -> Result<usize, AppError> {
    let grace = "15 minutes";
    let rows: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("select organization_id, id, storage_key from expired_uploads($1::interval, 500)")
            .bind(grace)
            .fetch_all(&st.pool)
            .await?;
    let mut swept = 0;
    for (_, id, key) in rows {
        match st.store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, %key, "sweep could not delete bytes");
                continue;
            }
        }
        let forgot: bool = sqlx::query_scalar("select forget_upload($1, $2::interval)")
            .bind(id)
            .bind(grace)
            .fetch_one(&st.pool)
            .await?;
        swept += usize::from(forgot);
    }
    if swept > 0 {
        tracing::info!(swept, "swept expired uploads");
    }
    Ok(swept)
}

/// What [`purge`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Documents gone with their versions and bytes.
    pub documents: usize,
    /// User data export archives gone once their link had expired.
    pub exports: usize,
}

/// Deletes the files nothing may keep any longer: deleted documents past
/// their retention date (at once without one), documents past `expires_at`
/// (data export archives), and user export archives whose download link
/// has expired. Bytes go first, then rows: an object that cannot be
/// deleted keeps its row, and the next purge tries again.
pub async fn purge(st: &State, now: chrono::DateTime<chrono::Utc>) -> Result<Purged, AppError> {
    let rows: Vec<(Uuid, Uuid, Option<String>)> =
        sqlx::query_as("select organization_id, id, storage_key from purgeable_documents($1, 200)")
            .bind(now)
            .fetch_all(&st.pool)
            .await?;
    let mut failed = std::collections::HashSet::new();
    let mut due = std::collections::BTreeSet::new();
    for (_, doc, key) in rows {
        due.insert(doc);
        let Some(key) = key else { continue };
        match st.store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(error = %e, %key, "purge could not delete bytes");
                failed.insert(doc);
            }
        }
    }
    let mut purged = Purged::default();
    for doc in due.into_iter().filter(|d| !failed.contains(d)) {
        let forgot: bool = sqlx::query_scalar("select forget_document($1, $2)")
            .bind(doc)
            .bind(now)
            .fetch_one(&st.pool)
            .await?;
        purged.documents += usize::from(forgot);
    }
    // A user's export is only reachable through its signed link: once the
    // link expired (and a grace for a download still streaming), it goes.
    let ttl = i64::try_from(st.content.download_url_ttl_secs).unwrap_or(i64::MAX / 2);
    let cutoff = now - chrono::Duration::seconds(ttl) - chrono::Duration::minutes(15);
    let mut listed = st.store.list(Some(&Path::from(crate::export::USER_EXPORTS)));
    while let Some(meta) = listed.next().await {
        let meta = meta.map_err(|e| AppError::Internal(anyhow::anyhow!("listing exports: {e}")))?;
        if meta.last_modified >= cutoff {
            continue;
        }
        match st.store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => purged.exports += 1,
            Err(e) => tracing::warn!(error = %e, key = %meta.location, "purge could not delete an export"),
        }
    }
    if purged != Purged::default() {
        tracing::info!(
            documents = purged.documents,
            exports = purged.exports,
            "purged expired files"
        );
    }
    Ok(purged)
}

async fn sweep_forever(st: Arc<State>) {
    let mut tick = tokio::time::interval(Duration::from_secs(st.content.sweep_interval_secs));
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&st).await {
            tracing::warn!(error = %e, "upload sweep failed");
        }
        if let Err(e) = purge(&st, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "file purge failed");
        }
    }
}
