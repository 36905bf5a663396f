//! Thin Apollo Router adapters over the `edge` policy crate, one plugin per
//! file. Configured under `plugins:` in router.yaml as `hub.<name>`.

pub mod plugins;

use apollo_router::{graphql, services::router, Context};
use edge::Rejection;

/// Context key holding the verified caller (set by `hub.auth`).
pub const CALLER: &str = "hub::caller";

/// A router-stage response for an edge rejection: its status, code and,
/// for 429s, `Retry-After`.
pub fn reject(rejection: &Rejection, context: Context) -> Result<router::Response, tower::BoxError> {
    let mut error = graphql::Error::builder()
        .message(rejection.message.clone())
        .extension_code(rejection.code);
    if let Some(s) = rejection.retry_after {
        error = error.extension("retryAfter", s);
    }
    let status = http::StatusCode::from_u16(rejection.status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let mut builder = router::Response::error_builder()
        .error(error.build())
        .status_code(status)
        .context(context);
    if let Some(s) = rejection.retry_after {
        builder = builder.header(http::header::RETRY_AFTER, s.to_string());
    }
    builder.build()
}
