//! Small input validators shared by every subgraph; each failure is a
//! BAD_USER_INPUT naming the field.

use async_graphql::{Name, Value, Variables};

use crate::foundation::error::AppError;

/// A trimmed, lower-cased e-mail address, or BAD_USER_INPUT on `field`.
pub fn email(field: &str, email: &str) -> Result<String, AppError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(AppError::bad_input(field, "is not a valid email address"))
    }
}

/// One of the languages messages and mails are written in (`en`, `fr`,
/// `de`), or BAD_USER_INPUT on `field`.
pub fn locale(field: &str, value: &str) -> Result<crate::foundation::i18n::Locale, AppError> {
    use crate::foundation::i18n::Locale;
    match value.trim() {
        "en" => Ok(Locale::En),
        "fr" => Ok(Locale::Fr),
        "de" => Ok(Locale::De),
        _ => Err(AppError::bad_input(field, "use en, fr or de")),
    }
}

/// PostgreSQL text cannot hold NUL, so a NUL reaching a query would come back
/// as an internal error. Every request is checked once, before execution:
/// variables (the error names the variable path, e.g. `input.email`) and
/// string literals in the document (`\u0000` escapes).
pub fn refuse_nul(query: &str, variables: &Variables) -> Result<(), AppError> {
    const REASON: &str = "must not contain NUL characters";
    for (name, value) in variables.iter() {
        if let Some(path) = nul_path(name.as_str(), value) {
            return Err(AppError::bad_input(path, REASON));
        }
    }
    if query.contains('\0') || escapes_nul(query) {
        return Err(AppError::bad_input("query", REASON));
    }
    Ok(())
}

/// Whether the document spells a NUL as an escape: `\u0000` or `\u{0…}`.
/// Scans without allocating: it runs on every request.
fn escapes_nul(query: &str) -> bool {
    query.match_indices("\\u").any(|(i, _)| {
        let rest = &query[i + 2..];
        if let Some(braced) = rest.strip_prefix('{') {
            braced
                .split_once('}')
                .is_some_and(|(hex, _)| !hex.is_empty() && hex.bytes().all(|b| b == b'0'))
        } else {
            rest.starts_with("0000")
        }
    })
}

fn nul_path(path: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| path.to_string()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(&format!("{path}.{i}"), v)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v): (&Name, &Value)| nul_path(&format!("{path}.{k}"), v)),
        _ => None,
    }
}

/// Trimmed text of `min..=max` characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, AppError> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min.max(1) && min > 0 {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if n > max {
        return Err(AppError::bad_input(field, format!("must be at most {max} characters")));
    }
    Ok(v.to_string())
}

/// Optional text: blank becomes `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

/// A user's search words as a `LIKE`/`ILIKE` pattern: `%`, `_` and `\\`
/// match themselves, then `%` is put where the words may be surrounded.
pub fn like_pattern(words: &str, anywhere: bool) -> String {
    let escaped = words.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    if anywhere {
        format!("%{escaped}%")
    } else {
        format!("{escaped}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_match_themselves_in_a_like_pattern() {
        assert_eq!(like_pattern("50%_off\\", true), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("Dup", false), "Dup%");
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Ana ", 1, 10).unwrap(), "Ana");
        assert!(text("name", "   ", 1, 10).is_err());
        assert!(text("name", "abcdefghijk", 1, 10).is_err());
        assert_eq!(optional_text("x", Some("  "), 5).unwrap(), None);
        assert!(optional_text("x", Some("toolong"), 5).is_err());
    }
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    fn vars(json: serde_json::Value) -> Variables {
        Variables::from_json(json)
    }

    #[test]
    fn a_nul_anywhere_in_the_input_is_refused_naming_where() {
        let ok = refuse_nul(
            "query($i: In!) { f(i: $i) }",
            &vars(serde_json::json!({ "i": { "email": "a@b.c" } })),
        );
        assert!(ok.is_ok());
        let err = refuse_nul("q", &vars(serde_json::json!({ "i": { "tags": ["x", "y\0"] } }))).unwrap_err();
        assert!(
            matches!(&err, AppError::BadUserInput { field, .. } if field == "i.tags.1"),
            "{err:?}"
        );
        let err = refuse_nul(r#"{ patients(search: "a\u0000b") { id } }"#, &Variables::default()).unwrap_err();
        assert!(
            matches!(&err, AppError::BadUserInput { field, .. } if field == "query"),
            "{err:?}"
        );
        assert!(refuse_nul(r#"{ f(s: "a\u{000}b") }"#, &Variables::default()).is_err());
        // Other escapes pass: an accented letter is not a NUL.
        assert!(refuse_nul(r#"{ f(s: "caf\u00e9 \u{00e9} \u{e9}") }"#, &Variables::default()).is_ok());
    }
}
