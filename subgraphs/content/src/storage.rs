//! Where the bytes live: a local directory by default (nothing to install),
//! any S3-compatible store by configuration. Both through `object_store`,
//! so uploads stream as multipart writes on either.

use std::{path::PathBuf, sync::Arc};

use object_store::{aws::AmazonS3Builder, local::LocalFileSystem, ObjectStore};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Local,
    S3,
}

/// `[content.store]` (`HUB_CONTENT__STORE__…`). S3 credentials come from the
/// standard environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), never from a settings file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StoreSettings {
    pub kind: StoreKind,
    /// The local store's directory.
    pub dir: PathBuf,
    pub bucket: String,
    pub region: String,
    /// An S3-compatible endpoint (MinIO, Ceph, moto…); AWS when empty.
    pub endpoint: Option<String>,
    /// Allow a plain-http endpoint (development stores).
    pub allow_http: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            kind: StoreKind::Local,
            dir: ".hub/content".into(),
            bucket: String::new(),
            region: "eu-west-3".into(),
            endpoint: None,
            allow_http: false,
        }
    }
}

pub fn open(s: &StoreSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(match s.kind {
        StoreKind::Local => {
            std::fs::create_dir_all(&s.dir)
                .map_err(|e| anyhow::anyhow!("cannot create the content directory {}: {e}", s.dir.display()))?;
            Arc::new(LocalFileSystem::new_with_prefix(&s.dir)?)
        }
        StoreKind::S3 => {
            anyhow::ensure!(
                !s.bucket.is_empty(),
                "HUB_CONTENT__STORE__BUCKET is required for the s3 store"
            );
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(&s.bucket)
                .with_region(&s.region)
                .with_allow_http(s.allow_http);
            if let Some(endpoint) = &s.endpoint {
                // Path-style addressing: what S3-compatible servers expect.
                b = b.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
            }
            Arc::new(b.build()?)
        }
    })
}
