//! `GET /files/<grant>`: the bytes of a stored version, ranges included,
//! each download of a patient's document read-audited as the grant's holder.

use super::*;

pub(super) async fn download(
    AxState(st): AxState<Arc<State>>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
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
