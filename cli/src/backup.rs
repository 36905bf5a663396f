//! `hub backup <dir>` / `hub restore <dir>`: every subgraph's schema
//! (`pg_dump --format=custom`, one file per schema) and the content store's
//! objects, with a manifest of SHA-256 checksums that `restore` checks
//! before it writes anything.
//!
//! What a backup does not hold: Redis (events already relayed are marked
//! published in the outbox, so a restored platform relays only what was not
//! yet sent; consumers' idempotency records come back with their schemas)
//! and the keys (field encryption, token signing, signed links), which are
//! secrets kept apart from the data: a restore runs with the same keys.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
};

use futures::TryStreamExt;
use object_store::{path::Path as ObjectPath, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use tokio::process::Command;

use registry::SUBGRAPHS;

const MANIFEST: &str = "manifest.json";

#[derive(Serialize, Deserialize)]
struct Manifest {
    /// When the backup was taken (RFC 3339).
    taken_at: String,
    /// Schema name → its dump file and checksum.
    schemas: BTreeMap<String, FileSum>,
    /// Object path in the content store → checksum (stored under `content/`).
    objects: BTreeMap<String, FileSum>,
}

#[derive(Serialize, Deserialize)]
struct FileSum {
    file: String,
    sha256: String,
    bytes: u64,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The content store as `content` is configured (`HUB_CONTENT__STORE__…`).
fn content_store() -> anyhow::Result<std::sync::Arc<dyn ObjectStore>> {
    let sg = SUBGRAPHS
        .iter()
        .find(|s| s.name == "content")
        .ok_or_else(|| anyhow::anyhow!("the registry lists no content subgraph"))?;
    let store: content::storage::StoreSettings = sg.figment().extract_inner("content.store").unwrap_or_default();
    content::storage::open(&store)
}

/// PostgreSQL's client tools: on the PATH, or the newest Debian-style install.
fn pg_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.exists());
    if let Some(p) = on_path {
        return p;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from(name))
}

async fn run(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("{what}: cannot run it ({e}); PostgreSQL's client tools are needed"))?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

pub async fn backup(dir: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !dir.join(MANIFEST).exists(),
        "{} already holds a backup: give an empty or new directory",
        dir.display()
    );
    std::fs::create_dir_all(dir.join("content"))?;
    let taken_at = chrono::Utc::now().to_rfc3339();
    let mut schemas = BTreeMap::new();
    for sg in SUBGRAPHS {
        let settings = sg.settings()?;
        let file = format!("{}.dump", settings.database.schema);
        let mut cmd = Command::new(pg_tool("pg_dump"));
        cmd.args(["--format=custom", "--no-sync", "--schema"])
            .arg(&settings.database.schema)
            .arg("--file")
            .arg(dir.join(&file))
            .arg("--dbname")
            .arg(secrecy::ExposeSecret::expose_secret(&settings.database.url));
        run(cmd, &format!("pg_dump of schema `{}`", settings.database.schema)).await?;
        let bytes = std::fs::read(dir.join(&file))?;
        println!("Dumped schema `{}` ({} bytes).", settings.database.schema, bytes.len());
        schemas.insert(
            settings.database.schema.clone(),
            FileSum {
                sha256: sha256(&bytes),
                bytes: bytes.len() as u64,
                file,
            },
        );
    }
    let store = content_store()?;
    let mut objects = BTreeMap::new();
    let listed: Vec<_> = store.list(None).try_collect().await?;
    for meta in listed {
        let data = store.get(&meta.location).await?.bytes().await?;
        let name = meta.location.to_string();
        let file = format!("content/{name}");
        let target = dir.join(&file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &data)?;
        objects.insert(
            name,
            FileSum {
                sha256: sha256(&data),
                bytes: data.len() as u64,
                file,
            },
        );
    }
    println!("Copied {} objects of the content store.", objects.len());
    let manifest = Manifest {
        taken_at,
        schemas,
        objects,
    };
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    println!(
        "Backup written to {} ({MANIFEST} lists every file with its SHA-256).",
        dir.display()
    );
    Ok(())
}

pub async fn restore(dir: &Path) -> anyhow::Result<()> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join(MANIFEST))
            .map_err(|e| anyhow::anyhow!("{}: no backup manifest ({e})", dir.join(MANIFEST).display()))?,
    )
    .map_err(|e| anyhow::anyhow!("{MANIFEST} is not a Hub backup manifest: {e}"))?;
    // Every file checked before anything is written: a damaged backup
    // restores nothing.
    for sum in manifest.schemas.values().chain(manifest.objects.values()) {
        let bytes = std::fs::read(dir.join(&sum.file))
            .map_err(|e| anyhow::anyhow!("{}: missing from the backup ({e})", sum.file))?;
        anyhow::ensure!(
            sha256(&bytes) == sum.sha256,
            "{}: its checksum differs from the manifest's: the backup is damaged; nothing was restored",
            sum.file
        );
    }
    for sg in SUBGRAPHS {
        let settings = sg.settings()?;
        let schema = &settings.database.schema;
        let sum = manifest
            .schemas
            .get(schema)
            .ok_or_else(|| anyhow::anyhow!("the backup has no schema `{schema}`"))?;
        let mut conn = platform::migrate::provision(&settings.database, sg.extensions, false).await?;
        let present: bool = sqlx::query_scalar("select exists (select from pg_namespace where nspname = $1)")
            .bind(schema)
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        anyhow::ensure!(
            !present,
            "schema `{schema}` already exists in the target database: restore into a new database \
             (HUB_DATABASE__URL), never over live data"
        );
        let mut cmd = Command::new(pg_tool("pg_restore"));
        cmd.args(["--exit-on-error", "--single-transaction", "--dbname"])
            .arg(secrecy::ExposeSecret::expose_secret(&settings.database.url))
            .arg(dir.join(&sum.file));
        run(cmd, &format!("pg_restore of schema `{schema}`")).await?;
        println!("Restored schema `{schema}`.");
    }
    // A backup taken by an older release gets this release's migrations.
    crate::migrate_all().await?;
    let store = content_store()?;
    for (name, sum) in &manifest.objects {
        let data = std::fs::read(dir.join(&sum.file))?;
        store.put(&ObjectPath::parse(name)?, PutPayload::from(data)).await?;
    }
    println!(
        "Restored {} objects into the content store. Backup of {}; run `hub audit verify` to check the trail.",
        manifest.objects.len(),
        manifest.taken_at
    );
    Ok(())
}
