//! `exportPatientData`: a practice answers a patient's access or
//! portability request (RGPD art. 15 and 20) in one call. The archive holds
//! the medical record as a FHIR R4 Bundle (read from the medical service's
//! FHIR API with the caller's own token, so the same rules apply and the
//! read is audited there), the patient's documents the caller may read, and
//! a manifest with each file's SHA-256. It is stored as a document of the
//! patient (clinical, kept `export_retention_days`), so it downloads
//! through the usual signed link and appears in the patient's documents.

use async_graphql::{Context, Object, Result, SimpleObject, ID};
use chrono::{Duration, Utc};
use object_store::{path::Path, ObjectStore};
use platform::{
    access,
    auth::BearerToken,
    guards::auth,
    ids::parse_id,
    mutation::{mutate, Audit},
    AppError, Vertical,
};
use serde_json::{json, Value};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    access::CLINICAL,
    document::{
        db,
        model::{filename, Classification, Document, OwnerType},
    },
    spool::Spool,
    state, State,
};

/// The archive's content type.
pub const ZIP: &str = "application/zip";
/// Where user data export archives are stored: reachable by their signed
/// link only, purged once it expired.
pub const USER_EXPORTS: &str = "exports";

/// One file of an export archive.
#[derive(SimpleObject, Clone, Debug)]
pub struct ExportedFile {
    /// Its path in the archive.
    pub name: String,
    /// Its size in bytes.
    pub byte_size: i64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A data export: the archive, stored as a document of its subject.
#[derive(SimpleObject)]
pub struct DataExport {
    /// The archive (its `currentVersion.downloadUrl` is the signed link).
    pub document: Document,
    /// What the archive holds, as in its `manifest.json`.
    pub files: Vec<ExportedFile>,
}

/// A user's data export: one archive with every subgraph's part.
#[derive(SimpleObject)]
pub struct UserDataExport {
    /// The signed link to the ZIP archive.
    pub download_url: String,
    /// When the link stops working (ask for a new export then).
    pub expires_at: chrono::DateTime<Utc>,
    /// What the archive holds, as in its `manifest.json`.
    pub files: Vec<ExportedFile>,
}

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Exports everything Hub holds of the signed-in user in this
    /// organization, for their access or portability request (RGPD art. 15
    /// and 20): their account, memberships, sessions and notifications
    /// (identity), what they did in every subgraph (their audit entries),
    /// their practitioner profile and authored records (medical) and the
    /// documents they created (content), one JSON file per subgraph in one
    /// ZIP archive behind a signed link. Audited.
    #[graphql(guard = "platform::guards::UserOnly.and(platform::guards::RevocationChecked)")]
    async fn request_data_export(&self, ctx: &Context<'_>) -> Result<UserDataExport> {
        let a = auth(ctx)?;
        let user = a.user_id().ok_or(AppError::Forbidden)?;
        let st = state(ctx)?;
        let token = ctx.data::<BearerToken>().map_err(|_| AppError::Unauthenticated)?;
        let mut files: Vec<(String, Vec<u8>)> = vec![];
        let mut parts = Pages::new(st.content.export_max_bytes);
        // This service's own part is read here, not over HTTP.
        for name in st.content.peers.keys().filter(|n| *n != "content") {
            let mut after = None;
            loop {
                let path = match after {
                    None => "/rgpd/subject".to_string(),
                    Some(n) => format!("/rgpd/subject?after={n}"),
                };
                let (resp, unavailable) =
                    peer_get(st, name, &path, &token.0, "a subgraph's part of the export").await?;
                if !resp.status().is_success() {
                    return Err(unavailable(format!("{name}: status {}", resp.status())).into());
                }
                let page: Value = resp.json().await.map_err(|e| unavailable(e.to_string()))?;
                after = parts.add(page)?;
                if after.is_none() {
                    break;
                }
            }
            files.push((format!("{name}.json"), pretty(&parts.take())?));
        }
        let mut after = None;
        loop {
            let page = platform::rgpd::subject_data(
                &st.pool,
                "content",
                <crate::Content as platform::kit::SubgraphApp>::personal_data,
                a,
                platform::rgpd::SubjectPage { after, limit: None },
            )
            .await?;
            after = parts.add(page)?;
            if after.is_none() {
                break;
            }
        }
        files.push(("content.json".into(), pretty(&parts.take())?));
        let now = Utc::now();
        let mut spool = Spool::new(st.content.export_max_bytes, "export")?;
        for (name, bytes) in files {
            spool.add_bytes(&name, bytes).await?;
        }
        let archive = spool
            .finish(manifest(json!({ "type": "User", "id": user }), a, now))
            .await?;
        let listed = archive.files.clone();
        let id = Uuid::new_v4();
        let key = format!("{USER_EXPORTS}/{}/{user}/{id}.zip", a.organization_id);
        let count = listed.len();
        mutate(ctx, async |_| {
            Ok((
                (),
                Audit::new("user.export", "User", user).details(json!({ "export": id, "files": count })),
            ))
        })
        .await?;
        let (size, sha256) = archive.upload(st.store.as_ref(), &Path::from(key.as_str())).await?;
        let ttl = i64::try_from(st.content.download_url_ttl_secs).unwrap_or(300);
        let expires_at = now + Duration::seconds(ttl);
        let grant = crate::signing::Grant::Download {
            org: a.organization_id,
            version: id,
            key,
            sha256,
            size,
            content_type: ZIP.into(),
            filename: format!("hub-data-export-{}.zip", now.format("%Y-%m-%d")),
            exp: expires_at.timestamp(),
            // The caller's own data: not a read of anyone's health record.
            audited: None,
        };
        let signed = st.signer.sign(&grant).map_err(AppError::Internal)?;
        Ok(UserDataExport {
            download_url: format!("{}/files/{signed}", st.content.public_url),
            expires_at,
            files: listed,
        })
    }

    /// Exports a patient's data for their access or portability request:
    /// their medical record as a FHIR Bundle and their documents, in one
    /// ZIP archive stored as a clinical document of the patient. Clinicians
    /// only (the record's readers); the read is audited in both subgraphs.
    #[graphql(guard = "access::vertical_write(Vertical::Medical, CLINICAL)")]
    async fn export_patient_data(&self, ctx: &Context<'_>, patient_id: ID) -> Result<DataExport> {
        let a = auth(ctx)?;
        access::check(a, Vertical::Medical, &CLINICAL, &[])?;
        let patient = parse_id("patientId", &patient_id)?;
        let st = state(ctx)?;
        let token = ctx.data::<BearerToken>().map_err(|_| AppError::Unauthenticated)?;
        let bundle = medical_record(st, &token.0, patient, st.content.export_max_bytes).await?;

        let readable = crate::access::readable(a);
        let mut tx = platform::db::TenantTx::begin(&st.pool, a).await?;
        // Earlier exports are derived copies, not the patient's documents:
        // an export never holds another one.
        let docs = db::of_owners(&mut tx, &[patient], &readable, None, i64::MAX)
            .await?
            .into_iter()
            .filter(|d| !d.is_export())
            .collect::<Vec<_>>();
        let versions = db::versions(&mut tx, &docs.iter().map(|d| d.id).collect::<Vec<_>>()).await?;
        tx.commit().await?;
        let current: Vec<_> = docs
            .iter()
            .filter_map(|d| {
                versions
                    .iter()
                    .find(|v| v.document_id == d.id && Some(v.number) == d.current_version)
                    .map(|v| (d, v))
            })
            .collect();
        let record = serde_json::to_vec_pretty(&bundle).map_err(|e| AppError::Internal(e.into()))?;
        let mut spool = Spool::new(st.content.export_max_bytes, "patientId")?;
        // Refused before anything is read from the store when the sizes
        // already say it cannot fit.
        spool.admit(
            current
                .iter()
                .map(|(_, v)| u64::try_from(v.byte_size.unwrap_or(0)).unwrap_or(0))
                .sum::<u64>()
                .saturating_add(record.len() as u64),
        )?;
        spool.add_bytes("patient.fhir.json", record).await?;
        for (d, v) in current {
            let stream = st
                .store
                .get(&Path::from(v.storage_key.as_str()))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("reading {} for an export: {e}", v.storage_key)))?
                .into_stream();
            // The document's id keeps names unique: two documents may share
            // a title and a version number.
            let name = filename(&d.title, v.number, v.content_type.as_deref().unwrap_or(""));
            spool.add_stream(&format!("documents/{}/{name}", d.id), stream).await?;
        }
        let now = Utc::now();
        let archive = spool
            .finish(manifest(json!({ "type": "Patient", "id": patient }), a, now))
            .await?;
        let listed = archive.files.clone();

        let title = format!("Data export {}", now.format("%Y-%m-%d %H:%M UTC"));
        let new = db::NewDocument {
            owner_type: OwnerType::Patient,
            owner_id: patient,
            title: &title,
            classification: Classification::Clinical,
            retention_until: None,
            expires_at: Some(now + Duration::days(i64::from(st.content.export_retention_days))),
        };
        let size = i64::try_from(
            std::fs::metadata(archive.path())
                .map_err(|e| AppError::Internal(e.into()))?
                .len(),
        )
        .unwrap_or(i64::MAX);
        let count = listed.len();
        let (doc, version) = mutate(ctx, async |tx| {
            let doc = db::insert(tx, &new, a.user_id()).await?;
            let version = db::insert_version(
                tx,
                &db::NewVersion {
                    document: &doc,
                    content_type: ZIP,
                    max_bytes: size,
                    expires_at: now + Duration::minutes(15),
                },
                a.user_id(),
            )
            .await?;
            let audit = Audit::new("patient.export", "Document", doc.id)
                .details(json!({ "patient": patient, "files": count, "version": version.number }));
            Ok(((doc, version), audit))
        })
        .await?;
        // Stored, then made available: if the store fails, the version stays
        // pending (never readable) and the upload sweep removes it.
        let (stored, sha256) = archive
            .upload(st.store.as_ref(), &Path::from(version.storage_key.as_str()))
            .await?;
        let size = i64::try_from(stored).unwrap_or(i64::MAX);
        let mut tx = platform::db::TenantTx::begin(&st.pool, a).await?;
        let claimed = db::claim_upload(&mut tx, version.id, doc.id)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("export version {} vanished", version.id)))?;
        db::make_available(&mut tx, &claimed, size, &sha256, ZIP).await?;
        let doc = db::by_ids(&mut tx, &[doc.id], &readable)
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound("document"))?;
        tx.commit().await?;
        Ok(DataExport {
            document: doc,
            files: listed,
        })
    }
}

/// The pages of one subgraph's `/rgpd/subject` part merged into one (their
/// `actions` appended), within the export's size limit across all parts.
struct Pages {
    part: Option<Value>,
    size: u64,
    limit: u64,
}

impl Pages {
    fn new(limit: u64) -> Self {
        Pages {
            part: None,
            size: 0,
            limit,
        }
    }

    /// Adds a page; the `after` of the next one, if any.
    fn add(&mut self, mut page: Value) -> Result<Option<i64>, AppError> {
        self.size += page.to_string().len() as u64;
        if self.size > self.limit {
            return Err(crate::spool::too_large(self.limit, "export"));
        }
        let next = page.get("next").and_then(Value::as_i64);
        if let Some(o) = page.as_object_mut() {
            o.remove("next");
        }
        match &mut self.part {
            None => self.part = Some(page),
            Some(part) => {
                let more = page["actions"].as_array().cloned().unwrap_or_default();
                if let Some(actions) = part["actions"].as_array_mut() {
                    actions.extend(more);
                }
            }
        }
        Ok(next)
    }

    fn take(&mut self) -> Value {
        self.part.take().unwrap_or(Value::Null)
    }
}

fn pretty(v: &Value) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec_pretty(v).map_err(|e| AppError::Internal(e.into()))
}

/// What `manifest.json` says besides the files (the spool adds those).
fn manifest(subject: Value, a: &platform::AuthContext, now: chrono::DateTime<Utc>) -> Value {
    json!({
        "subject": subject,
        "exportedAt": now,
        "exportedBy": a.user_id(),
        "organization": a.organization_id,
    })
}

/// The patient's `$everything` Bundle from the medical service, as the
/// caller: every page, followed by its `next` cursor and merged into one
/// Bundle (each included practitioner once), refused past `limit` bytes.
async fn medical_record(st: &State, token: &str, patient: Uuid, limit: u64) -> Result<Value, AppError> {
    let path = format!("/fhir/Patient/{patient}/$everything");
    let mut merged: Option<Value> = None;
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut size = 0u64;
    loop {
        let query = match &cursor {
            None => "?_count=100".to_string(),
            Some(c) => format!("?_count=100&_cursor={c}"),
        };
        let (resp, unavailable) = peer_get(st, "medical", &format!("{path}{query}"), token, "medical record").await?;
        let page: Value = match resp.status().as_u16() {
            200 => resp.json().await.map_err(|e| unavailable(e.to_string()))?,
            401 => return Err(AppError::Unauthenticated),
            403 => return Err(AppError::Forbidden),
            404 | 410 => return Err(AppError::NotFound("Patient")),
            other => return Err(unavailable(format!("status {other}"))),
        };
        size += page.to_string().len() as u64;
        if size > limit {
            return Err(crate::spool::too_large(limit, "patientId"));
        }
        cursor = next_cursor(&page);
        let entries = page["entry"].as_array().cloned().unwrap_or_default();
        let bundle = merged.get_or_insert_with(|| {
            let mut first = page.clone();
            first["entry"] = json!([]);
            if let Some(links) = first["link"].as_array_mut() {
                links.retain(|l| l["relation"] == "self");
            }
            first
        });
        if let Some(all) = bundle["entry"].as_array_mut() {
            for e in entries {
                let key = e["fullUrl"].as_str().unwrap_or_default().to_string();
                if seen.insert(key) {
                    all.push(e);
                }
            }
        }
        if cursor.is_none() {
            break;
        }
    }
    merged.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no $everything page")))
}

/// The `_cursor` of a Bundle's `next` link, if it has one.
fn next_cursor(bundle: &Value) -> Option<String> {
    let next = bundle["link"].as_array()?.iter().find(|l| l["relation"] == "next")?["url"].as_str()?;
    let (_, query) = next.split_once('?')?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "_cursor")
        // Sealed cursors are URL-safe base64: they go back as they came.
        .map(|(_, v)| v)
}

/// `GET` `path` of the peer subgraph `name` as the caller (their token,
/// the router secret); the response and how to report its failure.
async fn peer_get(
    st: &State,
    name: &str,
    path: &str,
    token: &str,
    what: &'static str,
) -> Result<(reqwest::Response, impl Fn(String) -> AppError), AppError> {
    let unavailable = move |e: String| {
        tracing::warn!(error = %e, peer = what, "a subgraph did not answer for an export");
        AppError::Unavailable(what)
    };
    let base = st
        .content
        .peers
        .get(name)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no `content.peers.{name}` configured")))?;
    let mut req = st
        .http
        .get(format!("{}{path}", base.trim_end_matches('/')))
        .bearer_auth(token)
        .header("accept", "application/json, application/fhir+json");
    if let Some(secret) = st.settings.auth.router_secret() {
        req = req.header(platform::server::ROUTER_SECRET_HEADER, secret);
    }
    let span = tracing::info_span!("http", otel.name = %format_args!("GET {name}"), otel.kind = "client", peer = name);
    let mut headers = reqwest::header::HeaderMap::new();
    span.in_scope(|| platform::telemetry::inject(&mut headers));
    let resp = req
        .headers(headers)
        .send()
        .instrument(span)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok((resp, unavailable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_pages_merge_their_actions_and_stop_at_the_limit() {
        let mut pages = Pages::new(10_000);
        let first = json!({ "subgraph": "identity", "actions": [{ "action": "a" }], "records": { "x": 1 }, "next": 7 });
        assert_eq!(pages.add(first).expect("fits"), Some(7));
        assert_eq!(
            pages.add(json!({ "actions": [{ "action": "b" }] })).expect("fits"),
            None
        );
        let part = pages.take();
        assert_eq!(part["actions"], json!([{ "action": "a" }, { "action": "b" }]));
        assert_eq!(part["records"], json!({ "x": 1 }));
        assert!(part.get("next").is_none());
        let mut small = Pages::new(10);
        assert!(small.add(json!({ "actions": ["a long enough action"] })).is_err());
    }

    #[test]
    fn the_next_page_of_everything_is_found_by_its_cursor() {
        let page = json!({ "link": [
            { "relation": "self", "url": "https://api.example/fhir/Patient/1/$everything?_count=100" },
            { "relation": "next", "url": "https://api.example/fhir/Patient/1/$everything?_count=100&_cursor=AbC-_09" },
        ] });
        assert_eq!(next_cursor(&page).as_deref(), Some("AbC-_09"));
        let last = json!({ "link": [{ "relation": "self", "url": "https://api.example/fhir/Patient/1/$everything" }] });
        assert_eq!(next_cursor(&last), None);
    }
}
