//! Data subjects' rights (RGPD/GDPR): the report an erasure answers with.
//! Each subgraph erases what it holds of a subject and says what it had to
//! keep, for how long and under which retention rule; the value types are
//! shared (`@shareable`) so a client reads every subgraph's report alike.

use async_graphql::{SimpleObject, ID};
use chrono::{DateTime, Duration, Utc};

use crate::retention::{Category, RetentionSettings};

/// What an erasure did, and what the law made it keep.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct ErasureReport {
    /// The erased subject (a user or a patient).
    pub subject_id: ID,
    /// When the erasure was done.
    pub erased_at: DateTime<Utc>,
    /// Removed or made unrecognizable now.
    pub erased: Vec<ErasedData>,
    /// Kept, sealed from every role, until its retention ends; then the
    /// retention job deletes it.
    pub retained: Vec<RetainedData>,
}

/// Data an erasure removed or made unrecognizable.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct ErasedData {
    /// What it was, e.g. "contact details", "sessions".
    pub what: String,
    /// How many records.
    pub count: i64,
}

/// Data the law makes an erasure keep, sealed, for a while.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(shareable)]
pub struct RetainedData {
    /// What it is, e.g. "clinical notes", "invoices".
    pub what: String,
    /// How many records.
    pub count: i64,
    /// The retention category (`clinical_records`, `invoices`, …;
    /// `audit_trail` is never deleted).
    pub category: String,
    /// When the retention job deletes it; none for the audit trail.
    pub until: Option<DateTime<Utc>>,
    /// Why it is kept, in words.
    pub rule: String,
}

impl ErasureReport {
    pub fn new(subject: uuid::Uuid, at: DateTime<Utc>) -> Self {
        ErasureReport {
            subject_id: ID(subject.to_string()),
            erased_at: at,
            erased: vec![],
            retained: vec![],
        }
    }

    pub fn add_erased(&mut self, what: &str, count: i64) -> &mut Self {
        self.erased.push(ErasedData {
            what: what.to_string(),
            count,
        });
        self
    }

    /// Kept under `category`, whose period runs from `since`.
    pub fn add_retained(
        &mut self,
        what: &str,
        count: i64,
        category: Category,
        settings: &RetentionSettings,
        since: DateTime<Utc>,
    ) -> &mut Self {
        let days = category.days(settings);
        self.retained.push(RetainedData {
            what: what.to_string(),
            count,
            category: category.name().to_string(),
            until: Some(since + Duration::days(i64::from(days))),
            rule: format!("{}: kept {days} days", category.name()),
        });
        self
    }

    /// The audit trail names the subject by id only, and stays: its chains
    /// must verify for as long as the organization exists.
    pub fn add_audit_trail(&mut self, count: i64) -> &mut Self {
        self.retained.push(RetainedData {
            what: "audit trail entries (by id, no name)".into(),
            count,
            category: "audit_trail".into(),
            until: None,
            rule: "tamper-evident trail: entries are never changed or deleted".into(),
        });
        self
    }
}
