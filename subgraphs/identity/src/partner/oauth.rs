//! `POST /oauth/token` — RFC 6749 §4.4 client credentials. Form-encoded in,
//! JSON out, errors as RFC 6749 §5.2 (`invalid_request`, `invalid_client`,
//! `unsupported_grant_type`, `invalid_scope`).

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State as AxumState,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use platform::db::{Scope, TenantTx};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::org_of_client_id;
use crate::{organization, tokens::Grant, State};
use platform::crypto::sha256_hex;

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"hub\""),
        );
    }
    resp
}

/// Credentials from HTTP Basic (preferred by RFC 6749) or the form body.
fn credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((id.to_string(), secret.to_string()));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

pub async fn token(AxumState(st): AxumState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "use Content-Type: application/x-www-form-urlencoded",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<TokenRequest>(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "malformed form body");
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            )
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    }
    let Some((client_id, secret)) = credentials(&headers, &form) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    match issue(&st, &client_id, &secret, form.scope.as_deref()).await {
        Ok(resp) => resp,
        Err(IssueError::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ),
        Err(IssueError::InvalidScope) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "a requested scope is not granted to this client",
        ),
        Err(IssueError::Internal(e)) => {
            tracing::error!(error = %platform::error::error_chain(e.as_ref()), "token endpoint failed");
            oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error")
        }
    }
}

enum IssueError {
    InvalidClient,
    InvalidScope,
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for IssueError {
    fn from(e: E) -> Self {
        IssueError::Internal(Box::new(e))
    }
}

struct ClientRow {
    id: Uuid,
    secret_hash: String,
    scopes: Vec<String>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn issue(st: &State, client_id: &str, secret: &str, scope: Option<&str>) -> Result<Response, IssueError> {
    let org_id = org_of_client_id(client_id).ok_or(IssueError::InvalidClient)?;
    let mut tx = TenantTx::begin_scoped(
        &st.pool,
        &Scope {
            organization_id: org_id,
            user_id: None,
            roles: vec![],
        },
    )
    .await
    .map_err(|e| IssueError::Internal(Box::new(e)))?;
    let row = sqlx::query_as!(
        ClientRow,
        "select id, secret_hash, scopes, revoked_at from partner_clients where client_id = $1",
        client_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let given = sha256_hex(secret);
    // Compare hashes in constant time; an unknown client compares against nothing.
    let row = row.filter(|r| {
        r.revoked_at.is_none() && platform::server::constant_time_eq(r.secret_hash.as_bytes(), given.as_bytes())
    });
    let row = row.ok_or(IssueError::InvalidClient)?;
    let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => row.scopes.clone(),
        Some(req) => {
            let wanted: Vec<String> = req.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if !wanted.iter().all(|w| row.scopes.contains(w)) {
                return Err(IssueError::InvalidScope);
            }
            wanted
        }
    };
    let org = organization::db::by_ids(&mut tx, &[org_id])
        .await?
        .into_iter()
        .next()
        .ok_or(IssueError::InvalidClient)?;
    tx.commit().await.map_err(|e| IssueError::Internal(Box::new(e)))?;
    let (token, expires_at) = st
        .issuer
        .issue(Grant {
            subject: row.id,
            organization_id: org_id,
            roles: vec![],
            verticals: org.vertical_list(),
            session_id: None,
            amr: vec!["client_secret".into()],
            client: Some("partner".into()),
            scopes: scopes.clone(),
        })
        .map_err(|e| IssueError::Internal(Box::new(e)))?;
    let expires_in = (expires_at - chrono::Utc::now()).num_seconds().max(0);
    let mut resp = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scopes.join(" "),
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}
