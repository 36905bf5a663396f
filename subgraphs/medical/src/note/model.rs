//! Clinical notes: encrypted at rest, immutable once signed.

use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use platform::{crypto::Sealed, AppError};
use uuid::Uuid;

use super::loader::NoteLoader;
use crate::{
    access::{medical, CLINICAL, HISTORY_CLINICAL, NOTES},
    patient::{loader::PatientLoader, model::Patient},
    state,
    user::User,
    Loaded,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClinicalNote {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub author_id: Uuid,
    pub body_enc: Vec<u8>,
    pub body_key_id: String,
    pub amends_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signed_by: Option<Uuid>,
}

pub fn body_aad(id: Uuid) -> String {
    format!("medical.clinical_notes.body:{id}")
}

/// A clinician's note on a patient. Once signed it never changes; a
/// correction is a new note that amends it.
#[Object(guard = "medical(NOTES)")]
impl ClinicalNote {
    /// Identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The note's text. Practitioners and nurses only.
    #[graphql(guard = "medical(CLINICAL)")]
    async fn body(&self, ctx: &Context<'_>) -> Result<String> {
        platform::audit::read(ctx, "Patient", self.patient_id);
        let sealed = Sealed {
            data: self.body_enc.clone(),
            key_id: self.body_key_id.clone(),
        };
        Ok(state(ctx)?.cipher.open_str(&sealed, &body_aad(self.id))?)
    }
    /// Who wrote it.
    async fn author(&self) -> Option<User> {
        Some(User { id: self.author_id })
    }
    /// The patient.
    async fn patient(&self, ctx: &Context<'_>) -> Result<Patient> {
        ctx.data::<Loaded<PatientLoader>>()?
            .load_one(self.patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Patient").into())
    }
    /// The note this one corrects.
    async fn amends(&self, ctx: &Context<'_>) -> Result<Option<ClinicalNote>> {
        match self.amends_id {
            None => Ok(None),
            Some(id) => Ok(ctx.data::<Loaded<NoteLoader>>()?.load_one(id).await?),
        }
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Last change (before signing).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// When it was signed; signed notes are immutable.
    async fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.signed_at
    }
    /// Who signed it (always the author).
    async fn signed_by(&self) -> Option<User> {
        self.signed_by.map(|id| User { id })
    }

    /// Who did what to it and when, newest first: the organization's administrators and auditors, and practitioners.
    #[graphql(guard = "medical(HISTORY_CLINICAL)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        Ok(platform::audit::history::history(ctx, "ClinicalNote", self.id, first, after).await?)
    }
}
