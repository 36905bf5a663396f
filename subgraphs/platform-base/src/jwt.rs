//! Access-token verification against a JWKS. Only asymmetric algorithms are
//! accepted, the key is found by `kid` in the JWKS (never from a URL or key
//! inside the token), and `exp`, `nbf`, `iss`, `aud` are checked with an
//! explicit leeway. Unknown `kid`s trigger one JWKS refresh (rate-limited).
//!
//! Every subgraph fetch carries the caller's token, so one client request is
//! verified by each subgraph it reaches; a signature check costs more than
//! the rest of a small fetch. Tokens that verified are remembered (bounded,
//! by their exact bytes) until they expire; the time claims are checked again
//! on every use, the cache is emptied when the key set changes, and the
//! revocation check is never cached.

use std::{
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{
    jwk::{AlgorithmParameters, Jwk, JwkSet},
    Algorithm, DecodingKey, Validation,
};
use tokio::sync::{Mutex, RwLock};

use crate::{
    auth::{AuthContext, Claims},
    kv::{Kv, KvError},
};

/// Algorithms a Hub token may be signed with. HMAC is never accepted: it would
/// let anyone holding the public key forge tokens.
pub const ALLOWED_ALGORITHMS: [Algorithm; 2] = [Algorithm::EdDSA, Algorithm::RS256];

const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Verified tokens kept per process: a few thousand concurrent sessions.
const VERIFIED_CAPACITY: u64 = 8192;
/// No verified token is trusted from memory longer than this, whatever its `exp`.
const VERIFIED_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("token has no kid")]
    MissingKid,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("key does not match the token's algorithm")]
    KeyMismatch,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("session revoked")]
    Revoked,
}

/// Where the keys come from.
enum Source {
    /// Identity verifies with the keys it signs with.
    Static,
    /// Other services fetch identity's published JWKS.
    Remote { url: String, http: reqwest::Client },
}

pub struct JwtVerifier {
    issuer: String,
    audience: String,
    leeway: u64,
    source: Source,
    keys: RwLock<JwkSet>,
    last_refresh: Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
    kv: Kv,
    verified: moka::sync::Cache<String, Arc<Claims>>,
    revocations: Arc<crate::revocation::Revocations>,
}

impl JwtVerifier {
    pub fn with_static_keys(issuer: &str, audience: &str, leeway: u64, keys: JwkSet, kv: Kv) -> Arc<Self> {
        Arc::new(Self::new(issuer, audience, leeway, Source::Static, keys, kv))
    }

    pub fn with_remote_jwks(issuer: &str, audience: &str, leeway: u64, url: &str, kv: Kv) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default();
        let source = Source::Remote {
            url: url.to_string(),
            http,
        };
        Arc::new(Self::new(issuer, audience, leeway, source, JwkSet { keys: vec![] }, kv))
    }

    fn new(issuer: &str, audience: &str, leeway: u64, source: Source, keys: JwkSet, kv: Kv) -> Self {
        JwtVerifier {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            leeway,
            source,
            keys: RwLock::new(keys),
            last_refresh: Mutex::new(None),
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            kv,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
            revocations: Arc::default(),
        }
    }

    /// The revocations this process has seen, and how fresh its view is
    /// (see [`crate::revocation`]); the kit feeds it.
    pub fn revocations(&self) -> Arc<crate::revocation::Revocations> {
        self.revocations.clone()
    }

    /// Overrides how often an unknown `kid` may trigger a JWKS fetch.
    pub fn with_min_refresh_interval(mut self: Arc<Self>, interval: Duration) -> Arc<Self> {
        if let Some(v) = Arc::get_mut(&mut self) {
            v.min_refresh_interval = interval;
        }
        self
    }

    /// Verifies signature and claims, then asks Redis whether the session was
    /// revoked. When Redis cannot answer, a session this process knows to be
    /// revoked is still refused, and the token is trusted for writes while
    /// the process's view of revocations is fresh enough; past that it is
    /// accepted but marked `revocation_checked = false`, so writes that
    /// depend on it are refused (see [`crate::revocation`]).
    pub async fn authenticate(&self, token: &str) -> Result<AuthContext, VerifyError> {
        let claims = self.verified(token).await?;
        let mut checked = true;
        if let Some(sid) = claims.sid {
            if self.revocations.is_known_revoked(claims.org, sid) {
                return Err(VerifyError::Revoked);
            }
            match self.kv.is_session_revoked(claims.org, sid).await {
                Ok(true) => {
                    self.revocations.note_revoked(claims.org, sid);
                    return Err(VerifyError::Revoked);
                }
                Ok(false) => self.revocations.contact(),
                // No revocation list by configuration (development): nothing to ask.
                Err(KvError::NotConfigured) => {}
                Err(e) => {
                    checked = self.revocations.is_fresh();
                    if !checked {
                        tracing::warn!(error = %e, "revocation list unavailable and this process's view of it too old");
                    }
                }
            }
        }
        AuthContext::from_claims(&claims, checked).map_err(VerifyError::Invalid)
    }

    /// Signature and claim checks only.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verified(token).await.map(|c| (*c).clone())
    }

    /// [`Self::verify`], answered from memory for a token already verified
    /// while its time claims still hold.
    async fn verified(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        if let Some(claims) = self.verified.get(token) {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            let leeway = self.leeway as i64;
            if claims.exp + leeway > now && claims.nbf - leeway <= now {
                return Ok(claims);
            }
            self.verified.invalidate(token);
            return Err(VerifyError::Invalid("ExpiredSignature".into()));
        }
        let claims = Arc::new(self.check_signature(token).await?);
        self.verified.insert(token.to_string(), claims.clone());
        Ok(claims)
    }

    async fn check_signature(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::MissingKid)?;
        let jwk = match self.find(kid).await {
            Some(jwk) => jwk,
            None => {
                self.refresh().await;
                self.find(kid).await.ok_or(VerifyError::UnknownKey)?
            }
        };
        if !key_fits(&jwk, header.alg) {
            return Err(VerifyError::KeyMismatch);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| VerifyError::KeyMismatch)?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| VerifyError::Invalid(e.to_string()))
    }

    async fn find(&self, kid: &str) -> Option<Jwk> {
        self.keys.read().await.find(kid).cloned()
    }

    /// Re-fetches the JWKS, at most once per [`MIN_REFRESH_INTERVAL`] so a
    /// stream of tokens with random `kid`s cannot hammer identity.
    pub async fn refresh(&self) {
        let Source::Remote { url, http } = &self.source else {
            return;
        };
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh_interval) {
            return;
        }
        *last = Some(Instant::now());
        match fetch_jwks(http, url).await {
            Ok(set) => {
                let mut keys = self.keys.write().await;
                if *keys != set {
                    // A key taken out of the set must stop vouching for tokens at once.
                    self.verified.invalidate_all();
                }
                *keys = set;
            }
            Err(e) => tracing::warn!(error = %e, %url, "JWKS refresh failed"),
        }
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<JwkSet, reqwest::Error> {
    http.get(url).send().await?.error_for_status()?.json().await
}

/// The JWK's type (and declared algorithm, if any) must match the header's `alg`.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm {
        if Algorithm::from_str(&declared.to_string()).ok() != Some(alg) {
            return false;
        }
    }
    matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) | (AlgorithmParameters::RSA(_), Algorithm::RS256)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::Role, keys::KeyRing, kv::Kv};

    fn claims(exp_in: i64) -> Claims {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        Claims {
            iss: "hub".into(),
            aud: "hub-api".into(),
            sub: uuid::Uuid::new_v4().to_string(),
            org: uuid::Uuid::new_v4(),
            roles: vec![Role::Practitioner],
            verticals: vec![],
            sid: None,
            jti: uuid::Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + exp_in,
            amr: vec!["pwd".into()],
            client: None,
            scopes: vec![],
        }
    }

    /// A remembered token is still refused once it expires, and a token
    /// differing by one byte is verified on its own (and fails).
    #[tokio::test]
    async fn remembered_tokens_expire_and_tampering_is_still_caught() {
        let ring = KeyRing::from_pems(&[crate::keys::generate_ed25519_pem().unwrap()]).unwrap();
        let verifier = JwtVerifier::with_static_keys("hub", "hub-api", 0, ring.jwks(), Kv::disabled());
        let token = ring.sign(&claims(2)).unwrap();
        let first = verifier.authenticate(&token).await.unwrap();
        assert_eq!(
            verifier.authenticate(&token).await.unwrap().organization_id,
            first.organization_id
        );

        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(verifier.verify(&tampered).await, Err(VerifyError::Invalid(_))));

        tokio::time::sleep(Duration::from_millis(3100)).await;
        assert!(matches!(
            verifier.authenticate(&token).await,
            Err(VerifyError::Invalid(_))
        ));
    }
}
