//! Which paths the FHIR endpoint on the router host may forward. The edge
//! adds the router secret to what it forwards, so a path that escapes the
//! FHIR base (`/fhir/%2e%2e/metrics`) would reach the medical service's
//! internal routes with the router's authority. Only the interactions the
//! FHIR API serves pass, rebuilt from decoded and checked segments:
//!
//! - `metadata` (capabilities),
//! - `{Type}` (search),
//! - `{Type}/{id}` (read),
//! - `{Type}/{id}/${operation}` (an instance operation, e.g. `$everything`).
//!
//! Everything else — dot segments in any encoding, encoded slashes or
//! backslashes, double encoding, empty segments, characters FHIR ids do not
//! use — is refused with a 400 before anything is called.

use percent_encoding::percent_decode_str;

use crate::Rejection;

/// The FHIR base every forwarded path lives under.
pub const BASE: &str = "/fhir";

/// FHIR ids are at most 64 characters of `[A-Za-z0-9\-.]`; ours never
/// contain a dot, so dots are refused outright (no dot segment can pass).
const MAX_ID: usize = 64;

/// The path (and query) to call the medical service with, for a request
/// the client sent to `raw_path` with `raw_query`.
pub fn upstream_path(raw_path: &str, raw_query: Option<&str>) -> Result<String, Rejection> {
    let rest = raw_path
        .strip_prefix(BASE)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| refuse("the path is not under /fhir/"))?;
    let segments = rest.split('/').map(decode_segment).collect::<Result<Vec<_>, _>>()?;
    let shape_ok = match segments.as_slice() {
        [only] if only == "metadata" => true,
        [kind] => is_type(kind),
        [kind, id] => is_type(kind) && is_id(id),
        [kind, id, op] => is_type(kind) && is_id(id) && is_operation(op),
        _ => false,
    };
    if !shape_ok {
        return Err(refuse("the path is not a FHIR interaction this server offers"));
    }
    let mut path = format!("{BASE}/{}", segments.join("/"));
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        // A query cannot change the path; it is passed on as the client
        // wrote it (already a valid URI query: the router parsed it).
        path.push('?');
        path.push_str(q);
    }
    Ok(path)
}

/// One segment, percent-decoded once. A decoded segment that still holds a
/// `%` was encoded twice: refused, so that no later decoder sees a dot or a
/// slash that this check did not.
fn decode_segment(raw: &str) -> Result<String, Rejection> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| refuse("a path segment is not UTF-8"))?;
    if decoded.is_empty() {
        return Err(refuse("the path has an empty segment"));
    }
    if decoded.contains(['/', '\\', '%', '.']) || decoded.chars().any(char::is_control) {
        return Err(refuse("a path segment holds a dot, a slash or an encoded character"));
    }
    Ok(decoded.into_owned())
}

fn is_type(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && s.len() <= MAX_ID && chars.all(|c| c.is_ascii_alphabetic())
}

fn is_id(s: &str) -> bool {
    s.len() <= MAX_ID && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_operation(s: &str) -> bool {
    s.strip_prefix('$').is_some_and(|name| {
        name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.len() <= MAX_ID
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

fn refuse(why: &str) -> Rejection {
    Rejection::new(
        400,
        "BAD_USER_INPUT",
        format!("Not a FHIR request this server serves: {why}. Use {BASE}/metadata, {BASE}/{{type}}, {BASE}/{{type}}/{{id}} or {BASE}/{{type}}/{{id}}/${{operation}}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interactions_served_pass_rebuilt() {
        for (path, query, want) in [
            ("/fhir/metadata", None, "/fhir/metadata"),
            (
                "/fhir/Patient",
                Some("name=Bernard&_count=5"),
                "/fhir/Patient?name=Bernard&_count=5",
            ),
            (
                "/fhir/Patient/0b6f7c1e-2f55-4b8e-9a55-1d2d1f1c9e01",
                None,
                "/fhir/Patient/0b6f7c1e-2f55-4b8e-9a55-1d2d1f1c9e01",
            ),
            (
                "/fhir/Observation/blood-group-0b6f7c1e-2f55-4b8e-9a55-1d2d1f1c9e01",
                None,
                "/fhir/Observation/blood-group-0b6f7c1e-2f55-4b8e-9a55-1d2d1f1c9e01",
            ),
            ("/fhir/Patient/abc/$everything", None, "/fhir/Patient/abc/$everything"),
            ("/fhir/Patient/abc/%24everything", None, "/fhir/Patient/abc/$everything"),
        ] {
            assert_eq!(upstream_path(path, query).as_deref(), Ok(want), "{path}");
        }
    }

    #[test]
    fn no_path_leaves_the_fhir_base() {
        for path in [
            "/fhir/../metrics",
            "/fhir/%2e%2e/metrics",
            "/fhir/%2E%2E/rgpd/subject",
            "/fhir/.%2e/metrics",
            "/fhir/%2e./metrics",
            "/fhir/./metadata",
            "/fhir/%2e/metadata",
            "/fhir/..%2fmetrics",
            "/fhir/%2e%2e%2fmetrics",
            "/fhir/%2e%2e%5cmetrics",
            "/fhir/Patient/..%2F..%2Fmetrics",
            "/fhir/Patient%2f..%2f..%2frgpd%2fsubject",
            "/fhir/%252e%252e/metrics",
            "/fhir/Patient/%252e%252e",
            "/fhir/Patient//abc",
            "/fhir/",
            "/fhir",
            "/fhirx/Patient",
            "/metrics",
            "/fhir/Patient/abc/$everything/extra",
            "/fhir/Patient/abc/everything",
            "/fhir/patient",
            "/fhir/Patient/a%00b",
            "/fhir/Patient/%ff",
        ] {
            let err = upstream_path(path, None).expect_err(path);
            assert_eq!((err.status, err.code), (400, "BAD_USER_INPUT"), "{path}");
        }
    }
}
