//! Signed transfer URLs. A grant (what the holder may do, until when) is
//! serialized, signed with HMAC-SHA256 under the active key of a rotating
//! key ring, and put in the URL path: `<grant>.<key id>.<mac>`. The content
//! service checks the MAC (in constant time), the key and the expiry before
//! it touches storage; a URL whose grant was edited, or signed by a key no
//! longer in the ring, is refused. The grant is the credential: whoever
//! holds the URL may use it until it expires, as with S3 presigned URLs,
//! which is why download URLs live minutes.

use std::collections::HashMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use platform::{Role, Vertical};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// What a signed URL allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Grant {
    /// `PUT` the bytes of one pending version, for its organization.
    Upload {
        org: Uuid,
        user: Option<Uuid>,
        roles: Vec<Role>,
        verticals: Vec<Vertical>,
        document: Uuid,
        version: Uuid,
        max_bytes: u64,
        content_type: String,
        exp: i64,
    },
    /// `GET` the bytes of one available version.
    Download {
        org: Uuid,
        version: Uuid,
        key: String,
        sha256: String,
        size: u64,
        content_type: String,
        filename: String,
        exp: i64,
        /// Health data: the download is written to the read log, as this
        /// caller's read of this patient's document.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audited: Option<AuditedRead>,
    },
}

/// Who a download of health data is audited as (signed into the link: the
/// download itself carries no caller).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AuditedRead {
    pub patient: Uuid,
    pub document: Uuid,
    #[serde(default)]
    pub user: Option<Uuid>,
    #[serde(default)]
    pub client: Option<Uuid>,
}

impl Grant {
    pub fn expires_at(&self) -> i64 {
        match self {
            Grant::Upload { exp, .. } | Grant::Download { exp, .. } => *exp,
        }
    }
}

/// Why a URL was refused (all answer 403: a caller learns nothing more).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    UnknownKey,
    BadSignature,
    Expired,
}

pub struct UrlSigner {
    active: String,
    keys: HashMap<String, Vec<u8>>,
}

impl UrlSigner {
    pub fn from_spec(spec: &str) -> anyhow::Result<Self> {
        let ring = platform::crypto::parse_key_spec(spec, "URL signing")?;
        for (id, key) in &ring {
            anyhow::ensure!(key.len() >= 32, "URL signing key `{id}` must be at least 32 bytes");
            anyhow::ensure!(
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "URL signing key ids are letters, digits, - and _: `{id}`"
            );
        }
        Ok(UrlSigner {
            active: ring[0].0.clone(),
            keys: ring.into_iter().collect(),
        })
    }

    fn mac(&self, kid: &str, payload: &str) -> Option<HmacSha256> {
        let key = self.keys.get(kid)?;
        let mut mac = HmacSha256::new_from_slice(key).ok()?;
        mac.update(kid.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        Some(mac)
    }

    /// The URL path segment for a grant.
    pub fn sign(&self, grant: &Grant) -> anyhow::Result<String> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(grant)?);
        let mac = self
            .mac(&self.active, &payload)
            .ok_or_else(|| anyhow::anyhow!("active URL signing key missing"))?;
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(format!("{payload}.{}.{tag}", self.active))
    }

    /// The grant a token carries, if it is intact, signed by a known key and
    /// not expired at `now` (unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Grant, Refused> {
        let mut parts = token.split('.');
        let (Some(payload), Some(kid), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Malformed);
        };
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refused::Malformed)?;
        let mac = self.mac(kid, payload).ok_or(Refused::UnknownKey)?;
        mac.verify_slice(&tag).map_err(|_| Refused::BadSignature)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Refused::Malformed)?;
        let grant: Grant = serde_json::from_slice(&bytes).map_err(|_| Refused::Malformed)?;
        if grant.expires_at() <= now {
            return Err(Refused::Expired);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        platform::crypto::generate_key()
    }

    fn grant(exp: i64) -> Grant {
        Grant::Download {
            org: Uuid::new_v4(),
            version: Uuid::new_v4(),
            key: "a/b/c".into(),
            sha256: "0".repeat(64),
            size: 3,
            content_type: "application/pdf".into(),
            filename: "x.pdf".into(),
            exp,
            audited: None,
        }
    }

    #[test]
    fn a_signed_grant_verifies_until_it_expires() {
        let s = UrlSigner::from_spec(&format!("k1:{}", key())).unwrap();
        let t = s.sign(&grant(1_000)).unwrap();
        assert_eq!(s.verify(&t, 999).unwrap(), s.verify(&t, 0).unwrap());
        assert_eq!(s.verify(&t, 1_000), Err(Refused::Expired));
    }

    #[test]
    fn an_edited_grant_or_signature_is_refused() {
        let s = UrlSigner::from_spec(&format!("k1:{}", key())).unwrap();
        let t = s.sign(&grant(1_000)).unwrap();
        let (payload, rest) = t.split_once('.').unwrap();
        let mut other = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let at = other.iter().position(|b| *b == b'x').unwrap();
        other[at] = b'y';
        let edited = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(other));
        assert_eq!(s.verify(&edited, 0), Err(Refused::BadSignature));
        // Another last character (one in 64 signatures already ends in `A`).
        let last = if t.ends_with('A') { 'B' } else { 'A' };
        let flipped = format!("{}{last}", &t[..t.len() - 1]);
        assert!(s.verify(&flipped, 0).is_err());
        assert_eq!(s.verify("nonsense", 0), Err(Refused::Malformed));
    }

    #[test]
    fn rotation_keeps_issued_urls_valid_and_dropping_a_key_revokes_them() {
        let (old, new) = (key(), key());
        let before = UrlSigner::from_spec(&format!("k1:{old}")).unwrap();
        let t = before.sign(&grant(1_000)).unwrap();
        let rotated = UrlSigner::from_spec(&format!("k2:{new},k1:{old}")).unwrap();
        assert!(rotated.verify(&t, 0).is_ok());
        assert!(rotated.sign(&grant(1_000)).unwrap().contains(".k2."));
        let dropped = UrlSigner::from_spec(&format!("k2:{new}")).unwrap();
        assert_eq!(dropped.verify(&t, 0), Err(Refused::UnknownKey));
    }
}
