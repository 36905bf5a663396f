//! Which client headers never pass the edge, and which are forwarded.

/// Header the router adds so subgraphs know a call came through it.
pub const ROUTER_SECRET_HEADER: &str = platform_base::headers::ROUTER_SECRET_HEADER;

/// Headers a client must not be able to set: Hub-internal ones and the
/// router secret (a client that knew it could bypass the edge checks).
pub fn is_internal(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-hub-") || n == ROUTER_SECRET_HEADER
}

/// The request id header: one id per client request, in every subgraph's
/// logs and audit rows and in the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Client headers subgraphs receive (the request id as settled by the edge).
pub const FORWARDED: [&str; 4] = ["authorization", "traceparent", "accept-language", REQUEST_ID];

/// The request id to use: the client's if well formed (1 to 64 letters,
/// digits, `-`, `_`, `.`), otherwise a new UUID. A client cannot inject log
/// lines or oversized values through it.
pub fn settle_request_id(client: Option<&str>) -> String {
    match client {
        Some(id)
            if (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_client_request_id_is_kept_and_anything_else_replaced() {
        assert_eq!(settle_request_id(Some("checkout-42.a_b")), "checkout-42.a_b");
        for bad in [
            None,
            Some(""),
            Some("two words"),
            Some("line\nbreak"),
            Some(&"x".repeat(65)[..]),
        ] {
            let id = settle_request_id(bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
        }
    }

    #[test]
    fn internal_headers_are_recognized_in_any_case() {
        assert!(is_internal("X-Hub-Organization"));
        assert!(is_internal("x-hub-router-secret"));
        assert!(!is_internal("authorization"));
        assert!(!is_internal("x-hubble"));
    }
}
