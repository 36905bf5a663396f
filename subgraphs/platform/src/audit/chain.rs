//! The audit trail's hash chains: verification and export.
//!
//! Each schema's `audit_log` rows form one chain per organization (written
//! by the tenancy SQL's `audit_chain` trigger in the inserting transaction):
//! row n holds `prev_hash` = row n−1's `row_hash` (empty for the first),
//! `canonical` (the row as JSON, exactly the bytes hashed), and
//! `row_hash = sha256(prev_hash ‖ utf8(canonical))`. Verification recomputes
//! every hash here, never trusting the database's own function, compares
//! each row's columns with what was hashed, checks the sequence has no gap
//! and that the chain head matches the last row, and names the first broken
//! link of each chain. An export carries the same fields, so an auditor
//! verifies it offline with the same walk ([`verify_entries`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::crypto::hex;

/// One audit row as the chain sees it (and as an export line carries it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The subgraph whose trail it is (export lines; one chain per
    /// subgraph and organization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgraph: Option<String>,
    pub organization_id: Uuid,
    pub seq: i64,
    pub id: Uuid,
    pub actor_user_id: Option<Uuid>,
    pub actor_client_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub request_id: Option<String>,
    pub details: Value,
    /// RFC 3339, UTC, microseconds: as hashed.
    pub created_at: String,
    /// The bytes hashed (UTF-8).
    pub canonical: String,
    /// Hex; empty for an organization's first row.
    pub prev_hash: String,
    pub row_hash: String,
}

/// The first broken link of one organization's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub subgraph: Option<String>,
    pub organization_id: Uuid,
    /// Where the chain breaks: the first row that does not verify.
    pub seq: i64,
    pub id: Option<Uuid>,
    pub reason: String,
}

/// What a verification found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub organizations: usize,
    pub rows: usize,
    /// Rows written before the chain existed (no `chain_seq`): not covered.
    pub unchained: i64,
    /// Reads of health data checked against their seals.
    pub reads: usize,
    /// Reads not sealed yet (the sealer runs every few seconds).
    pub unsealed: i64,
    pub broken: Vec<Broken>,
}

/// One sealed read (an export line has `sealed_by`): the `reads.sealed`
/// link whose digest covers it, and its canonical text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Read {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgraph: Option<String>,
    pub sealed_by: Uuid,
    pub read: String,
}

/// The action of the links that seal reads.
pub const SEAL_ACTION: &str = "reads.sealed";

/// `sha256` of the reads' canonical texts joined by newlines, hex: what a
/// seal's `details.digest` holds.
pub fn reads_digest<'a>(reads: impl Iterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for (i, r) in reads.enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(r.as_bytes());
    }
    hex(&h.finalize())
}

/// Each seal's reads, in order, against the count and digest it recorded:
/// the first seal of each chain whose reads were edited or deleted.
pub fn verify_seals(entries: &[Entry], reads: &[Read]) -> Vec<Broken> {
    let mut by_seal: std::collections::HashMap<(Option<&str>, Uuid), Vec<&str>> = Default::default();
    for r in reads {
        by_seal
            .entry((r.subgraph.as_deref(), r.sealed_by))
            .or_default()
            .push(&r.read);
    }
    let mut broken: Vec<Broken> = vec![];
    for e in entries.iter().filter(|e| e.action == SEAL_ACTION) {
        if broken
            .iter()
            .any(|b| b.organization_id == e.organization_id && b.subgraph == e.subgraph)
        {
            continue;
        }
        let sealed = by_seal
            .get(&(e.subgraph.as_deref(), e.id))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let count = e.details["count"].as_i64().unwrap_or(-1);
        let reason = if i64::try_from(sealed.len()).ok() != Some(count) {
            Some(format!("it seals {count} reads, {} are left (deleted)", sealed.len()))
        } else if e.details["digest"].as_str() != Some(reads_digest(sealed.iter().copied()).as_str()) {
            Some("a read it seals was edited: their digest differs".to_string())
        } else {
            None
        };
        if let Some(reason) = reason {
            broken.push(Broken {
                subgraph: e.subgraph.clone(),
                organization_id: e.organization_id,
                seq: e.seq,
                id: Some(e.id),
                reason,
            });
        }
    }
    broken
}

/// The sealed reads of `schema` (of one organization), in order.
pub async fn reads(conn: &mut PgConnection, schema: &str, org: Option<Uuid>) -> anyhow::Result<Vec<Read>> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    // Dynamic on purpose, as `entries`.
    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "select r.sealed_by, {schema}.read_log_canonical(r) from {schema}.read_log r
          where r.sealed_by is not null and ($1::uuid is null or r.organization_id = $1)
          order by r.seq"
    ))
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(sealed_by, read)| Read {
            subgraph: None,
            sealed_by,
            read,
        })
        .collect())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `sha256(prev ‖ canonical)`, hex.
pub fn link_hash(prev_hash_hex: &str, canonical: &str) -> Option<String> {
    let mut h = Sha256::new();
    h.update(unhex(prev_hash_hex)?);
    h.update(canonical.as_bytes());
    Some(hex(&h.finalize()))
}

/// Which column differs from what was hashed, if any.
fn edited_field(e: &Entry) -> Option<String> {
    let Ok(c) = serde_json::from_str::<Value>(&e.canonical) else {
        return Some("canonical (not JSON)".into());
    };
    let uuid = |v: &Value| v.as_str().and_then(|s| Uuid::try_parse(s).ok());
    let checks: [(&str, bool); 11] = [
        (
            "organization_id",
            uuid(&c["organization_id"]) == Some(e.organization_id),
        ),
        ("seq", c["seq"].as_i64() == Some(e.seq)),
        ("id", uuid(&c["id"]) == Some(e.id)),
        ("actor_user_id", uuid(&c["actor_user_id"]) == e.actor_user_id),
        ("actor_client_id", uuid(&c["actor_client_id"]) == e.actor_client_id),
        ("action", c["action"].as_str() == Some(e.action.as_str())),
        ("entity_type", c["entity_type"].as_str() == Some(e.entity_type.as_str())),
        ("entity_id", uuid(&c["entity_id"]) == Some(e.entity_id)),
        ("request_id", c["request_id"].as_str() == e.request_id.as_deref()),
        ("details", c["details"] == e.details),
        ("created_at", c["created_at"].as_str() == Some(e.created_at.as_str())),
    ];
    checks.iter().find(|(_, ok)| !ok).map(|(f, _)| f.to_string())
}

/// Walks entries ordered by organization and sequence; `heads` are the
/// chain heads (organization, last seq, last hash hex) where known. With
/// `whole`, each chain must start at its first row (the database); an
/// export may start anywhere, trusting its first row's predecessor hash
/// (which the auditor matches with the previous export's last row). One
/// [`Broken`] per organization whose chain does not verify.
pub fn verify_entries(entries: &[Entry], heads: &[(Uuid, i64, String)], whole: bool) -> Vec<Broken> {
    let mut broken = vec![];
    let mut i = 0;
    while i < entries.len() {
        let (org, subgraph) = (entries[i].organization_id, &entries[i].subgraph);
        let end = entries[i..]
            .iter()
            .position(|e| e.organization_id != org || &e.subgraph != subgraph)
            .map_or(entries.len(), |n| i + n);
        let chain = &entries[i..end];
        i = end;
        if let Some(mut b) = verify_chain(org, chain, heads.iter().find(|h| h.0 == org), whole) {
            b.subgraph = subgraph.clone();
            broken.push(b);
        }
    }
    // A head whose chain has no row left at all: every row was deleted.
    for (org, seq, _) in heads {
        if *seq > 0 && !entries.iter().any(|e| e.organization_id == *org) {
            broken.push(Broken {
                subgraph: None,
                organization_id: *org,
                seq: 1,
                id: None,
                reason: format!("rows 1 to {seq} are missing (deleted): the chain head is at {seq}"),
            });
        }
    }
    broken
}

fn verify_chain(org: Uuid, chain: &[Entry], head: Option<&(Uuid, i64, String)>, whole: bool) -> Option<Broken> {
    let first = chain.first()?;
    let (mut expected_seq, mut prev) = if whole {
        (1, String::new())
    } else {
        (first.seq, first.prev_hash.clone())
    };
    let at = |e: &Entry, reason: String| Broken {
        subgraph: None,
        organization_id: org,
        seq: e.seq,
        id: Some(e.id),
        reason,
    };
    if first.seq == 1 && !first.prev_hash.is_empty() {
        return Some(at(first, "the first row names a predecessor".into()));
    }
    for e in chain {
        if e.seq > expected_seq {
            let reason = if e.seq == expected_seq + 1 {
                format!("row {expected_seq} is missing (deleted)")
            } else {
                format!("rows {expected_seq} to {} are missing (deleted)", e.seq - 1)
            };
            return Some(Broken {
                subgraph: None,
                organization_id: org,
                seq: expected_seq,
                id: None,
                reason,
            });
        }
        if e.seq < expected_seq {
            return Some(at(e, format!("row {} appears again out of order (inserted)", e.seq)));
        }
        if e.prev_hash != prev {
            return Some(at(
                e,
                format!(
                    "does not follow row {}: its predecessor hash differs (a row inserted out of order, or row {} rewritten)",
                    e.seq - 1,
                    e.seq - 1
                ),
            ));
        }
        if link_hash(&e.prev_hash, &e.canonical).as_deref() != Some(e.row_hash.as_str()) {
            return Some(at(e, "its hash does not match what it records (edited)".into()));
        }
        if let Some(field) = edited_field(e) {
            return Some(at(
                e,
                format!("edited after it was written: `{field}` differs from what was hashed"),
            ));
        }
        prev = e.row_hash.clone();
        expected_seq += 1;
    }
    if let Some((_, head_seq, head_hash)) = head {
        let last = chain.last()?;
        if *head_seq > last.seq {
            return Some(Broken {
                subgraph: None,
                organization_id: org,
                seq: last.seq + 1,
                id: None,
                reason: format!(
                    "rows {} to {head_seq} are missing (deleted): the chain head is at {head_seq}",
                    last.seq + 1
                ),
            });
        }
        if *head_seq == last.seq && *head_hash != last.row_hash {
            return Some(at(
                last,
                "the chain head's hash differs from the last row's (rewritten)".into(),
            ));
        }
    }
    None
}

type Row = (
    Uuid,
    Option<i64>,
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    String,
    String,
    Uuid,
    Option<String>,
    Value,
    DateTime<Utc>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Chained rows of `schema`'s audit log, optionally of one organization and
/// a time window, in chain order; and the number of unchained rows.
pub async fn entries(
    conn: &mut PgConnection,
    schema: &str,
    org: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> anyhow::Result<(Vec<Entry>, i64)> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    // Dynamic on purpose: one statement for every subgraph's schema, run by
    // the database admin (verification reads every organization).
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select organization_id, chain_seq, id, actor_user_id, actor_client_id, action, entity_type, entity_id,
                request_id, details, created_at, canonical, prev_hash, row_hash
           from {schema}.audit_log
          where ($1::uuid is null or organization_id = $1)
            and ($2::timestamptz is null or created_at >= $2)
            and ($3::timestamptz is null or created_at < $3)
          order by organization_id, chain_seq nulls first"
    ))
    .bind(org)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let mut unchained = 0;
    let mut out = Vec::with_capacity(rows.len());
    for (
        organization_id,
        seq,
        id,
        user,
        client,
        action,
        entity_type,
        entity_id,
        request_id,
        details,
        at,
        canonical,
        prev,
        hash,
    ) in rows
    {
        let Some(seq) = seq else {
            unchained += 1;
            continue;
        };
        out.push(Entry {
            subgraph: None,
            organization_id,
            seq,
            id,
            actor_user_id: user,
            actor_client_id: client,
            action,
            entity_type,
            entity_id,
            request_id,
            details,
            created_at: at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            canonical: canonical.unwrap_or_default(),
            prev_hash: prev.map(|p| hex(&p)).unwrap_or_default(),
            row_hash: hash.map(|h| hex(&h)).unwrap_or_default(),
        });
    }
    Ok((out, unchained))
}

/// Verifies `schema`'s chains (of one organization, or all).
pub async fn verify(conn: &mut PgConnection, schema: &str, org: Option<Uuid>) -> anyhow::Result<Report> {
    let (entries, unchained) = entries(conn, schema, org, None, None).await?;
    let heads: Vec<(Uuid, i64, Vec<u8>)> = sqlx::query_as(&format!(
        "select organization_id, seq, hash from {schema}.audit_chain_heads where ($1::uuid is null or organization_id = $1)"
    ))
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    let heads: Vec<(Uuid, i64, String)> = heads.into_iter().map(|(o, s, h)| (o, s, hex(&h))).collect();
    let mut broken = verify_entries(&entries, &heads, true);
    let reads = reads(conn, schema, org).await?;
    for b in verify_seals(&entries, &reads) {
        if !broken.iter().any(|k| k.organization_id == b.organization_id) {
            broken.push(b);
        }
    }
    let unsealed: i64 = sqlx::query_scalar(&format!(
        "select count(*) from {schema}.read_log where sealed_by is null and ($1::uuid is null or organization_id = $1)"
    ))
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    let mut orgs: Vec<Uuid> = entries.iter().map(|e| e.organization_id).collect();
    orgs.dedup();
    Ok(Report {
        organizations: orgs.len(),
        rows: entries.len(),
        unchained,
        reads: reads.len(),
        unsealed,
        broken,
    })
}
