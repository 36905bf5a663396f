//! Small input validators shared by every subgraph; each failure is a
//! BAD_USER_INPUT naming the field.

use crate::error::AppError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Ana ", 1, 10).unwrap(), "Ana");
        assert!(text("name", "   ", 1, 10).is_err());
        assert!(text("name", "abcdefghijk", 1, 10).is_err());
        assert_eq!(optional_text("x", Some("  "), 5).unwrap(), None);
        assert!(optional_text("x", Some("toolong"), 5).is_err());
    }
}
