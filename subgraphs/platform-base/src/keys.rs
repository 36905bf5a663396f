//! Signing keys and the published JWKS. Keys come from configured PEM files
//! (Ed25519 or RSA); in development a key is generated once into the key
//! directory. Every configured key is published so tokens signed by a key
//! being rotated out still verify; only the first signs. Identity issues
//! tokens with it; the test kit mints tokens with it.

use std::{
    fs,
    path::{Path, PathBuf},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
        OctetKeyPairType, ThumbprintHash,
    },
    Algorithm, EncodingKey, Header,
};

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
    /// The keys in `files`; with none, in development, one generated once into `keys_dir`.
    pub fn load(files: &[PathBuf], keys_dir: &Path, development: bool) -> anyhow::Result<Self> {
        let mut pems = Vec::new();
        for path in files {
            let pem = fs::read(path).map_err(|e| anyhow::anyhow!("cannot read signing key {}: {e}", path.display()))?;
            pems.push(pem);
        }
        if pems.is_empty() {
            anyhow::ensure!(
                development,
                "no signing key configured: set HUB_IDENTITY__SIGNING_KEY_FILES to PEM files"
            );
            pems.push(dev_key(keys_dir)?);
        }
        let keys = pems
            .iter()
            .map(|p| SigningKey::from_pem(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    pub fn from_pems(pems: &[Vec<u8>]) -> anyhow::Result<Self> {
        let keys = pems
            .iter()
            .map(|p| SigningKey::from_pem(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "at least one signing key is needed");
        Ok(KeyRing { keys })
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.public.clone()).collect(),
        }
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
        let (alg, key, mut public) = match EncodingKey::from_ed_pem(pem) {
            Ok(k) => (Algorithm::EdDSA, k, ed25519_public_jwk(pem)?),
            Err(_) => {
                let k = EncodingKey::from_rsa_pem(pem)
                    .map_err(|e| anyhow::anyhow!("signing key is neither Ed25519 nor RSA: {e}"))?;
                let jwk = Jwk::from_encoding_key(&k, Algorithm::RS256)?;
                (Algorithm::RS256, k, jwk)
            }
        };
        let kid = public.thumbprint(ThumbprintHash::SHA256);
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(SigningKey { kid, alg, key, public })
    }
}

/// jsonwebtoken cannot derive an Ed25519 JWK from a private key, so the
/// public half is taken from the PEM with ed25519-dalek.
fn ed25519_public_jwk(pem: &[u8]) -> anyhow::Result<Jwk> {
    let text = std::str::from_utf8(pem)?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(text).map_err(|e| anyhow::anyhow!("Ed25519 key: {e}"))?;
    Ok(Jwk {
        common: CommonParameters {
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            ..Default::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        }),
    })
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
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(fs::write(path, bytes)?)
}
