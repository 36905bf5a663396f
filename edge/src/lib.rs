//! Hub's edge policy, independent of any router runtime: who is calling,
//! which persisted operation runs, whether an operation is within limits,
//! and whether a caller is over its rate. The Apollo Router plugins in
//! `router/` are thin adapters over this crate; another runtime on the same
//! supergraph reuses it as is.

pub mod auth;
pub mod fhir;
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

    /// The same rejection as a FHIR `OperationOutcome` (the FHIR API on
    /// the router host), with our code beside FHIR's issue type.
    pub fn operation_outcome(&self) -> serde_json::Value {
        let issue = match self.status {
            400 => "invalid",
            401 => "login",
            403 => "forbidden",
            405 => "not-supported",
            429 => "throttled",
            502..=504 => "transient",
            _ => "processing",
        };
        serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "error",
                "code": issue,
                "details": { "coding": [{ "system": "urn:hub:error-code", "code": self.code }], "text": self.message },
                "diagnostics": self.message,
            }],
        })
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
