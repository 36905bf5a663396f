//! Medical's own settings, under `[medical]` / `HUB_MEDICAL__…`.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct MedicalSettings {
    /// Field-encryption keys, `id:base64[,id:base64…]`; the first seals new values.
    #[serde(default)]
    pub encryption_keys: Option<SecretString>,
    /// Where a development key is generated once when none is configured.
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
}

impl Default for MedicalSettings {
    fn default() -> Self {
        MedicalSettings {
            encryption_keys: None,
            keys_dir: default_keys_dir(),
        }
    }
}

fn default_keys_dir() -> PathBuf {
    PathBuf::from(".hub/keys")
}
