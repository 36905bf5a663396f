//! The one error type clients see: every variant has a stable
//! `extensions.code` and a message localized by `Accept-Language`.
//! Internal causes are logged here, once, and never reach the client.

use std::sync::Arc;

use async_graphql::ErrorExtensionValues;

use crate::foundation::i18n::{Locale, Message};

/// Stable codes in `extensions.code`; clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    MfaRequired,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::MfaRequired => "MFA_REQUIRED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong organization, email or password, or a locked account: one answer
    /// for all so that a caller cannot probe which emails exist.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A refresh, reset or invite token that is unknown, used or expired.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The account has TOTP enabled and no (or a wrong) code was given.
    #[error("a valid one-time code is required")]
    MfaRequired,
    /// Authenticated, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// The entity does not exist or is not visible to this organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that fails validation; nothing was written.
    #[error("invalid {field}: {reason}")]
    BadUserInput { field: String, reason: String },
    /// The write clashes with existing data (duplicate, concurrent change).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("rate limited, retry in {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// A dependency needed to do this safely is down (e.g. Redis for revocation).
    #[error("temporarily unavailable: {0}")]
    Unavailable(&'static str),
    /// Shown as INTERNAL; the cause is logged, never displayed. Errors the
    /// database raises about the input itself are shown as BAD_USER_INPUT
    /// instead (see [`AppError::refused_input`]).
    #[error("internal error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// The database's last word on input a resolver let through: a CHECK
/// constraint, a value too long for a column or an index entry, a number or
/// date out of range. The client sent it, so it is the client's error
/// (BAD_USER_INPUT), never INTERNAL; and nothing was written, since the
/// statement failed. Logged, because a resolver should have said it first.
fn refused_input(db: &dyn sqlx::error::DatabaseError) -> Option<AppError> {
    let reason = match db.code()?.as_ref() {
        "23514" => "is not an allowed value",
        "22001" | "54000" => "is too long",
        "22003" | "22008" => "is out of range",
        _ => return None,
    };
    let field = db
        .constraint()
        .map(|c| field_of_constraint(c, db.table()))
        .unwrap_or_else(|| "input".to_string());
    Some(AppError::bad_input(field, reason))
}

/// `patients_given_name_check` on table `patients` → `givenName`: the input
/// field a column CHECK constraint guards, as GraphQL spells it.
fn field_of_constraint(constraint: &str, table: Option<&str>) -> String {
    let mut name = constraint.strip_suffix("_check").unwrap_or(constraint);
    if let Some(rest) = table
        .and_then(|t| name.strip_prefix(t))
        .and_then(|r| r.strip_prefix('_'))
    {
        name = rest;
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::BadUserInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// What the client sees of a database error about its input (a CHECK
    /// constraint, a value too long, out of range); `None` for any other
    /// error. Kept as `Database` until shown, so `on_constraint` can still
    /// map a named constraint to a better error first.
    pub fn refused_input(&self) -> Option<AppError> {
        match self {
            AppError::Database(sqlx::Error::Database(db)) => refused_input(db.as_ref()),
            _ => None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        if self.refused_input().is_some() {
            return ErrorCode::BadUserInput;
        }
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials | AppError::InvalidToken => {
                ErrorCode::Unauthenticated
            }
            AppError::MfaRequired => ErrorCode::MfaRequired,
            AppError::Forbidden => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::BadUserInput { .. } => ErrorCode::BadUserInput,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::Database(_) | AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The localizable message shown to clients.
    pub fn message(&self) -> Message {
        if let Some(refused) = self.refused_input() {
            return refused.message();
        }
        match self {
            AppError::Unauthenticated => Message::Unauthenticated,
            AppError::InvalidCredentials => Message::InvalidCredentials,
            AppError::InvalidToken => Message::InvalidToken,
            AppError::MfaRequired => Message::MfaRequired,
            AppError::Forbidden => Message::Forbidden,
            AppError::NotFound(what) => Message::NotFound(what),
            AppError::BadUserInput { field, reason } => Message::BadUserInput {
                field: field.clone(),
                reason: reason.clone(),
            },
            AppError::Conflict(what) => Message::Conflict(what.clone()),
            AppError::RateLimited { retry_after_secs } => Message::RateLimited(*retry_after_secs),
            AppError::Unavailable(what) => Message::Unavailable(what),
            AppError::Database(_) | AppError::Internal(_) => Message::Internal,
        }
    }
}

/// What a client sees of an error: a localized message and extensions.
pub fn present(err: &AppError, locale: Locale) -> (String, Vec<(&'static str, async_graphql::Value)>) {
    if let Some(refused) = err.refused_input() {
        tracing::warn!(error = %error_chain(err), "the database refused an input no resolver checked");
        return present(&refused, locale);
    }
    if matches!(err, AppError::Database(_) | AppError::Internal(_)) {
        tracing::error!(error = %error_chain(err), "internal error");
    }
    let mut ext = vec![("code", err.code().as_str().into())];
    match err {
        AppError::BadUserInput { field, .. } => ext.push(("field", field.as_str().into())),
        AppError::RateLimited { retry_after_secs } => ext.push(("retryAfter", (*retry_after_secs).into())),
        _ => {}
    }
    (err.message().render(locale), ext)
}

/// Turns every [`AppError`] a resolver or guard returned (with `?`) into its
/// stable code and a message in the request's locale; gives a code to
/// every error that has none. The server calls it on every response after
/// execution. It is not a schema extension on purpose: any extension on a
/// schema sends every field through async-graphql's extension chain, which
/// costs on every field of every request.
pub fn present_errors(errors: &mut [async_graphql::ServerError], locale: Locale) {
    for err in errors {
        // Loader errors arrive shared (`Arc`), since batch results are cloned.
        let app = err
            .source::<AppError>()
            .or_else(|| err.source::<Arc<AppError>>().map(|a| a.as_ref()));
        let (message, ext) = match app {
            Some(app) => present(app, locale),
            None if has_code(err) => continue,
            // async-graphql's own input coercion ("Failed to parse \"Date\": …")
            // carries no source and speaks only of the client's input.
            None if err.source.is_none()
                && (err.message.starts_with("Failed to parse \"")
                    || err.message.starts_with("Expected input type \"")) =>
            {
                let message = std::mem::take(&mut err.message);
                (message, vec![("code", ErrorCode::BadUserInput.as_str().into())])
            }
            // Refused before execution (parse, validation, depth and
            // complexity limits): about the document the client sent, at no path.
            None if err.source.is_none() && err.path.is_empty() => {
                let message = std::mem::take(&mut err.message);
                (message, vec![("code", "GRAPHQL_VALIDATION_FAILED".into())])
            }
            // Anything else without a code is a bug or a raw library error
            // (a database message, a missing schema datum): its text must
            // not reach the client.
            None => present(
                &AppError::Internal(anyhow::anyhow!("error without a code: {}", err.message)),
                locale,
            ),
        };
        err.message = message;
        let merged = err.extensions.get_or_insert_with(ErrorExtensionValues::default);
        for (k, v) in ext {
            merged.set(k, v);
        }
    }
}

fn has_code(err: &async_graphql::ServerError) -> bool {
    err.extensions.as_ref().is_some_and(|e| e.get("code").is_some())
}

/// `a: b: c` — the whole cause chain, for logs only.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// Pairs of a constraint name and the user error it means.
pub type ConstraintErrors<'a> = &'a [(&'a str, fn() -> AppError)];

/// Maps PostgreSQL constraint violations to user errors in one place, so
/// resolvers never string-match database messages.
pub trait OnConstraint<T> {
    /// `mapping` pairs a constraint name with the error it means.
    fn on_constraint(self, mapping: ConstraintErrors<'_>) -> AppResult<T>;
}

impl<T, E: Into<AppError>> OnConstraint<T> for Result<T, E> {
    fn on_constraint(self, mapping: ConstraintErrors<'_>) -> AppResult<T> {
        self.map_err(|e| {
            let e = e.into();
            if let AppError::Database(sqlx::Error::Database(db)) = &e {
                if let Some(name) = db.constraint() {
                    if let Some((_, make)) = mapping.iter().find(|(n, _)| *n == name) {
                        return make();
                    }
                }
            }
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    #[test]
    fn a_check_constraint_names_the_graphql_field_it_guards() {
        assert_eq!(
            field_of_constraint("patients_given_name_check", Some("patients")),
            "givenName"
        );
        assert_eq!(
            field_of_constraint("organizations_slug_check", Some("organizations")),
            "slug"
        );
        assert_eq!(field_of_constraint("amount_positive", None), "amountPositive");
    }

    /// The real PostgreSQL's errors, through the same conversion resolvers use.
    #[tokio::test]
    async fn input_the_database_refuses_is_bad_user_input_naming_the_field() {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        sqlx::query(
            "create temp table patients (given_name text check (length(given_name) <= 5), \
             code text, born date, visits smallint)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("create index on patients (code)")
            .execute(&mut conn)
            .await
            .unwrap();
        let cases = [
            (
                "insert into patients (given_name) values ('abcdefgh')",
                "givenName",
                "is not an allowed value",
            ),
            (
                "insert into patients (visits) values (70000)",
                "input",
                "is out of range",
            ),
        ];
        for (sql, field, reason) in cases {
            let err: AppError = sqlx::query(sql).execute(&mut conn).await.unwrap_err().into();
            assert_eq!(err.code(), ErrorCode::BadUserInput, "{sql}");
            let (message, ext) = present(&err, Locale::En);
            assert!(message.contains(reason), "{sql}: {message}");
            assert!(ext.contains(&("field", field.into())), "{sql}: {ext:?}");
        }
        // An index entry too large (random bytes do not compress).
        let err: AppError = sqlx::query(
            "insert into patients (code) select string_agg(md5(random()::text), '') from generate_series(1, 1000)",
        )
        .execute(&mut conn)
        .await
        .unwrap_err()
        .into();
        assert_eq!(present(&err, Locale::De).0, "Ungültiger Wert für input: ist zu lang.");
        // Anything else stays INTERNAL: a missing table is a bug, not bad input.
        let err: AppError = sqlx::query("select * from no_such_table")
            .execute(&mut conn)
            .await
            .unwrap_err()
            .into();
        assert_eq!(err.code(), ErrorCode::Internal);
    }

    #[test]
    fn every_variant_carries_its_stable_code() {
        let cases = [
            (AppError::Unauthenticated, "UNAUTHENTICATED"),
            (AppError::InvalidCredentials, "UNAUTHENTICATED"),
            (AppError::Forbidden, "FORBIDDEN"),
            (AppError::NotFound("user"), "NOT_FOUND"),
            (AppError::bad_input("email", "is empty"), "BAD_USER_INPUT"),
            (AppError::Conflict("slug".into()), "CONFLICT"),
            (AppError::RateLimited { retry_after_secs: 3 }, "RATE_LIMITED"),
            (AppError::Internal(anyhow::anyhow!("disk on fire")), "INTERNAL"),
        ];
        for (err, code) in cases {
            let (_, ext) = present(&err, Locale::En);
            assert_eq!(ext[0], ("code", async_graphql::Value::from(code)));
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn secret(&self) -> async_graphql::Result<i32> {
            Err(AppError::Internal(anyhow::anyhow!(
                "password=hunter2 connection refused"
            )))?
        }
        async fn missing(&self) -> async_graphql::Result<i32> {
            Err(AppError::NotFound("Patient").into())
        }
        async fn raw(&self) -> async_graphql::Result<i32> {
            // A library error passed up with `?` without becoming an AppError.
            Err(sqlx::Error::Protocol("relation \"patients\" leaked: ssn=123".into()))?
        }
        async fn date(&self, _d: crate::foundation::scalars::Date) -> i32 {
            1
        }
    }

    async fn first_error(field: &str, locale: Locale) -> async_graphql::ServerError {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let mut resp = schema
            .execute(async_graphql::Request::new(format!("{{ {field} }}")))
            .await;
        present_errors(&mut resp.errors, locale);
        resp.errors.into_iter().next().expect("an error")
    }

    #[tokio::test]
    async fn internal_causes_never_reach_the_client() {
        let err = first_error("secret", Locale::En).await;
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert_eq!(err.message, "Internal error.");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
    }

    #[tokio::test]
    async fn an_error_without_a_code_becomes_internal_and_its_text_never_reaches_the_client() {
        let err = first_error("raw", Locale::De).await;
        assert!(!err.message.contains("ssn"), "{}", err.message);
        assert_eq!(err.message, "Interner Fehler.");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
    }

    #[tokio::test]
    async fn input_that_cannot_be_parsed_is_bad_user_input() {
        let err = first_error("date(d: \"31/02/2020\")", Locale::En).await;
        assert!(err.message.starts_with("Failed to parse"), "{}", err.message);
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }

    #[tokio::test]
    async fn a_document_refused_before_execution_says_so_with_a_code() {
        let err = first_error("nosuchfield", Locale::En).await;
        assert!(err.message.contains("nosuchfield"), "{}", err.message);
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("GRAPHQL_VALIDATION_FAILED")));
    }

    #[tokio::test]
    async fn errors_returned_with_question_mark_keep_their_code_and_are_localized() {
        let err = first_error("missing", Locale::Fr).await;
        assert_eq!(err.message, "Patient introuvable.");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("NOT_FOUND")));
    }
}
