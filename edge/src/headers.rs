//! Which client headers never pass the edge, and which are forwarded.

/// Header the router adds so subgraphs know a call came through it.
pub const ROUTER_SECRET_HEADER: &str = platform::server::ROUTER_SECRET_HEADER;

/// Headers a client must not be able to set: Hub-internal ones and the
/// router secret (a client that knew it could bypass the edge checks).
pub fn is_internal(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-hub-") || n == ROUTER_SECRET_HEADER
}

/// Client headers subgraphs receive.
pub const FORWARDED: [&str; 3] = ["authorization", "traceparent", "accept-language"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_headers_are_recognized_in_any_case() {
        assert!(is_internal("X-Hub-Organization"));
        assert!(is_internal("x-hub-router-secret"));
        assert!(!is_internal("authorization"));
        assert!(!is_internal("x-hubble"));
    }
}
