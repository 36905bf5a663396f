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

use crate::security::crypto::hex;

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
    let mut walk = Walk::new(heads, whole);
    for e in entries {
        walk.push(e);
    }
    walk.finish()
}

/// The chains' walk, one entry at a time, so a trail of any length is
/// verified in bounded memory: only the current chain's last link and one
/// line per organization are kept.
pub struct Walk {
    whole: bool,
    heads: std::collections::HashMap<Uuid, (i64, String)>,
    seen: std::collections::HashSet<Uuid>,
    current: Option<Chain>,
    broken: Vec<Broken>,
}

struct Chain {
    org: Uuid,
    subgraph: Option<String>,
    expected_seq: i64,
    prev: String,
    failed: bool,
    last: Option<(i64, Uuid, String)>,
}

impl Walk {
    pub fn new(heads: &[(Uuid, i64, String)], whole: bool) -> Self {
        Walk {
            whole,
            heads: heads.iter().map(|(o, s, h)| (*o, (*s, h.clone()))).collect(),
            seen: Default::default(),
            current: None,
            broken: vec![],
        }
    }

    /// Takes the next entry (in organization and sequence order); whether
    /// its chain still verifies up to and including it.
    pub fn push(&mut self, e: &Entry) -> bool {
        let same = self
            .current
            .as_ref()
            .is_some_and(|c| c.org == e.organization_id && c.subgraph == e.subgraph);
        if !same {
            self.end_chain();
            self.seen.insert(e.organization_id);
            let (expected_seq, prev) = if self.whole {
                (1, String::new())
            } else {
                (e.seq, e.prev_hash.clone())
            };
            self.current = Some(Chain {
                org: e.organization_id,
                subgraph: e.subgraph.clone(),
                expected_seq,
                prev,
                failed: false,
                last: None,
            });
            if e.seq == 1 && !e.prev_hash.is_empty() {
                self.fail(Some(e), e.seq, "the first row names a predecessor".into());
                return false;
            }
        }
        let Some(c) = self.current.as_mut() else { return false };
        if c.failed {
            return false;
        }
        let expected = c.expected_seq;
        let reason = if e.seq > expected {
            let reason = if e.seq == expected + 1 {
                format!("row {expected} is missing (deleted)")
            } else {
                format!("rows {expected} to {} are missing (deleted)", e.seq - 1)
            };
            self.fail(None, expected, reason);
            return false;
        } else if e.seq < expected {
            Some(format!("row {} appears again out of order (inserted)", e.seq))
        } else if e.prev_hash != c.prev {
            Some(format!(
                "does not follow row {}: its predecessor hash differs (a row inserted out of order, or row {} rewritten)",
                e.seq - 1,
                e.seq - 1
            ))
        } else if link_hash(&e.prev_hash, &e.canonical).as_deref() != Some(e.row_hash.as_str()) {
            Some("its hash does not match what it records (edited)".into())
        } else {
            edited_field(e).map(|field| format!("edited after it was written: `{field}` differs from what was hashed"))
        };
        if let Some(reason) = reason {
            self.fail(Some(e), e.seq, reason);
            return false;
        }
        c.prev = e.row_hash.clone();
        c.expected_seq += 1;
        c.last = Some((e.seq, e.id, e.row_hash.clone()));
        true
    }

    fn fail(&mut self, e: Option<&Entry>, seq: i64, reason: String) {
        if let Some(c) = self.current.as_mut() {
            c.failed = true;
            self.broken.push(Broken {
                subgraph: c.subgraph.clone(),
                organization_id: c.org,
                seq,
                id: e.map(|e| e.id),
                reason,
            });
        }
    }

    /// Whether `org`'s chain (in `subgraph`) broke somewhere.
    pub fn is_broken(&self, org: Uuid, subgraph: &Option<String>) -> bool {
        self.broken
            .iter()
            .any(|b| b.organization_id == org && &b.subgraph == subgraph)
    }

    fn end_chain(&mut self) {
        let Some(c) = self.current.take() else { return };
        if c.failed {
            return;
        }
        let (Some((head_seq, head_hash)), Some((last_seq, last_id, last_hash))) = (self.heads.get(&c.org), &c.last)
        else {
            return;
        };
        if *head_seq > *last_seq {
            self.broken.push(Broken {
                subgraph: c.subgraph.clone(),
                organization_id: c.org,
                seq: last_seq + 1,
                id: None,
                reason: format!(
                    "rows {} to {head_seq} are missing (deleted): the chain head is at {head_seq}",
                    last_seq + 1
                ),
            });
        } else if head_seq == last_seq && head_hash != last_hash {
            self.broken.push(Broken {
                subgraph: c.subgraph.clone(),
                organization_id: c.org,
                seq: *last_seq,
                id: Some(*last_id),
                reason: "the chain head's hash differs from the last row's (rewritten)".into(),
            });
        }
    }

    /// The broken links found, once every entry was pushed.
    pub fn finish(mut self) -> Vec<Broken> {
        self.end_chain();
        // A head whose chain has no row left at all: every row was deleted.
        let mut gone: Vec<(Uuid, i64)> = self
            .heads
            .iter()
            .filter(|(org, (seq, _))| *seq > 0 && !self.seen.contains(org))
            .map(|(org, (seq, _))| (*org, *seq))
            .collect();
        gone.sort();
        for (org, seq) in gone {
            self.broken.push(Broken {
                subgraph: None,
                organization_id: org,
                seq: 1,
                id: None,
                reason: format!("rows 1 to {seq} are missing (deleted): the chain head is at {seq}"),
            });
        }
        self.broken
    }
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
    for row in rows {
        match entry_of(row) {
            Some(e) => out.push(e),
            None => unchained += 1,
        }
    }
    Ok((out, unchained))
}

/// A row as the chain sees it; `None` for a row written before the chain.
fn entry_of(row: Row) -> Option<Entry> {
    let (
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
    ) = row;
    Some(Entry {
        subgraph: None,
        organization_id,
        seq: seq?,
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
    })
}

/// Rows read per statement while verifying: memory stays one batch (and
/// one seal's reads) whatever the trail's length.
const VERIFY_BATCH: i64 = 5_000;

/// Verifies `schema`'s chains (of one organization, or all), reading the
/// trail in keyset batches and each seal's reads as the walk reaches it.
pub async fn verify(conn: &mut PgConnection, schema: &str, org: Option<Uuid>) -> anyhow::Result<Report> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "invalid schema `{schema}`"
    );
    let heads: Vec<(Uuid, i64, Vec<u8>)> = sqlx::query_as(&format!(
        "select organization_id, seq, hash from {schema}.audit_chain_heads where ($1::uuid is null or organization_id = $1)"
    ))
    .bind(org)
    .fetch_all(&mut *conn)
    .await?;
    let heads: Vec<(Uuid, i64, String)> = heads.into_iter().map(|(o, s, h)| (o, s, hex(&h))).collect();
    let mut walk = Walk::new(&heads, true);
    let mut seal_breaks: Vec<Broken> = vec![];
    let (mut rows, mut reads, mut organizations) = (0usize, 0usize, 0usize);
    let mut last_org = None;
    let mut after: Option<(Uuid, i64)> = None;
    loop {
        // Dynamic on purpose, as `entries`.
        let batch: Vec<Row> = sqlx::query_as(&format!(
            "select organization_id, chain_seq, id, actor_user_id, actor_client_id, action, entity_type, entity_id,
                    request_id, details, created_at, canonical, prev_hash, row_hash
               from {schema}.audit_log
              where chain_seq is not null and ($1::uuid is null or organization_id = $1)
                and ($2::uuid is null or (organization_id, chain_seq) > ($2, $3))
              order by organization_id, chain_seq limit $4"
        ))
        .bind(org)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(VERIFY_BATCH)
        .fetch_all(&mut *conn)
        .await?;
        let n = batch.len();
        for row in batch {
            let Some(e) = entry_of(row) else { continue };
            after = Some((e.organization_id, e.seq));
            rows += 1;
            if last_org != Some(e.organization_id) {
                organizations += 1;
                last_org = Some(e.organization_id);
            }
            let intact = walk.push(&e);
            if intact && e.action == SEAL_ACTION && !seal_breaks.iter().any(|b| b.organization_id == e.organization_id)
            {
                let sealed = sealed_reads(conn, schema, e.id).await?;
                reads += sealed.len();
                if let Some(b) = verify_seals(std::slice::from_ref(&e), &sealed).pop() {
                    seal_breaks.push(b);
                }
            }
        }
        if (n as i64) < VERIFY_BATCH {
            break;
        }
    }
    let mut broken = walk.finish();
    for b in seal_breaks {
        if !broken.iter().any(|k| k.organization_id == b.organization_id) {
            broken.push(b);
        }
    }
    let (unchained, unsealed): (i64, i64) = sqlx::query_as(&format!(
        "select (select count(*) from {schema}.audit_log where chain_seq is null and ($1::uuid is null or organization_id = $1)),
                (select count(*) from {schema}.read_log where sealed_by is null and ($1::uuid is null or organization_id = $1))"
    ))
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Report {
        organizations,
        rows,
        unchained,
        reads,
        unsealed,
        broken,
    })
}

/// The reads one seal covers, in order.
async fn sealed_reads(conn: &mut PgConnection, schema: &str, seal: Uuid) -> anyhow::Result<Vec<Read>> {
    // Dynamic on purpose, as `entries`.
    let texts: Vec<String> = sqlx::query_scalar(&format!(
        "select {schema}.read_log_canonical(r) from {schema}.read_log r where r.sealed_by = $1 order by r.seq"
    ))
    .bind(seal)
    .fetch_all(&mut *conn)
    .await?;
    Ok(texts
        .into_iter()
        .map(|read| Read {
            subgraph: None,
            sealed_by: seal,
            read,
        })
        .collect())
}
