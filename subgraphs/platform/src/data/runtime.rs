//! What a running subgraph holds once per process — its settings, pool,
//! Redis client and keys — and how a resolver reaches it (and the
//! subgraph's own state) through the schema data. Below the kit, so the
//! audit trail and the shape of a write can reach the pool without it.

use std::sync::Arc;

use async_graphql::Context;
use figment::Figment;
use serde::{de::DeserializeOwned, Deserialize};
use sqlx::PgPool;

use crate::{
    data::reads::ReadPools,
    foundation::config::Settings,
    foundation::error::AppError,
    infra::kv::Kv,
    security::crypto::{parse_key_spec, sha256_hex_bytes, FieldCipher},
    security::keys::KeyRing,
};

/// The platform's side of a running subgraph: settings, pool and Redis.
pub struct Runtime {
    pub name: &'static str,
    pub settings: Arc<Settings>,
    /// The primary: writes, jobs, locks, the audit trail.
    pub pool: PgPool,
    /// Where read transactions go (the replica, when one is configured).
    pub reads: Arc<ReadPools>,
    pub kv: Kv,
    figment: Figment,
}

impl Runtime {
    pub fn new(name: &'static str, figment: Figment) -> anyhow::Result<Self> {
        let settings = Settings::extract(&figment)?;
        let pool = crate::data::db::connect(&settings.database)?;
        let kv = Kv::new(settings.redis.url())?;
        let reads = Arc::new(ReadPools::new(pool.clone(), &settings.database, kv.clone())?);
        Ok(Runtime {
            name,
            settings: Arc::new(settings),
            pool,
            reads,
            kv,
            figment,
        })
    }

    /// A section of the same layered configuration (`[name]`), or its defaults.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> anyhow::Result<T> {
        Settings::section(&self.figment, name)
    }

    /// The service's field-encryption keys (`HUB_<NAME>__ENCRYPTION_KEYS`,
    /// `id:base64[,id:base64…]`, the first seals); in development a key is
    /// generated once into `HUB_<NAME>__KEYS_DIR` (`.hub/keys`).
    pub fn field_cipher(&self) -> anyhow::Result<FieldCipher> {
        let keys: KeySettings = self.section(self.name)?;
        FieldCipher::load(
            keys.encryption_keys.as_ref().map(secrecy::ExposeSecret::expose_secret),
            &keys.keys_dir,
            self.name,
            self.is_development(),
        )
    }

    /// The service's token-signing keys (`HUB_<NAME>__SIGNING_KEY_FILES`,
    /// PEM files; the first signs, all are published); in development one is
    /// generated once into the keys directory.
    pub fn signing_keys(&self) -> anyhow::Result<KeyRing> {
        let keys: KeySettings = self.section(self.name)?;
        KeyRing::load(&keys.signing_key_files, &keys.keys_dir, self.is_development())
    }

    /// The keys this service was given in configuration that every
    /// instance must share (`HUB_<NAME>__ENCRYPTION_KEYS`), as (setting, key
    /// id, fingerprint). Keys a development process generated for itself
    /// are no one else's and are not compared.
    pub fn shared_keys(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let keys: KeySettings = self.section(self.name)?;
        let Some(spec) = keys
            .encryption_keys
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret)
            .filter(|s| !s.trim().is_empty())
        else {
            return Ok(vec![]);
        };
        let setting = format!("HUB_{}__ENCRYPTION_KEYS", self.name.to_uppercase());
        Ok(parse_key_spec(spec, "encryption")?
            .into_iter()
            .map(|(id, key)| {
                let mut material = format!("hub key fingerprint v1\0{setting}\0").into_bytes();
                material.extend_from_slice(&key);
                (setting.clone(), id, sha256_hex_bytes(&material))
            })
            .collect())
    }

    pub fn is_development(&self) -> bool {
        self.settings.environment.is_development()
    }
}

/// Key material every service section may carry.
#[derive(Deserialize)]
pub struct KeySettings {
    #[serde(default)]
    pub encryption_keys: Option<secrecy::SecretString>,
    #[serde(default)]
    pub signing_key_files: Vec<std::path::PathBuf>,
    #[serde(default = "default_keys_dir")]
    pub keys_dir: std::path::PathBuf,
}

impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            encryption_keys: None,
            signing_key_files: vec![],
            keys_dir: default_keys_dir(),
        }
    }
}

fn default_keys_dir() -> std::path::PathBuf {
    ".hub/keys".into()
}

/// The subgraph's own state, from the schema data.
pub fn state<'a, S: Send + Sync + 'static>(ctx: &Context<'a>) -> Result<&'a S, AppError> {
    ctx.data::<Arc<S>>()
        .map(|s| s.as_ref())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("subgraph state missing from schema data")))
}

/// The platform runtime (pool, settings), from the schema data.
pub fn runtime<'a>(ctx: &Context<'a>) -> Result<&'a Runtime, AppError> {
    state::<Runtime>(ctx)
}

/// Compares this instance's shared keys ([`Runtime::shared_keys`]) with the
/// fingerprints the first instance recorded in the schema (recording the new
/// ones). `Ok(Err(why))` names the setting and key that differ.
pub async fn agree_on_keys(pool: &PgPool, keys: &[(String, String, String)]) -> sqlx::Result<Result<(), String>> {
    for (setting, id, print) in keys {
        let same: bool = sqlx::query_scalar("select agree_key($1, $2, $3)")
            .bind(setting)
            .bind(id)
            .bind(print)
            .fetch_one(pool)
            .await?;
        if !same {
            return Ok(Err(format!(
                "{setting}: key `{id}` is not the key `{id}` the other instances of this service use \
                 (what they sealed, this one cannot open): give every instance the same keys"
            )));
        }
    }
    Ok(Ok(()))
}
