//! Demo documents (`hub seed`): a consultation report and an administrative
//! paper on a patient of each demo clinic, the specifications (public) and
//! the evaluation grid (internal) of Ville de Lyon's open tender, and ACME's
//! social-security certificate. Development only: it runs as the database
//! admin and looks up the other subgraphs' demo rows by their natural keys,
//! which no service ever does; the lookups stay dynamic for that reason.
//! The bytes go to the configured store like any upload's.

use object_store::{path::Path, PutPayload};
use platform::kit::Runtime;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{storage, ContentSettings};

/// (owner lookup, organization slug, title, classification).
const DEMO: &[(&str, &str, &str, &str, &str)] = &[
    (
        "Patient",
        "MRN-1001",
        "clinique-saint-paul",
        "Compte rendu de consultation",
        "clinical",
    ),
    (
        "Patient",
        "MRN-1001",
        "clinique-saint-paul",
        "Attestation de prise en charge",
        "administrative",
    ),
    (
        "Patient",
        "MRN-1002",
        "hopital-nord",
        "Compte rendu opératoire",
        "clinical",
    ),
    (
        "Tender",
        "VDL-2026-002",
        "ville-de-lyon",
        "Cahier des clauses techniques particulières",
        "procurement_public",
    ),
    (
        "Tender",
        "VDL-2026-002",
        "ville-de-lyon",
        "Grille d'analyse des offres",
        "procurement_internal",
    ),
    (
        "Supplier",
        "",
        "acme-fournitures",
        "Attestation de vigilance URSSAF",
        "compliance",
    ),
];

/// A one-page PDF saying `text`.
fn demo_pdf(text: &str) -> Vec<u8> {
    let ascii: String = text
        .chars()
        .map(|c| if c.is_ascii() && c != '(' && c != ')' { c } else { '-' })
        .collect();
    let stream = format!("BT /F1 18 Tf 72 720 Td ({ascii}) Tj ET");
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
         3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >> endobj\n\
         4 0 obj << /Length {} >> stream\n{stream}\nendstream endobj\n\
         5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n\
         trailer << /Root 1 0 R >>\n%%EOF\n",
        stream.len()
    )
    .into_bytes()
}

pub async fn seed(conn: &mut PgConnection, rt: &Runtime) -> anyhow::Result<()> {
    let settings: ContentSettings = rt.section("content")?;
    let store = storage::open(&settings.store)?;
    for (owner_type, natural_key, slug, title, classification) in DEMO {
        let Some(org): Option<Uuid> = sqlx::query_scalar("select id from identity.organizations where slug = $1")
            .bind(slug)
            .fetch_optional(&mut *conn)
            .await?
        else {
            continue;
        };
        let owner: Option<Uuid> = match *owner_type {
            "Patient" => {
                sqlx::query_scalar("select id from medical.patients where organization_id = $1 and mrn = $2")
                    .bind(org)
                    .bind(natural_key)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            "Tender" => {
                sqlx::query_scalar("select id from procurement.tenders where organization_id = $1 and reference = $2")
                    .bind(org)
                    .bind(natural_key)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            _ => {
                sqlx::query_scalar("select id from procurement.suppliers where organization_id = $1")
                    .bind(org)
                    .fetch_optional(&mut *conn)
                    .await?
            }
        };
        let Some(owner) = owner else { continue };
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from content.documents where owner_id = $1 and title = $2)")
                .bind(owner)
                .bind(title)
                .fetch_one(&mut *conn)
                .await?;
        if exists {
            continue;
        }
        let bytes = demo_pdf(title);
        let sha256 = platform::crypto::sha256_hex_bytes(&bytes);
        let (doc, version) = (Uuid::new_v4(), Uuid::new_v4());
        let key = format!("{org}/{doc}/{version}");
        store
            .put(&Path::from(key.as_str()), PutPayload::from(bytes.clone()))
            .await?;
        sqlx::query(
            "insert into content.documents (id, organization_id, owner_type, owner_id, title, classification, current_version)
             values ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(doc)
        .bind(org)
        .bind(owner_type)
        .bind(owner)
        .bind(title)
        .bind(classification)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into content.document_versions (id, organization_id, document_id, number, status, declared_content_type,
                max_bytes, upload_expires_at, byte_size, sha256, content_type, storage_key, available_at)
             values ($1, $2, $3, 1, 'available', 'application/pdf', $4, now(), $4, $5, 'application/pdf', $6, now())",
        )
        .bind(version)
        .bind(org)
        .bind(doc)
        .bind(bytes.len() as i64)
        .bind(&sha256)
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
