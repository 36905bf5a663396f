//! `POST /oauth/token` — RFC 6749 §4.4 client credentials. Form-encoded in,
//! JSON out, errors as RFC 6749 §5.2 (`invalid_request`, `invalid_client`,
//! `unsupported_grant_type`, `invalid_scope`; `slow_down` with 429 and
//! `Retry-After` past the rate limits, per client id and per address).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, State as AxumState},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use platform::{
    db::{Scope, TenantTx},
    kv::Kv,
    rate_limit::{client_address, retry_after_secs, Bucket, Limiter},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::org_of_client_id;
use crate::{organization, settings::IdentitySettings, tokens::Grant, State};
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

/// The token endpoint's rate limits. Every request counts against its
/// address; one naming a client id also against that client, in the same
/// atomic step, so guessing one client's secret and guessing across client
/// ids both hit a limit.
pub struct TokenLimits {
    limiter: Limiter,
    per_client: Bucket,
    per_address: Bucket,
    trusted_proxy_hops: usize,
}

impl TokenLimits {
    pub fn new(settings: &IdentitySettings, kv: Kv, trusted_proxy_hops: usize) -> anyhow::Result<Self> {
        Ok(TokenLimits {
            limiter: Limiter::new(kv),
            per_client: Bucket::new(settings.token_rate_per_client)?,
            per_address: Bucket::new(settings.token_rate_per_address)?,
            trusted_proxy_hops,
        })
    }

    async fn check(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        client_id: Option<&str>,
    ) -> Result<(), Response> {
        let forwarded_for = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let address = client_address(forwarded_for, peer.map(|p| p.ip()), self.trusted_proxy_hops)
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        // One hash tag: both keys of a request live in one Redis Cluster slot.
        let mut buckets = vec![(&self.per_address, format!("hub:{{oauth}}:rl:address:{address}"))];
        if let Some(id) = client_id {
            // Hashed: a client id is whatever the caller sent, of any length.
            buckets.push((&self.per_client, format!("hub:{{oauth}}:rl:client:{}", sha256_hex(id))));
        }
        let (verdict, _) = self.limiter.check(&buckets).await;
        verdict.map_err(|wait| {
            let secs = retry_after_secs(wait);
            tracing::info!(%address, retry_after = secs, "token endpoint rate limit reached");
            let mut resp = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                &format!("too many token requests; retry in {secs} s"),
            );
            if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        })
    }
}

pub async fn token(
    AxumState(st): AxumState<Arc<State>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = is_form
        .then(|| serde_urlencoded::from_bytes::<TokenRequest>(&body).ok())
        .flatten();
    let named = form.as_ref().and_then(|f| credentials(&headers, f));
    // Every request counts, well formed or not.
    if let Err(limited) = st
        .token_limits
        .check(&headers, peer, named.as_ref().map(|(id, _)| id.as_str()))
        .await
    {
        return limited;
    }
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "use Content-Type: application/x-www-form-urlencoded",
        );
    }
    let Some(form) = form else {
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
    let Some((client_id, secret)) = named else {
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
            ..Default::default()
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
