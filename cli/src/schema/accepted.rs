//! `schema-review/accepted.yaml`: breaking changes a reviewer accepted, each
//! with a reason and an expiry, so an intended break does not fail the check
//! forever and an old acceptance cannot hide a new break.

use std::path::Path;

use chrono::NaiveDate;
use figment::{
    providers::{Format, Yaml},
    Figment,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone, Debug, Default)]
pub struct AcceptedFile {
    #[serde(default)]
    pub accepted: Vec<Acceptance>,
}

#[derive(Deserialize, Serialize, Clone, Debug)]
pub struct Acceptance {
    /// The change's schema coordinate, as the report prints it.
    pub path: String,
    /// The change type (`FIELD_REMOVED`…); any type at `path` when absent.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub reason: String,
    /// The last day the acceptance applies.
    pub expires: NaiveDate,
    #[serde(default)]
    pub by: Option<String>,
}

impl AcceptedFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        Figment::from(Yaml::file(path))
            .extract()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The reason accepting the change at `path` of type `kind` today, if any.
    pub fn reason_for(&self, path: &str, kind: &str, today: NaiveDate) -> Option<&str> {
        self.accepted
            .iter()
            .find(|a| {
                a.path == path
                    && a.kind.as_deref().is_none_or(|k| k == kind)
                    && a.expires >= today
                    && !a.reason.trim().is_empty()
            })
            .map(|a| a.reason.as_str())
    }

    /// Entries that cannot accept anything: no reason, or expired.
    pub fn problems(&self, today: NaiveDate) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.accepted {
            if a.reason.trim().is_empty() {
                out.push(format!("`{}`: an acceptance needs a reason", a.path));
            } else if a.expires < today {
                out.push(format!("`{}`: the acceptance expired on {}", a.path, a.expires));
            }
        }
        out
    }
}
