//! Export archives built on local disk, never in memory: each file goes into
//! a ZIP spooled to a temporary file chunk by chunk (a stored document
//! streams from the object store), the archive then streams to the store
//! as a multipart upload. Memory stays a few chunks whatever the export
//! holds; an archive past the configured size is refused before anything
//! is stored or written to the database. Entry names are unique by
//! construction (callers name entries by id), and a repeated one is an error
//! named here, never the ZIP writer's.

use std::{
    collections::BTreeSet,
    fs::File,
    path::{Path as FsPath, PathBuf},
};

use bytes::Bytes;
use futures::{stream::BoxStream, StreamExt};
use object_store::{path::Path, ObjectStore, WriteMultipart};
use platform::AppError;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use zip::{write::SimpleFileOptions, CompressionMethod, ZipWriter};

use crate::export::ExportedFile;

/// Chunks read from the spool for the upload (S3 parts are at least 5 MiB).
const PART: usize = 8 * 1024 * 1024;

/// A temporary file, removed when dropped (a failed export leaves nothing).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub struct Spool {
    file: TempFile,
    zip: Option<ZipWriter<File>>,
    written: u64,
    limit: u64,
    /// The field an oversize export is reported on.
    field: &'static str,
    names: BTreeSet<String>,
    listed: Vec<ExportedFile>,
}

/// A finished archive on disk, ready to upload.
pub struct Archive {
    file: TempFile,
    pub files: Vec<ExportedFile>,
}

/// The one refusal of an export past `limit` bytes, on `field`.
pub fn too_large(limit: u64, field: &str) -> AppError {
    let mb = limit.div_ceil(1024 * 1024);
    AppError::bad_input(
        field,
        format!("the export would exceed {mb} MB: ask an administrator to raise the limit or export fewer documents"),
    )
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("export archive: {e}"))
}

impl Spool {
    /// An empty archive that refuses to grow past `limit` bytes of content.
    pub fn new(limit: u64, field: &'static str) -> Result<Self, AppError> {
        let path = std::env::temp_dir().join(format!("hub-export-{}.zip", uuid::Uuid::new_v4()));
        let file = File::create(&path).map_err(internal)?;
        Ok(Spool {
            file: TempFile(path),
            zip: Some(ZipWriter::new(file)),
            written: 0,
            limit,
            field,
            names: BTreeSet::new(),
            listed: vec![],
        })
    }

    /// Refuses an export whose content would pass the limit.
    pub fn admit(&self, more: u64) -> Result<(), AppError> {
        if self.written.saturating_add(more) > self.limit {
            return Err(too_large(self.limit, self.field));
        }
        Ok(())
    }

    /// Runs `f` on the ZIP writer off the async workers (file I/O and deflate).
    async fn with<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut ZipWriter<File>) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let mut zip = self.zip.take().ok_or_else(|| internal("the archive is closed"))?;
        let (zip, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut zip);
            (zip, r)
        })
        .await
        .map_err(internal)?;
        self.zip = Some(zip);
        result
    }

    async fn start(&mut self, name: &str) -> Result<(), AppError> {
        if !self.names.insert(name.to_string()) {
            return Err(internal(format!("two entries named {name}")));
        }
        let name = name.to_string();
        self.with(move |z| {
            let opts = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .large_file(true);
            z.start_file(name, opts).map_err(internal)
        })
        .await
    }

    async fn write(&mut self, chunk: Bytes) -> Result<(), AppError> {
        self.admit(chunk.len() as u64)?;
        self.written += chunk.len() as u64;
        self.with(move |z| std::io::Write::write_all(z, &chunk).map_err(internal))
            .await
    }

    fn list(&mut self, name: &str, size: u64, hasher: Sha256) {
        self.listed.push(ExportedFile {
            name: name.to_string(),
            byte_size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: platform::crypto::hex(&hasher.finalize()),
        });
    }

    /// One file from memory (a JSON part).
    pub async fn add_bytes(&mut self, name: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        self.start(name).await?;
        let size = bytes.len() as u64;
        let hasher = Sha256::new_with_prefix(&bytes);
        self.write(Bytes::from(bytes)).await?;
        self.list(name, size, hasher);
        Ok(())
    }

    /// One stored object, streamed chunk by chunk.
    pub async fn add_stream(
        &mut self,
        name: &str,
        mut chunks: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> Result<(), AppError> {
        self.start(name).await?;
        let (mut size, mut hasher) = (0u64, Sha256::new());
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(internal)?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            self.write(chunk).await?;
        }
        self.list(name, size, hasher);
        Ok(())
    }

    /// Adds `manifest.json` (what `manifest` says, plus every file with its
    /// size and SHA-256) and closes the archive.
    pub async fn finish(mut self, mut manifest: serde_json::Value) -> Result<Archive, AppError> {
        manifest["files"] = self
            .listed
            .iter()
            .map(|f| serde_json::json!({ "name": f.name, "byteSize": f.byte_size, "sha256": f.sha256 }))
            .collect();
        let listed = self.listed.clone();
        let text = serde_json::to_vec_pretty(&manifest).map_err(internal)?;
        self.start("manifest.json").await?;
        self.with(move |z| std::io::Write::write_all(z, &text).map_err(internal))
            .await?;
        let zip = self.zip.take().ok_or_else(|| internal("the archive is closed"))?;
        tokio::task::spawn_blocking(move || zip.finish().map_err(internal).map(drop))
            .await
            .map_err(internal)??;
        Ok(Archive {
            file: TempFile(std::mem::take(&mut self.file.0)),
            files: listed,
        })
    }
}

impl Archive {
    pub fn path(&self) -> &FsPath {
        &self.file.0
    }

    /// Streams the archive to `key` in the store; its size and SHA-256.
    pub async fn upload(&self, store: &dyn ObjectStore, key: &Path) -> Result<(u64, String), AppError> {
        let mut file = tokio::fs::File::open(self.path()).await.map_err(internal)?;
        let mut upload = WriteMultipart::new_with_chunk_size(store.put_multipart(key).await.map_err(internal)?, PART);
        let (mut size, mut hasher) = (0u64, Sha256::new());
        let mut buf = vec![0u8; PART];
        let result: Result<(), AppError> = async {
            loop {
                let n = file.read(&mut buf).await.map_err(internal)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
                upload.wait_for_capacity(2).await.map_err(internal)?;
                upload.write(&buf[..n]);
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                upload.finish().await.map_err(internal)?;
                Ok((size, platform::crypto::hex(&hasher.finalize())))
            }
            Err(e) => {
                let _ = upload.abort().await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use object_store::{local::LocalFileSystem, PutPayload};
    use platform::i18n::Locale;

    use super::*;

    #[tokio::test]
    async fn an_archive_streams_from_the_store_to_the_store_and_lists_what_it_holds() {
        let dir = std::env::temp_dir().join(format!("hub-spool-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = LocalFileSystem::new_with_prefix(&dir).expect("store");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store
            .put(&Path::from("docs/a"), PutPayload::from(big.clone()))
            .await
            .expect("put");
        let mut spool = Spool::new(10_000_000, "patientId").expect("spool");
        spool.add_bytes("record.json", b"{}".to_vec()).await.expect("bytes");
        let stream = store.get(&Path::from("docs/a")).await.expect("get").into_stream();
        spool.add_stream("documents/1/a.pdf", stream).await.expect("stream");
        // The same name twice is refused here, not by the ZIP writer.
        assert!(spool.add_bytes("record.json", vec![]).await.is_err());
        let archive = spool
            .finish(serde_json::json!({ "subject": "x" }))
            .await
            .expect("finish");
        let (size, sha) = archive
            .upload(&store, &Path::from("exports/out.zip"))
            .await
            .expect("upload");
        let stored = std::fs::read(dir.join("exports/out.zip")).expect("stored");
        assert_eq!(stored.len() as u64, size);
        assert_eq!(platform::crypto::hex(&Sha256::digest(&stored)), sha);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(stored)).expect("zip");
        let mut doc = vec![];
        zip.by_name("documents/1/a.pdf")
            .expect("entry")
            .read_to_end(&mut doc)
            .expect("read");
        assert_eq!(doc, big);
        let mut manifest = String::new();
        zip.by_name("manifest.json")
            .expect("manifest")
            .read_to_string(&mut manifest)
            .expect("read");
        let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("json");
        assert_eq!(manifest["subject"], "x");
        assert_eq!(
            manifest["files"][1]["sha256"],
            platform::crypto::hex(&Sha256::digest(&big))
        );
        assert_eq!(archive.files.len(), 2);
        let spooled = archive.path().to_path_buf();
        drop(archive);
        assert!(!spooled.exists(), "the spool file is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn past_its_limit_an_export_is_refused_with_a_localized_reason() {
        let mut spool = Spool::new(2 * 1024 * 1024, "patientId").expect("spool");
        spool.add_bytes("a", vec![0; 1024 * 1024]).await.expect("fits");
        let err = spool
            .add_bytes("b", vec![0; 1024 * 1024 + 1])
            .await
            .expect_err("too large");
        assert_eq!(err.code().as_str(), "BAD_USER_INPUT");
        let (en, _) = platform::error::present(&err, Locale::En);
        assert!(en.contains("would exceed 2 MB"), "{en}");
        let (fr, _) = platform::error::present(&err, Locale::Fr);
        assert!(fr.contains("dépasserait 2 Mo"), "{fr}");
        assert!(
            spool.admit(3 * 1024 * 1024).is_err(),
            "a known size is refused up front"
        );
    }
}
