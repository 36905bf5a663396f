//! Documents: attach, add versions, restore, delete. Mutations return the
//! signed URL the bytes go to; `transfer` receives them.

pub mod db;
pub mod loader;
pub mod model;

use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{Duration, Utc};
use platform::{
    guards::{auth, Authenticated, RevocationChecked},
    ids::{parse_id, parse_key},
    mutation::{mutate, Audit},
    scalars::Date,
    validate::text,
    AppError, AuthContext, OnConstraint,
};
use serde_json::json;

use crate::{access, signing::Grant, sniff, state, Loaded, State};
use loader::DocumentLoader;
use model::{Classification, Document, DocumentUpload, DocumentVersion, OwnerType};

/// A new document attached to an entity of the caller's organization, and the first version's file to upload.
#[derive(InputObject)]
pub struct CreateDocumentInput {
    /// The kind of entity to attach it to.
    pub owner_type: OwnerType,
    /// That entity's id (a patient, tender, contract or supplier profile of
    /// the caller's organization).
    pub owner_id: ID,
    /// What the document is, in a line.
    pub title: String,
    /// Decides who reads it; must fit the owner (clinical or administrative
    /// for patients, procurement for tenders and contracts, compliance for suppliers).
    pub classification: Classification,
    /// The file's type, one of the allowed types (PDF, PNG, JPEG, TIFF,
    /// DOCX, XLSX, ODT, ODS, plain text, CSV); the bytes must show it.
    pub content_type: String,
    /// The file's size in bytes: the upload is refused beyond it.
    pub byte_size: i32,
    /// Keep at least until this day.
    pub retention_until: Option<Date>,
}

/// A new version of an existing document (the previous ones stay).
#[derive(InputObject)]
pub struct CreateDocumentVersionInput {
    /// The document to add a version to.
    pub document_id: ID,
    /// The new file's type (see `CreateDocumentInput.contentType`).
    pub content_type: String,
    /// The new file's size in bytes.
    pub byte_size: i32,
}

#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// A document of the caller's organization that the caller's roles may read.
    #[graphql(guard = "Authenticated")]
    async fn document(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<DocumentLoader>>()?.load_one(id).await?)
    }

    #[graphql(entity)]
    async fn find_document_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        auth(ctx)?;
        let Some(id) = parse_key(&id) else { return Ok(None) };
        Ok(ctx.data::<Loaded<DocumentLoader>>()?.load_one(id).await?)
    }
}

fn announced(st: &State, content_type: &str, byte_size: i32) -> Result<(String, i64), AppError> {
    let ct = content_type.trim().to_ascii_lowercase();
    if !sniff::allowed(&ct) {
        return Err(AppError::bad_input(
            "contentType",
            format!("is not an allowed type ({})", sniff::ALLOWED.join(", ")),
        ));
    }
    let max = st.content.max_upload_bytes.min(i32::MAX as u64) as i64;
    if byte_size < 1 || byte_size as i64 > max {
        return Err(AppError::bad_input("byteSize", format!("must be 1 to {max} bytes")));
    }
    Ok((ct, byte_size as i64))
}

/// A pending version of `doc`, its upload URL valid for `ttl`.
async fn pending_version(
    tx: &mut sqlx::PgConnection,
    a: &AuthContext,
    doc: &Document,
    content_type: &str,
    max_bytes: i64,
    ttl: Duration,
) -> Result<DocumentVersion, AppError> {
    let new = db::NewVersion {
        document: doc,
        content_type,
        max_bytes,
        expires_at: Utc::now() + ttl,
    };
    db::insert_version(tx, &new, a.user_id()).await
}

/// The pending version's upload URL, for the caller's scope.
fn upload(
    st: &State,
    a: &AuthContext,
    document: Document,
    version: DocumentVersion,
) -> Result<DocumentUpload, AppError> {
    let expires_at = Utc::now() + Duration::seconds(st.content.upload_url_ttl_secs as i64);
    let grant = Grant::Upload {
        org: a.organization_id,
        user: a.user_id(),
        roles: a.roles.clone(),
        verticals: a.verticals.clone(),
        document: document.id,
        version: version.id,
        max_bytes: version.max_bytes as u64,
        content_type: version.declared_content_type.clone(),
        exp: expires_at.timestamp(),
    };
    let token = st.signer.sign(&grant).map_err(AppError::Internal)?;
    Ok(DocumentUpload {
        upload_url: format!("{}/files/{token}", st.content.public_url),
        expires_at,
        max_bytes: version.max_bytes as i32,
        document,
        version,
    })
}

#[derive(Default)]
pub struct DocumentMutation;

#[Object]
impl DocumentMutation {
    /// Attaches a new document and returns where to upload its first
    /// version. The version becomes available once the bytes arrived,
    /// matched the announced type and size, and passed the scanner.
    #[graphql(guard = "RevocationChecked")]
    async fn create_document(&self, ctx: &Context<'_>, input: CreateDocumentInput) -> Result<DocumentUpload> {
        let st = state(ctx)?;
        let a = auth(ctx)?;
        access::require_write(a, input.classification)?;
        if !input.owner_type.fits(input.classification) {
            return Err(AppError::bad_input("classification", "does not fit the owner type").into());
        }
        let owner_id = parse_id("ownerId", &input.owner_id)?;
        let title = text("title", &input.title, 1, 200)?;
        let (content_type, max_bytes) = announced(st, &input.content_type, input.byte_size)?;
        let new = db::NewDocument {
            owner_type: input.owner_type,
            owner_id,
            title: &title,
            classification: input.classification,
            retention_until: input.retention_until.map(|d| d.0),
            expires_at: None,
        };
        let ttl = Duration::seconds(st.content.upload_url_ttl_secs as i64);
        let (doc, version) = mutate(ctx, async |tx| {
            let doc = db::insert(tx, &new, a.user_id()).await?;
            let version = pending_version(tx, a, &doc, &content_type, max_bytes, ttl).await?;
            let audit = Audit::new("document.create", "Document", doc.id).details(json!({
                "owner_type": doc.owner_type.as_db(), "owner_id": doc.owner_id,
                "classification": doc.classification.as_db(), "version": version.number,
            }));
            Ok(((doc, version), audit))
        })
        .await?;
        Ok(upload(st, a, doc, version)?)
    }

    /// Adds a version to a document and returns where to upload it; the
    /// current version stays until the new one is available.
    #[graphql(guard = "RevocationChecked")]
    async fn create_document_version(
        &self,
        ctx: &Context<'_>,
        input: CreateDocumentVersionInput,
    ) -> Result<DocumentUpload> {
        let st = state(ctx)?;
        let a = auth(ctx)?;
        let id = parse_id("documentId", &input.document_id)?;
        let (content_type, max_bytes) = announced(st, &input.content_type, input.byte_size)?;
        let ttl = Duration::seconds(st.content.upload_url_ttl_secs as i64);
        let (doc, version) = mutate(ctx, async |tx| {
            let doc = db::lock(tx, id, &access::readable(a))
                .await?
                .ok_or(AppError::NotFound("document"))?;
            access::require_write(a, doc.classification)?;
            let version = pending_version(tx, a, &doc, &content_type, max_bytes, ttl)
                .await
                .on_constraint(&[("document_versions_number_key", || {
                    AppError::Conflict("another version was added at the same time; try again".into())
                })])?;
            let audit =
                Audit::new("document.version.create", "Document", doc.id).details(json!({ "version": version.number }));
            Ok(((doc, version), audit))
        })
        .await?;
        Ok(upload(st, a, doc, version)?)
    }

    /// Makes an old version current again, as a new version with its bytes
    /// (versions never change).
    #[graphql(guard = "RevocationChecked")]
    async fn restore_document_version(&self, ctx: &Context<'_>, document_id: ID, number: i32) -> Result<Document> {
        let a = auth(ctx)?;
        let id = parse_id("documentId", &document_id)?;
        Ok(mutate(ctx, async |tx| {
            let doc = db::lock(tx, id, &access::readable(a))
                .await?
                .ok_or(AppError::NotFound("document"))?;
            access::require_write(a, doc.classification)?;
            let restored = db::restore(tx, &doc, number, a.user_id())
                .await?
                .ok_or_else(|| AppError::bad_input("number", "is not an available version of this document"))?;
            let doc = db::lock(tx, id, &access::readable(a))
                .await?
                .ok_or(AppError::NotFound("document"))?;
            let audit = Audit::new("document.version.restore", "Document", doc.id)
                .details(json!({ "restored": number, "version": restored }));
            Ok((doc, audit))
        })
        .await?)
    }

    /// Deletes a document: it disappears from lists; its versions are kept
    /// until the retention date.
    #[graphql(guard = "RevocationChecked")]
    async fn delete_document(&self, ctx: &Context<'_>, id: ID) -> Result<Document> {
        let a = auth(ctx)?;
        let id = parse_id("id", &id)?;
        Ok(mutate(ctx, async |tx| {
            let doc = db::lock(tx, id, &access::readable(a))
                .await?
                .ok_or(AppError::NotFound("document"))?;
            access::require_write(a, doc.classification)?;
            let doc = db::soft_delete(tx, doc.id).await?;
            Ok((doc, Audit::new("document.delete", "Document", id)))
        })
        .await?)
    }
}
