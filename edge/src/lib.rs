//! Hub's edge policy, independent of any router runtime: who is calling,
//! which persisted operation runs, whether an operation is within limits,
//! and whether a caller is over its rate. The Apollo Router plugins in
//! `router/` are thin adapters over this crate; another runtime on the same
//! supergraph reuses it as is.

pub mod auth;
pub mod headers;
pub mod limits;
pub mod persisted;
pub mod rate_limit;

/// A rejection with the HTTP status and the stable `extensions.code` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429s.
    pub retry_after: Option<u64>,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The GraphQL response body for this rejection.
    pub fn body(&self) -> serde_json::Value {
        let mut ext = serde_json::json!({ "code": self.code });
        if let Some(s) = self.retry_after {
            ext["retryAfter"] = s.into();
        }
        serde_json::json!({ "errors": [{ "message": self.message, "extensions": ext }] })
    }
}
