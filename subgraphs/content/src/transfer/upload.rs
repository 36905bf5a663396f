//! `PUT /files/<grant>`: the body streamed into the store as a multipart
//! write while it is counted, hashed, sniffed and scanned; the version is
//! available only once all of it is stored and approved.

use super::*;

/// How an upload ended, short of success.
pub(super) enum Outcome {
    /// The bytes were not what the grant allows: the version is rejected.
    Rejected(StatusCode, &'static str, String),
    /// The transfer broke off (400) or storage failed (500): the version is pending again.
    Broken(StatusCode),
}

pub(super) async fn upload(
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

pub(super) async fn discard(st: &State, key: &Path) {
    if let Err(e) = st.store.delete(key).await {
        if !matches!(e, object_store::Error::NotFound { .. }) {
            tracing::warn!(error = %e, key = %key, "could not delete refused bytes; the sweep will retry");
        }
    }
}

/// Streams the body into the store. Returns size, sha256 and the sniffed type.
pub(super) async fn receive(
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

pub(super) fn broken(e: impl std::fmt::Display) -> Outcome {
    tracing::error!(error = %e, "upload failed in storage");
    Outcome::Broken(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(super) async fn refuse<T>(writer: WriteMultipart, outcome: Outcome) -> Result<T, Outcome> {
    let _ = writer.abort().await;
    Err(outcome)
}

pub(super) fn check_type(head: &[u8], complete: bool, declared: &str) -> Result<&'static str, Outcome> {
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
pub(super) struct Scanner {
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
