//! Field-level encryption at rest: AES-256-GCM with a random 96-bit nonce per
//! value. Each stored value carries the id of the key that sealed it, so keys
//! rotate by adding a new active key while old ones still open old values.
//! The associated data binds a ciphertext to its row and column: a value
//! copied into another row does not decrypt.

use std::{collections::HashMap, fs, path::Path};

use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine};

use crate::foundation::error::AppError;

const NONCE_LEN: usize = 12;

pub struct FieldCipher {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
}

/// A sealed value as stored: `nonce || ciphertext` and the key id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    pub data: Vec<u8>,
    pub key_id: String,
}

impl FieldCipher {
    /// Parses `id:base64key[,id:base64key…]`; the first key seals new values.
    pub fn from_spec(spec: &str) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let mut active = None;
        for (id, bytes) in parse_key_spec(spec, "encryption")? {
            anyhow::ensure!(bytes.len() == 32, "encryption key `{id}` must be 32 bytes (AES-256)");
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| anyhow::anyhow!("bad key `{id}`"))?;
            active.get_or_insert_with(|| id.clone());
            keys.insert(id, cipher);
        }
        let active = active.ok_or_else(|| anyhow::anyhow!("no encryption key configured"))?;
        Ok(FieldCipher { active, keys })
    }

    /// The configured keys, or in development a key generated once into `dir`.
    pub fn load(spec: Option<&str>, dir: &Path, name: &str, development: bool) -> anyhow::Result<Self> {
        Self::from_spec(&key_spec(spec, dir, &format!("{name}-field.key"), development)?)
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Sealed, AppError> {
        let cipher = self
            .keys
            .get(&self.active)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("active key missing")))?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("encryption failed")))?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ct);
        Ok(Sealed {
            data,
            key_id: self.active.clone(),
        })
    }

    pub fn open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, AppError> {
        let cipher = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown encryption key `{}`", sealed.key_id)))?;
        if sealed.data.len() < NONCE_LEN {
            return Err(AppError::Internal(anyhow::anyhow!("sealed value too short")));
        }
        let (nonce, ct) = sealed.data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("bad nonce")))?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal(anyhow::anyhow!("decryption failed (key `{}`)", sealed.key_id)))
    }

    /// A value sealed into one URL-safe token (paging cursors and other
    /// handles a client carries back): unreadable and unforgeable by the
    /// client, bound to `aad` (e.g. the organization and what it pages).
    pub fn seal_token(&self, plaintext: &[u8], aad: &str) -> Result<String, AppError> {
        let sealed = self.seal(plaintext, aad)?;
        let id = sealed.key_id.as_bytes();
        let len = u8::try_from(id.len()).map_err(|_| AppError::Internal(anyhow::anyhow!("key id too long")))?;
        let mut raw = Vec::with_capacity(1 + id.len() + sealed.data.len());
        raw.push(len);
        raw.extend_from_slice(id);
        raw.extend_from_slice(&sealed.data);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    /// What [`Self::seal_token`] sealed under the same `aad`; `None` for
    /// anything else (a client's own text, another organization's token).
    pub fn open_token(&self, token: &str, aad: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&len, rest) = raw.split_first()?;
        let len = usize::from(len);
        if rest.len() < len {
            return None;
        }
        let (id, data) = rest.split_at(len);
        let sealed = Sealed {
            data: data.to_vec(),
            key_id: String::from_utf8(id.to_vec()).ok()?,
        };
        self.open(&sealed, aad).ok()
    }

    pub fn seal_str(&self, plaintext: &str, aad: &str) -> Result<Sealed, AppError> {
        self.seal(plaintext.as_bytes(), aad)
    }

    pub fn open_str(&self, sealed: &Sealed, aad: &str) -> Result<String, AppError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|e| AppError::Internal(e.into()))
    }
}

pub use platform_base::digest::{hex, sha256_hex, sha256_hex_bytes};

/// A key ring as configured: `id:base64[,id:base64…]`, the first entry the
/// active key, the others still accepted (rotation).
pub fn parse_key_spec(spec: &str, what: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut keys = vec![];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, b64) = part
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{what} key entries look like `id:base64`"))?;
        keys.push((id.to_string(), STANDARD.decode(b64.trim())?));
    }
    anyhow::ensure!(!keys.is_empty(), "no {what} key configured");
    Ok(keys)
}

/// The configured key ring, or in development one of a random 256-bit key
/// generated once into `dir/file` (so restarts keep reading what it sealed
/// or signed). Outside development a missing key is an error.
pub fn key_spec(spec: Option<&str>, dir: &Path, file: &str, development: bool) -> anyhow::Result<String> {
    if let Some(spec) = spec.filter(|s| !s.trim().is_empty()) {
        return Ok(spec.to_string());
    }
    let path = dir.join(file);
    anyhow::ensure!(
        development,
        "no key configured (development would generate {})",
        path.display()
    );
    if let Ok(spec) = fs::read_to_string(&path) {
        return Ok(spec);
    }
    fs::create_dir_all(dir)?;
    let spec = format!("dev1:{}", generate_key());
    fs::write(&path, &spec)?;
    tracing::info!(path = %path.display(), "generated a development key");
    Ok(spec)
}

/// A fresh random AES-256 key, base64.
pub fn generate_key() -> String {
    STANDARD.encode(Aes256Gcm::generate_key(&mut OsRng))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_are_bound_to_their_row() {
        let c = FieldCipher::from_spec(&format!("k1:{}", generate_key())).unwrap();
        let s = c.seal_str("+33 6 12 34 56 78", "patients.contact:1").unwrap();
        assert_eq!(s.key_id, "k1");
        assert!(!String::from_utf8_lossy(&s.data).contains("12 34"));
        assert_eq!(c.open_str(&s, "patients.contact:1").unwrap(), "+33 6 12 34 56 78");
        assert!(c.open_str(&s, "patients.contact:2").is_err(), "moved to another row");
        let again = c.seal_str("+33 6 12 34 56 78", "patients.contact:1").unwrap();
        assert_ne!(again.data, s.data, "fresh nonce each time");
    }

    #[test]
    fn tokens_are_opaque_bound_and_refuse_what_they_did_not_seal() {
        let c = FieldCipher::from_spec(&format!("k1:{}", generate_key())).unwrap();
        let t = c.seal_token(br#"["Dupont","Jean"]"#, "cursor:org-a").unwrap();
        assert!(!t.contains("Dupont"));
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&t).unwrap();
        assert!(
            !String::from_utf8_lossy(&decoded).contains("Dupont"),
            "not merely encoded"
        );
        assert_eq!(c.open_token(&t, "cursor:org-a").unwrap(), br#"["Dupont","Jean"]"#);
        assert!(c.open_token(&t, "cursor:org-b").is_none(), "another organization's");
        assert!(
            c.open_token("WyJEdXBvbnQiXQ", "cursor:org-a").is_none(),
            "a client's own"
        );
        assert!(c.open_token("", "cursor:org-a").is_none());
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_with_the_new_key() {
        let (old, new) = (generate_key(), generate_key());
        let before = FieldCipher::from_spec(&format!("k1:{old}")).unwrap();
        let sealed = before.seal_str("secret", "t.c:1").unwrap();
        let after = FieldCipher::from_spec(&format!("k2:{new},k1:{old}")).unwrap();
        assert_eq!(after.open_str(&sealed, "t.c:1").unwrap(), "secret");
        assert_eq!(after.seal_str("x", "t.c:1").unwrap().key_id, "k2");
    }

    #[test]
    fn bad_key_specs_are_refused() {
        assert!(FieldCipher::from_spec("").is_err());
        assert!(FieldCipher::from_spec("k1:c2hvcnQ=").is_err());
        assert!(FieldCipher::from_spec("no-colon").is_err());
    }
}
