//! The one error type clients see: every variant has a stable
//! `extensions.code` and a message localized by `Accept-Language`.
//! Internal causes are logged here, once, and never reach the client.

use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
    ErrorExtensionValues, Response,
};

use crate::i18n::{Locale, Message};

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
    /// Shown as INTERNAL; the cause is logged, never displayed.
    #[error("internal error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::BadUserInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
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
/// stable code and a message in the request's locale. Installed on every
/// schema by `server::schema_builder`.
pub struct ErrorPresenter;

impl ExtensionFactory for ErrorPresenter {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPresenterExtension)
    }
}

struct ErrorPresenterExtension;

#[async_trait::async_trait]
impl Extension for ErrorPresenterExtension {
    // `execute`, not `request`: only here is the request's data (the locale) visible.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let locale = ctx.data_opt::<Locale>().copied().unwrap_or_default();
        let mut resp = next.run(ctx, operation_name).await;
        for err in &mut resp.errors {
            // Loader errors arrive shared (`Arc`), since DataLoader results are cloned.
            let app = err
                .source::<AppError>()
                .or_else(|| err.source::<Arc<AppError>>().map(|a| a.as_ref()));
            let (message, ext) = match app {
                Some(app) => present(app, locale),
                None if has_code(err) => continue,
                // async-graphql's own input coercion ("Failed to parse \"Date\": …")
                // carries no source and speaks only of the client's input.
                None if err.source.is_none() && err.message.starts_with("Failed to parse \"") => {
                    let message = std::mem::take(&mut err.message);
                    (message, vec![("code", ErrorCode::BadUserInput.as_str().into())])
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
        resp
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
        async fn date(&self, _d: crate::scalars::Date) -> i32 {
            1
        }
    }

    async fn first_error(field: &str, locale: Locale) -> async_graphql::ServerError {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(ErrorPresenter)
            .finish();
        let resp = schema
            .execute(async_graphql::Request::new(format!("{{ {field} }}")).data(locale))
            .await;
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
    async fn errors_returned_with_question_mark_keep_their_code_and_are_localized() {
        let err = first_error("missing", Locale::Fr).await;
        assert_eq!(err.message, "Patient introuvable.");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("NOT_FOUND")));
    }
}
