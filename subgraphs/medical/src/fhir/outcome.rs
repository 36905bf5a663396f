//! Failures as FHIR answers: an OperationOutcome with the platform's stable
//! code and localized message, and the status a FHIR client expects.

use super::*;

/// What a FHIR request can fail with: the platform's errors, plus a
/// deleted record (410) and a type or operation this server does not serve.
#[derive(Debug)]
pub enum Failure {
    App(AppError),
    Gone(&'static str),
    Unsupported(String),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::App(e)
    }
}

pub(super) type Outcome<T> = Result<T, Failure>;

pub(super) fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// An OperationOutcome with the HTTP status FHIR expects, the issue code,
/// our stable error code and the message in the caller's language.
pub fn operation_outcome(failure: &Failure, locale: Locale) -> Response {
    let (status, issue, code, message, field) = match failure {
        Failure::Gone(what) => (
            StatusCode::GONE,
            "deleted",
            "GONE",
            Message::Gone(what).render(locale),
            None,
        ),
        Failure::Unsupported(what) => (
            StatusCode::NOT_FOUND,
            "not-supported",
            "NOT_FOUND",
            Message::NotSupported(what.clone()).render(locale),
            None,
        ),
        Failure::App(e) => {
            let (message, _) = present(e, locale);
            let field = match e {
                AppError::BadUserInput { field, .. } => Some(field.clone()),
                _ => None,
            };
            let code = e.code();
            let (status, issue) = match code {
                platform::ErrorCode::Unauthenticated => (StatusCode::UNAUTHORIZED, "login"),
                platform::ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
                platform::ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not-found"),
                platform::ErrorCode::BadUserInput => (StatusCode::BAD_REQUEST, "invalid"),
                platform::ErrorCode::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
                platform::ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "transient"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "exception"),
            };
            (status, issue, code.as_str(), message, field)
        }
    };
    let mut issue = json!({
        "severity": "error",
        "code": issue,
        "details": { "coding": [{ "system": codes::HUB_ERROR, "code": code }], "text": message },
        "diagnostics": message,
    });
    if let Some(f) = field {
        issue["expression"] = json!([f]);
    }
    let body = json!({ "resourceType": "OperationOutcome", "issue": [issue] });
    let mut resp = fhir_json(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

pub(super) fn respond(locale: Locale, result: Outcome<Value>) -> Response {
    match result {
        Ok(body) => fhir_json(StatusCode::OK, &body),
        Err(f) => operation_outcome(&f, locale),
    }
}
