//! Document SQL. Every statement runs in a tenant transaction: row policies
//! decide what it sees, the `classification = any(…)` conditions say the
//! same rule in the query.

use chrono::{DateTime, NaiveDate, Utc};
use platform::AppResult;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Classification, Document, DocumentVersion, OwnerType};

const DOCUMENT: &str = "d.id, d.organization_id, d.owner_type, d.owner_id, d.title, d.classification, \
     d.current_version, d.retention_until, d.created_at, d.deleted_at, d.expires_at";
const VERSION: &str = "v.id, v.organization_id, v.document_id, v.number, v.status, v.declared_content_type, \
     v.max_bytes, v.byte_size, v.sha256, v.content_type, v.storage_key, v.restored_from, v.rejection_reason, \
     v.uploaded_by, v.created_at, v.available_at, d.title, d.owner_type, d.owner_id, d.classification";

fn names(cs: &[Classification]) -> Vec<&'static str> {
    cs.iter().map(|c| c.as_db()).collect()
}

pub struct NewDocument<'a> {
    pub owner_type: OwnerType,
    pub owner_id: Uuid,
    pub title: &'a str,
    pub classification: Classification,
    pub retention_until: Option<NaiveDate>,
    /// When the purge deletes it by itself (data export archives).
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(c: &mut PgConnection, n: &NewDocument<'_>, user: Option<Uuid>) -> AppResult<Document> {
    Ok(sqlx::query_as(&format!(
        "insert into documents as d (organization_id, owner_type, owner_id, title, classification, retention_until,
                                     created_by, expires_at)
         values (current_org(), $1, $2, $3, $4, $5, $6, $7) returning {DOCUMENT}"
    ))
    .bind(n.owner_type)
    .bind(n.owner_id)
    .bind(n.title)
    .bind(n.classification)
    .bind(n.retention_until)
    .bind(user)
    .bind(n.expires_at)
    .fetch_one(c)
    .await?)
}

/// The document, locked for a new version (version numbers stay dense and unique).
pub async fn lock(c: &mut PgConnection, id: Uuid, readable: &[Classification]) -> AppResult<Option<Document>> {
    Ok(sqlx::query_as(&format!(
        "select {DOCUMENT} from documents d
          where d.id = $1 and d.organization_id = current_org() and d.deleted_at is null
            and d.classification = any($2) for update"
    ))
    .bind(id)
    .bind(names(readable))
    .fetch_optional(c)
    .await?)
}

pub struct NewVersion<'a> {
    pub document: &'a Document,
    pub content_type: &'a str,
    pub max_bytes: i64,
    pub expires_at: DateTime<Utc>,
}

/// A pending version: the upload URL's target. Its bytes will live under
/// `<organization>/<document>/<version>`.
pub async fn insert_version(
    c: &mut PgConnection,
    n: &NewVersion<'_>,
    user: Option<Uuid>,
) -> AppResult<DocumentVersion> {
    let id = Uuid::new_v4();
    let key = format!("{}/{}/{id}", n.document.organization_id, n.document.id);
    Ok(sqlx::query_as(&format!(
        "with v as (
           insert into document_versions (id, organization_id, document_id, number, declared_content_type,
                                          max_bytes, upload_expires_at, storage_key, uploaded_by)
           select $1, current_org(), $2, coalesce(max(number), 0) + 1, $3, $4, $5, $6, $7
             from document_versions where document_id = $2
           returning *)
         select {VERSION} from v join documents d on d.id = v.document_id"
    ))
    .bind(id)
    .bind(n.document.id)
    .bind(n.content_type)
    .bind(n.max_bytes)
    .bind(n.expires_at)
    .bind(key)
    .bind(user)
    .fetch_one(c)
    .await?)
}

/// A new version with the bytes of version `number`, current at once.
pub async fn restore(c: &mut PgConnection, doc: &Document, number: i32, user: Option<Uuid>) -> AppResult<Option<i32>> {
    let restored: Option<i32> = sqlx::query_scalar(
        "insert into document_versions (organization_id, document_id, number, status, declared_content_type, max_bytes,
                                        upload_expires_at, byte_size, sha256, content_type, storage_key, restored_from,
                                        uploaded_by, available_at)
         select organization_id, document_id,
                (select max(number) + 1 from document_versions where document_id = $1),
                'available', declared_content_type, max_bytes, now(), byte_size, sha256, content_type, storage_key,
                number, $3, now()
           from document_versions where document_id = $1 and number = $2 and status = 'available'
         returning number",
    )
    .bind(doc.id)
    .bind(number)
    .bind(user)
    .fetch_optional(&mut *c)
    .await?;
    if let Some(n) = restored {
        set_current(c, doc.id, n).await?;
    }
    Ok(restored)
}

async fn set_current(c: &mut PgConnection, doc: Uuid, number: i32) -> AppResult<()> {
    sqlx::query("update documents set current_version = $2, updated_at = now() where id = $1")
        .bind(doc)
        .bind(number)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn soft_delete(c: &mut PgConnection, doc: Uuid) -> AppResult<Document> {
    Ok(sqlx::query_as(&format!(
        "update documents d set deleted_at = now(), updated_at = now() where d.id = $1 returning {DOCUMENT}"
    ))
    .bind(doc)
    .fetch_one(c)
    .await?)
}

pub async fn by_ids(c: &mut PgConnection, ids: &[Uuid], readable: &[Classification]) -> AppResult<Vec<Document>> {
    Ok(sqlx::query_as(&format!(
        "select {DOCUMENT} from documents d where d.id = any($1) and d.classification = any($2)"
    ))
    .bind(ids)
    .bind(names(readable))
    .fetch_all(c)
    .await?)
}

/// Versions of documents, newest first.
pub async fn versions(c: &mut PgConnection, docs: &[Uuid]) -> AppResult<Vec<DocumentVersion>> {
    Ok(sqlx::query_as(&format!(
        "select {VERSION} from document_versions v join documents d
            on d.organization_id = v.organization_id and d.id = v.document_id
          where v.document_id = any($1) order by v.document_id, v.number desc"
    ))
    .bind(docs)
    .fetch_all(c)
    .await?)
}

/// One page of each owner's live documents, oldest first: one statement for
/// any number of owners (a window over the owners' rows).
pub async fn of_owners(
    c: &mut PgConnection,
    owners: &[Uuid],
    readable: &[Classification],
    after: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> AppResult<Vec<Document>> {
    let (after_at, after_id) = after.unzip();
    Ok(sqlx::query_as(&format!(
        "select {DOCUMENT} from (
           select d.*, row_number() over (partition by d.owner_id order by d.created_at, d.id) as rn
             from documents d
            where d.owner_id = any($1) and d.deleted_at is null and d.classification = any($2)
              and ($3::timestamptz is null or (d.created_at, d.id) > ($3, $4))) d
          where d.rn <= $5 order by d.owner_id, d.created_at, d.id"
    ))
    .bind(owners)
    .bind(names(readable))
    .bind(after_at)
    .bind(after_id)
    .bind(fetch)
    .fetch_all(c)
    .await?)
}

/// Adds what the router vouched for (`organization:owner` pairs) to this
/// transaction's `app.vouched_owners`, which the row policies read.
pub async fn vouch(c: &mut PgConnection, pairs: &[(Uuid, Uuid)]) -> AppResult<()> {
    let pairs: Vec<String> = pairs.iter().map(|(o, id)| format!("{o}:{id}")).collect();
    sqlx::query(
        "select set_config('app.vouched_owners',
                concat_ws(',', nullif(current_setting('app.vouched_owners', true), ''), $1), true)",
    )
    .bind(pairs.join(","))
    .execute(c)
    .await?;
    Ok(())
}

// Uploads. The transfer route runs these in the uploader's scope (from the
// signed grant).

/// Marks a pending version as receiving bytes; `None` when it is not
/// pending (done, refused, or another upload of it is under way).
pub async fn claim_upload(c: &mut PgConnection, version: Uuid, document: Uuid) -> AppResult<Option<DocumentVersion>> {
    Ok(sqlx::query_as(&format!(
        "with v as (
           update document_versions set status = 'uploading', upload_started_at = now()
            where id = $1 and document_id = $2 and upload_expires_at > now()
              and (status = 'pending' or (status = 'uploading' and upload_started_at < now() - interval '15 minutes'))
           returning *)
         select {VERSION} from v join documents d on d.id = v.document_id"
    ))
    .bind(version)
    .bind(document)
    .fetch_optional(c)
    .await?)
}

/// Back to pending after an upload broke off (the client may PUT again).
pub async fn release_upload(c: &mut PgConnection, version: Uuid) -> AppResult<()> {
    sqlx::query("update document_versions set status = 'pending', upload_started_at = null where id = $1 and status = 'uploading'")
        .bind(version)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn reject(c: &mut PgConnection, version: Uuid, reason: &str) -> AppResult<()> {
    sqlx::query("update document_versions set status = 'rejected', rejection_reason = $2 where id = $1 and status = 'uploading'")
        .bind(version)
        .bind(reason)
        .execute(c)
        .await?;
    Ok(())
}

/// The version is stored and checked: readable, and current unless a newer one is.
pub async fn make_available(
    c: &mut PgConnection,
    version: &DocumentVersion,
    size: i64,
    sha256: &str,
    content_type: &str,
) -> AppResult<bool> {
    let done = sqlx::query(
        "update document_versions set status = 'available', byte_size = $2, sha256 = $3, content_type = $4,
                available_at = now()
          where id = $1 and status = 'uploading'",
    )
    .bind(version.id)
    .bind(size)
    .bind(sha256)
    .bind(content_type)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1;
    if done {
        sqlx::query(
            "update documents set current_version = greatest(coalesce(current_version, 0), $2), updated_at = now()
              where id = $1",
        )
        .bind(version.document_id)
        .bind(version.number)
        .execute(c)
        .await?;
    }
    Ok(done)
}
