//! Writing, editing and signing clinical notes.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{Context, InputObject, Object, Result, ID};
use platform::{
    guards::auth,
    ids::parse_id,
    mutation::{mutate, Audit},
    validate::text,
    AppError, AppResult, OnConstraint,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    access::{medical_write, CLINICAL},
    patient, state,
};
use model::{body_aad, ClinicalNote};

/// A clinical note about a patient, written unsigned by the caller.
#[derive(InputObject)]
pub struct WriteClinicalNoteInput {
    pub patient_id: ID,
    pub body: String,
    /// A signed note of the same patient that this note corrects.
    pub amends_id: Option<ID>,
}

fn signed_immutable() -> AppError {
    AppError::Conflict("a signed clinical note cannot change; write a note that amends it".into())
}

/// The note, for a change by its author only, while unsigned.
async fn editable(tx: &mut sqlx::PgConnection, id: Uuid, author: Uuid) -> AppResult<ClinicalNote> {
    let note = db::for_update(tx, id)
        .await?
        .ok_or(AppError::NotFound("ClinicalNote"))?;
    if note.author_id != author {
        return Err(AppError::Forbidden);
    }
    if note.signed_at.is_some() {
        return Err(signed_immutable());
    }
    Ok(note)
}

#[derive(Default)]
pub struct NoteMutation;

#[Object]
impl NoteMutation {
    /// Writes a clinical note (unsigned) as the caller.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn write_clinical_note(&self, ctx: &Context<'_>, input: WriteClinicalNoteInput) -> Result<ClinicalNote> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let author = caller.user_id().ok_or(AppError::Forbidden)?;
        let patient_id = parse_id("patientId", &input.patient_id)?;
        let amends = input.amends_id.as_ref().map(|a| parse_id("amendsId", a)).transpose()?;
        let body = text("body", &input.body, 1, 20_000)?;
        let id = Uuid::new_v4();
        let sealed = st.cipher.seal_str(&body, &body_aad(id))?;
        Ok(mutate(ctx, async |tx| {
            if patient::db::live(tx, patient_id).await?.is_none() {
                return Err(AppError::bad_input("patientId", "no such patient"));
            }
            if let Some(a) = amends {
                let target = db::by_ids(tx, &[a]).await?;
                if !target
                    .iter()
                    .any(|n| n.patient_id == patient_id && n.signed_at.is_some())
                {
                    return Err(AppError::bad_input(
                        "amendsId",
                        "must be a signed note of the same patient",
                    ));
                }
            }
            let note = db::insert(tx, id, caller.organization_id, patient_id, author, &sealed, amends).await?;
            let audit = Audit::new("clinical_note.write", "ClinicalNote", id)
                .details(json!({ "patient": patient_id, "amends": amends }));
            Ok((note, audit))
        })
        .await?)
    }

    /// Rewrites an unsigned note; only its author may.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn update_clinical_note(&self, ctx: &Context<'_>, id: ID, body: String) -> Result<ClinicalNote> {
        let st = state(ctx)?;
        let caller = auth(ctx)?;
        let author = caller.user_id().ok_or(AppError::Forbidden)?;
        let id = parse_id("id", &id)?;
        let body = text("body", &body, 1, 20_000)?;
        let sealed = st.cipher.seal_str(&body, &body_aad(id))?;
        Ok(mutate(ctx, async |tx| {
            editable(tx, id, author).await?;
            let note = db::set_body(tx, id, &sealed)
                .await
                .on_constraint(&[("clinical_notes_signed_immutable", signed_immutable)])?;
            Ok((note, Audit::new("clinical_note.update", "ClinicalNote", id)))
        })
        .await?)
    }

    /// Signs a note: from now on it can never change. Only its author may.
    #[graphql(guard = "medical_write(CLINICAL)")]
    async fn sign_clinical_note(&self, ctx: &Context<'_>, id: ID) -> Result<ClinicalNote> {
        let caller = auth(ctx)?;
        let author = caller.user_id().ok_or(AppError::Forbidden)?;
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            editable(tx, id, author).await?;
            let note = db::sign(tx, id, author)
                .await
                .on_constraint(&[("clinical_notes_signed_immutable", signed_immutable)])?;
            Ok((note, Audit::new("clinical_note.sign", "ClinicalNote", id)))
        })
        .await?)
    }
}
