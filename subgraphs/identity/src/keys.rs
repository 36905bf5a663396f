//! Signing keys and the published JWKS. Keys come from configured PEM files
//! (Ed25519 or RSA); in development a key is generated once into the key
//! directory. Every configured key is published so tokens signed by a key
//! being rotated out still verify; only the first signs.

use std::{fs, path::Path};

use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey};
use jsonwebtoken::{
    jwk::{Jwk, JwkSet, ThumbprintHash},
    Algorithm, EncodingKey, Header,
};

use crate::settings::IdentitySettings;

pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    key: EncodingKey,
    public: Jwk,
}

pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    pub fn load(settings: &IdentitySettings, development: bool) -> anyhow::Result<Self> {
        let mut pems = Vec::new();
        for path in &settings.signing_key_files {
            let pem = fs::read(path).map_err(|e| anyhow::anyhow!("cannot read signing key {}: {e}", path.display()))?;
            pems.push(pem);
        }
        if pems.is_empty() {
            anyhow::ensure!(
                development,
                "no signing key configured: set HUB_IDENTITY__SIGNING_KEY_FILES to PEM files"
            );
            pems.push(dev_key(&settings.keys_dir)?);
        }
        let keys = pems.iter().map(|p| SigningKey::from_pem(p)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    pub fn from_pems(pems: &[Vec<u8>]) -> anyhow::Result<Self> {
        let keys = pems.iter().map(|p| SigningKey::from_pem(p)).collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "at least one signing key is needed");
        Ok(KeyRing { keys })
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: self.keys.iter().map(|k| k.public.clone()).collect() }
    }

    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let k = self.active();
        let mut header = Header::new(k.alg);
        header.kid = Some(k.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &k.key)?)
    }
}

impl SigningKey {
    fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let (alg, key) = match EncodingKey::from_ed_pem(pem) {
            Ok(k) => (Algorithm::EdDSA, k),
            Err(_) => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(pem).map_err(|e| anyhow::anyhow!("signing key is neither Ed25519 nor RSA: {e}"))?,
            ),
        };
        let mut public = Jwk::from_encoding_key(&key, alg)?;
        let kid = public.thumbprint(ThumbprintHash::SHA256);
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(SigningKey { kid, alg, key, public })
    }
}

/// A fresh Ed25519 key as PKCS#8 PEM.
pub fn generate_ed25519_pem() -> anyhow::Result<Vec<u8>> {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pem.as_bytes().to_vec())
}

fn dev_key(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join("identity-ed25519.pem");
    if let Ok(pem) = fs::read(&path) {
        return Ok(pem);
    }
    fs::create_dir_all(dir)?;
    let pem = generate_ed25519_pem()?;
    write_private(&path, &pem)?;
    tracing::info!(path = %path.display(), "generated a development signing key");
    Ok(pem)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(fs::write(path, bytes)?)
}
