//! The `Document` entity and its versions.

use async_graphql::{ComplexObject, Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use platform::{guards::auth, scalars::Date, AppError};
use uuid::Uuid;

use crate::{document::loader::VersionsLoader, signing::Grant, sniff, state, Loaded};

/// What kind of record a document is, which decides who reads it.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug, Hash)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Classification {
    /// Part of a patient's medical record: practitioners and nurses.
    Clinical,
    /// A practice's paperwork about a patient: every medical role.
    Administrative,
    /// A tender's published documents: every organization of the public
    /// vertical once the tender is published.
    ProcurementPublic,
    /// The buyer's own tender and contract files.
    ProcurementInternal,
    /// A supplier's certificates: the supplier and buyers' procurement officers.
    Compliance,
}

impl Classification {
    pub fn as_db(self) -> &'static str {
        match self {
            Classification::Clinical => "clinical",
            Classification::Administrative => "administrative",
            Classification::ProcurementPublic => "procurement_public",
            Classification::ProcurementInternal => "procurement_internal",
            Classification::Compliance => "compliance",
        }
    }
}

/// The entity a document is attached to (owned by another subgraph).
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug, Hash)]
#[sqlx(type_name = "text")]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum OwnerType {
    Patient,
    Tender,
    Contract,
    Supplier,
}

impl OwnerType {
    pub fn as_db(self) -> &'static str {
        match self {
            OwnerType::Patient => "Patient",
            OwnerType::Tender => "Tender",
            OwnerType::Contract => "Contract",
            OwnerType::Supplier => "Supplier",
        }
    }

    /// The classifications a document of this owner may have.
    pub fn fits(self, c: Classification) -> bool {
        use Classification::*;
        match self {
            OwnerType::Patient => matches!(c, Clinical | Administrative),
            OwnerType::Tender => matches!(c, ProcurementPublic | ProcurementInternal),
            OwnerType::Contract => c == ProcurementInternal,
            OwnerType::Supplier => c == Compliance,
        }
    }
}

/// Where a version is: URL issued, bytes arriving, stored, or refused.
#[derive(Enum, sqlx::Type, Copy, Clone, Eq, PartialEq, Debug)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum VersionStatus {
    /// The upload URL was issued; no bytes yet (or an upload broke off: PUT again).
    Pending,
    /// Bytes are arriving.
    Uploading,
    /// Stored, checked and readable.
    Available,
    /// Refused: too large, not the announced type, or rejected by the scanner.
    Rejected,
}

/// A file attached to a patient, tender, contract or supplier profile, with
/// its versions; who reads it follows its classification.
#[derive(sqlx::FromRow, Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Document {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub organization_id: Uuid,
    /// The kind of entity it is attached to.
    pub owner_type: OwnerType,
    #[graphql(skip)]
    pub owner_id: Uuid,
    /// What the document is, in a line.
    pub title: String,
    /// Decides who reads it.
    pub classification: Classification,
    #[graphql(skip)]
    pub current_version: Option<i32>,
    #[graphql(skip)]
    pub retention_until: Option<NaiveDate>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was deleted (deleted documents are kept until their
    /// retention date, then their files and versions are purged).
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the platform deletes it by itself, files and all (data export
    /// archives); none for documents kept until deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Document {
    /// A copy the platform derived from other records (a data export
    /// archive): the only documents made to expire. Never part of a later
    /// export, and gone with its subject's erasure.
    pub fn is_export(&self) -> bool {
        self.expires_at.is_some()
    }
}

#[ComplexObject]
impl Document {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The id of the entity it is attached to.
    async fn owner_id(&self) -> ID {
        ID(self.owner_id.to_string())
    }

    /// Kept at least until this day (legal retention).
    async fn retention_until(&self) -> Option<Date> {
        self.retention_until.map(Date)
    }

    /// The version readers get: the newest available one (or the one restored).
    async fn current_version(&self, ctx: &Context<'_>) -> Result<Option<DocumentVersion>> {
        let Some(n) = self.current_version else { return Ok(None) };
        let versions = ctx.data::<Loaded<VersionsLoader>>()?.load_one(self.id).await?;
        Ok(versions.unwrap_or_default().into_iter().find(|v| v.number == n))
    }

    /// Every version, newest first, including pending and rejected ones.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<DocumentVersion>> {
        Ok(ctx
            .data::<Loaded<VersionsLoader>>()?
            .load_one(self.id)
            .await?
            .unwrap_or_default())
    }

    /// Who did what to it and when, newest first: the organization's
    /// administrators and auditors among its readers, and practitioners for
    /// clinical documents.
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<platform::audit::history::History> {
        if !crate::access::may_read_history(auth(ctx)?, self.classification) {
            return Err(AppError::Forbidden.into());
        }
        Ok(platform::audit::history::history(ctx, "Document", self.id, first, after).await?)
    }
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct DocumentVersion {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub document_id: Uuid,
    pub number: i32,
    pub status: VersionStatus,
    pub declared_content_type: String,
    pub max_bytes: i64,
    pub byte_size: Option<i64>,
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub storage_key: String,
    pub restored_from: Option<i32>,
    pub rejection_reason: Option<String>,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub available_at: Option<DateTime<Utc>>,
    /// The document's title, for the download's file name.
    pub title: String,
    /// The document's owner and classification: a clinical document's
    /// reads are audited as reads of its patient's record.
    pub owner_type: OwnerType,
    pub owner_id: Uuid,
    pub classification: Classification,
}

impl DocumentVersion {
    /// The patient whose health data this version is, if any: reads of it
    /// are audited like every other health-data read.
    pub fn health_data_of(&self) -> Option<Uuid> {
        (self.owner_type == OwnerType::Patient && self.classification == Classification::Clinical)
            .then_some(self.owner_id)
    }
}

/// One immutable version of a document.
#[Object]
impl DocumentVersion {
    /// Stable identifier.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// 1 for the first upload, then one more for each new version or restore.
    async fn number(&self) -> i32 {
        self.number
    }
    /// Where the version is in its upload, check and publication.
    async fn status(&self) -> VersionStatus {
        self.status
    }
    /// Size in bytes, once available.
    async fn byte_size(&self) -> Option<i32> {
        self.byte_size.and_then(|b| i32::try_from(b).ok())
    }
    /// Lowercase hex SHA-256 of the bytes, once available (also the download's ETag).
    async fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
    /// The type the bytes were found to be, once available.
    async fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    /// The type the upload was announced as.
    async fn declared_content_type(&self) -> &str {
        &self.declared_content_type
    }
    /// Why the upload was refused.
    async fn rejection_reason(&self) -> Option<&str> {
        self.rejection_reason.as_deref()
    }
    /// The number of the version this one restored.
    async fn restored_from(&self) -> Option<i32> {
        self.restored_from
    }
    /// Who uploaded (or restored) it.
    async fn uploaded_by(&self) -> Option<ID> {
        self.uploaded_by.map(|u| ID(u.to_string()))
    }
    /// When the upload was announced.
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When the bytes were checked and became readable.
    async fn available_at(&self) -> Option<DateTime<Utc>> {
        self.available_at
    }
    /// A short-lived signed URL that downloads the bytes from the content
    /// service (`GET`, range requests allowed); null unless available.
    async fn download_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let (VersionStatus::Available, Some(sha256), Some(size), Some(content_type)) =
            (self.status, &self.sha256, self.byte_size, &self.content_type)
        else {
            return Ok(None);
        };
        let st = state(ctx)?;
        let audited = self.health_data_of().map(|patient| {
            // Minting the link is a read of the patient's record (the
            // request's reads are written before the answer leaves), and
            // the download itself is one more, by the same caller.
            platform::audit::read(ctx, "Patient", patient);
            platform::audit::read(ctx, "Document", self.document_id);
            let actor = auth(ctx).ok().map(|a| platform::audit::Actor::from_auth(a, None));
            crate::signing::AuditedRead {
                patient,
                document: self.document_id,
                user: actor.as_ref().and_then(|a| a.user_id),
                client: actor.as_ref().and_then(|a| a.client_id),
            }
        });
        let grant = Grant::Download {
            org: self.organization_id,
            version: self.id,
            key: self.storage_key.clone(),
            sha256: sha256.clone(),
            size: size as u64,
            content_type: content_type.clone(),
            filename: filename(&self.title, self.number, content_type),
            exp: Utc::now().timestamp() + st.content.download_url_ttl_secs as i64,
            audited,
        };
        Ok(Some(format!(
            "{}/files/{}",
            st.content.public_url,
            st.signer.sign(&grant).map_err(platform::AppError::Internal)?
        )))
    }
}

/// `Title (v2).pdf`, with characters file systems dislike replaced.
pub fn filename(title: &str, number: i32, content_type: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{} (v{number}).{}", clean.trim(), sniff::extension(content_type))
}

/// What `createDocument` and `createDocumentVersion` return: where to `PUT` the bytes.
#[derive(SimpleObject)]
pub struct DocumentUpload {
    /// The document (new, or the one getting a version).
    pub document: Document,
    /// The version waiting for its bytes.
    pub version: DocumentVersion,
    /// `PUT` the file here (with its `Content-Type`), before `expiresAt`.
    pub upload_url: String,
    /// After this instant the upload URL is refused.
    pub expires_at: DateTime<Utc>,
    /// The upload is refused beyond this many bytes.
    pub max_bytes: i32,
}
