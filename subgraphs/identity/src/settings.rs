//! Identity's own settings, under `[identity]` / `HUB_IDENTITY__…`.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct IdentitySettings {
    /// Where development keys are generated once (ignored when key files are set).
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
    /// PEM private keys (Ed25519 PKCS#8 or RSA); the first signs, all are published.
    #[serde(default)]
    pub signing_key_files: Vec<PathBuf>,
    #[serde(default = "default_refresh_ttl")]
    pub refresh_ttl_secs: i64,
    #[serde(default = "default_link_ttl")]
    pub invite_ttl_secs: i64,
    #[serde(default = "default_reset_ttl")]
    pub reset_ttl_secs: i64,
    /// Keys sealing TOTP seeds at rest, `id:base64[,id:base64…]`; generated
    /// once into `keys_dir` in development.
    #[serde(default)]
    pub encryption_keys: Option<secrecy::SecretString>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            keys_dir: default_keys_dir(),
            signing_key_files: vec![],
            refresh_ttl_secs: default_refresh_ttl(),
            invite_ttl_secs: default_link_ttl(),
            reset_ttl_secs: default_reset_ttl(),
            encryption_keys: None,
        }
    }
}

fn default_keys_dir() -> PathBuf {
    PathBuf::from(".hub/keys")
}
fn default_refresh_ttl() -> i64 {
    30 * 24 * 3600
}
fn default_link_ttl() -> i64 {
    7 * 24 * 3600
}
fn default_reset_ttl() -> i64 {
    3600
}
