//! What an amendment may change, as a plain function over the locked tender
//! and the request: the rules are tested without a database.

use chrono::{DateTime, Utc};
use platform::{AppError, AppResult};
use serde_json::{json, Map, Value};

use super::{db::Amended, model::Tender, model::TenderStatus, valid_deadlines};

/// What an `amendTender` asks to change (absent: unchanged).
#[derive(Default)]
pub struct Requested {
    pub title: Option<String>,
    pub description: Option<String>,
    pub estimated_amount: Option<i64>,
    pub enquiry_deadline: Option<DateTime<Utc>>,
    pub submission_deadline: Option<DateTime<Utc>>,
}

/// The tender as amended and the changes as `{field: {from, to}}`: only a
/// published tender before its deadline, deadlines only later, and at least
/// one change.
pub fn amend(t: &Tender, r: Requested) -> AppResult<(Amended, Value)> {
    if t.status != TenderStatus::Published || t.deadline_passed {
        return Err(AppError::Conflict(
            "only a published tender can be amended, before its deadline".into(),
        ));
    }
    let submission = r.submission_deadline.unwrap_or(t.submission_deadline);
    if submission < t.submission_deadline {
        return Err(AppError::bad_input("submissionDeadline", "may only be extended"));
    }
    if let (Some(new), Some(old)) = (r.enquiry_deadline, t.enquiry_deadline) {
        if new < old {
            return Err(AppError::bad_input("enquiryDeadline", "may only be extended"));
        }
    }
    let enquiry = r.enquiry_deadline.or(t.enquiry_deadline);
    valid_deadlines(enquiry, submission)?;
    let amended = Amended {
        title: r.title.unwrap_or_else(|| t.title.clone()),
        description: r.description.unwrap_or_else(|| t.description.clone()),
        estimated_amount: r.estimated_amount.unwrap_or(t.estimated_amount),
        enquiry_deadline: enquiry,
        submission_deadline: submission,
    };
    let mut changes = Map::new();
    let mut note = |field: &str, from: Value, to: Value| {
        if from != to {
            changes.insert(field.into(), json!({ "from": from, "to": to }));
        }
    };
    note("title", json!(t.title), json!(amended.title));
    note("description", json!(t.description), json!(amended.description));
    note(
        "estimatedValue",
        json!(t.estimated_amount),
        json!(amended.estimated_amount),
    );
    note(
        "enquiryDeadline",
        json!(t.enquiry_deadline),
        json!(amended.enquiry_deadline),
    );
    note(
        "submissionDeadline",
        json!(t.submission_deadline),
        json!(amended.submission_deadline),
    );
    if changes.is_empty() {
        return Err(AppError::bad_input("input", "changes nothing"));
    }
    Ok((amended, Value::Object(changes)))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use platform::ErrorCode;
    use uuid::Uuid;

    use super::*;
    use crate::tender::model::{MainCategory, ProcurementMethod};

    fn published() -> Tender {
        let now = Utc::now();
        Tender {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            reference: "T-1".into(),
            title: "Chairs".into(),
            description: "Two hundred chairs".into(),
            procurement_method: ProcurementMethod::Open,
            main_category: MainCategory::Goods,
            cpv_codes: vec![],
            estimated_amount: 10_000,
            currency: "EUR".into(),
            enquiry_deadline: Some(now + Duration::days(5)),
            submission_deadline: now + Duration::days(10),
            deadline_passed: false,
            status: TenderStatus::Published,
            cancellation_reason: None,
            published_at: Some(now),
            created_at: now,
        }
    }

    fn field(e: &AppError) -> (ErrorCode, String) {
        match e {
            AppError::BadUserInput { field, .. } => (e.code(), field.to_string()),
            other => (other.code(), String::new()),
        }
    }

    #[test]
    fn a_change_is_listed_with_its_old_and_new_value_and_the_rest_kept() {
        let t = published();
        let later = t.submission_deadline + Duration::days(3);
        let (amended, changes) = amend(
            &t,
            Requested {
                title: Some("Chairs and tables".into()),
                submission_deadline: Some(later),
                ..Requested::default()
            },
        )
        .expect("amendable");
        assert_eq!(amended.title, "Chairs and tables");
        assert_eq!(amended.description, t.description);
        assert_eq!(amended.submission_deadline, later);
        assert_eq!(changes["title"], json!({ "from": "Chairs", "to": "Chairs and tables" }));
        assert!(changes.get("description").is_none(), "{changes}");
        assert_eq!(changes.as_object().map(Map::len), Some(2));
    }

    #[test]
    fn deadlines_only_move_later_and_the_enquiry_stays_before_the_submission() {
        let t = published();
        let earlier = |d: DateTime<Utc>| Some(d - Duration::hours(1));
        let e = amend(
            &t,
            Requested {
                submission_deadline: earlier(t.submission_deadline),
                ..Default::default()
            },
        );
        assert_eq!(field(&e.err().expect("refused")).1, "submissionDeadline");
        let e = amend(
            &t,
            Requested {
                enquiry_deadline: earlier(t.enquiry_deadline.expect("set")),
                ..Default::default()
            },
        );
        assert_eq!(field(&e.err().expect("refused")).1, "enquiryDeadline");
        let past_submission = Some(t.submission_deadline + Duration::days(1));
        let e = amend(
            &t,
            Requested {
                enquiry_deadline: past_submission,
                ..Default::default()
            },
        );
        assert_eq!(field(&e.err().expect("refused")).1, "enquiryDeadline");
    }

    #[test]
    fn only_a_published_tender_before_its_deadline_changes_and_never_for_nothing() {
        let mut t = published();
        let same = || Requested {
            title: Some("Chairs".into()),
            ..Default::default()
        };
        assert_eq!(
            field(&amend(&t, same()).err().expect("refused")),
            (ErrorCode::BadUserInput, "input".into())
        );
        t.deadline_passed = true;
        let retitled = || Requested {
            title: Some("Desks".into()),
            ..Default::default()
        };
        assert_eq!(amend(&t, retitled()).err().map(|e| e.code()), Some(ErrorCode::Conflict));
        t.deadline_passed = false;
        t.status = TenderStatus::Draft;
        assert_eq!(amend(&t, retitled()).err().map(|e| e.code()), Some(ErrorCode::Conflict));
    }
}
