//! Routes of a subgraph besides `/graphql` (the medical FHIR API, exports)
//! see their caller exactly as `/graphql` does: the same bearer-token
//! verification (signature, audience, revocation), the request's locale and
//! request id. The kit hands every extra route the service's verifier.

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{
    foundation::error::{present, AppError},
    foundation::i18n::Locale,
    security::auth::{bearer_token, AuthContext, RequestMeta},
    security::jwt::JwtVerifier,
};

/// Who called a route, in which language, under which request id.
pub struct Call {
    /// `Ok(None)`: no token. `Err`: a token was sent and refused.
    pub caller: Result<Option<AuthContext>, AppError>,
    pub locale: Locale,
    pub meta: Option<RequestMeta>,
}

impl Call {
    /// The verified caller; anonymous or refused tokens are `Unauthenticated`.
    pub fn auth(&self) -> Result<&AuthContext, AppError> {
        match &self.caller {
            Ok(Some(a)) => Ok(a),
            _ => Err(AppError::Unauthenticated),
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        self.meta.as_ref().map(|m| m.request_id.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let header = |name: axum::http::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let locale = Locale::from_accept_language(header(axum::http::header::ACCEPT_LANGUAGE));
        let meta = header(axum::http::HeaderName::from_static("x-request-id")).map(|id| RequestMeta {
            request_id: id.to_string(),
        });
        let verifier = parts.extensions.get::<Arc<JwtVerifier>>().cloned();
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let caller = match (bearer_token(authorization), verifier) {
            (Ok(None), _) => Ok(None),
            (Err(_), _) => Err(AppError::Unauthenticated),
            (Ok(Some(_)), None) => Err(AppError::Internal(anyhow::anyhow!(
                "a route read its caller outside the kit's app (no verifier)"
            ))),
            (Ok(Some(token)), Some(v)) => match v.authenticate(token).await {
                Ok(auth) => Ok(Some(auth)),
                Err(e) => {
                    tracing::info!(reason = %e, "access token refused");
                    Err(AppError::Unauthenticated)
                }
            },
        };
        Ok(Call { caller, locale, meta })
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (`A–Z a–z 0–9 - _ . ~`):
/// a query parameter's value in a link, an RFC 5987 file name.
pub fn encode_component(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(s, RESERVED).to_string()
}

/// A GraphQL-shaped error body for failures before execution.
pub fn error_response(status: StatusCode, err: &AppError, locale: Locale) -> Response {
    let (message, extensions) = present(err, locale);
    let extensions: serde_json::Map<String, serde_json::Value> = extensions
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_json().unwrap_or_default()))
        .collect();
    let body = json!({ "data": null, "errors": [{ "message": message, "extensions": extensions }] });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::encode_component;

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(encode_component("a-Z_0.9~"), "a-Z_0.9~");
        assert_eq!(
            encode_component("2026-12-07T10:00:00.000000+00:00"),
            "2026-12-07T10%3A00%3A00.000000%2B00%3A00"
        );
        assert_eq!(encode_component("bilan sanguin é.pdf"), "bilan%20sanguin%20%C3%A9.pdf");
    }
}
