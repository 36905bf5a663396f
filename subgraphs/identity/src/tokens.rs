//! Opaque secrets (refresh, invite, reset tokens; partner credentials) and
//! access-token issuance. Opaque tokens are `<organization>.<random>`: the
//! organization part lets the service open the right tenant's transaction,
//! the random part is the secret; only its SHA-256 is stored.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use platform::{AppError, Claims, Role, Vertical};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use platform::{keys::KeyRing, kit::Runtime};

pub struct OpaqueToken {
    pub organization_id: Uuid,
    pub value: String,
}

impl OpaqueToken {
    pub fn generate(organization_id: Uuid) -> Self {
        let value = format!("{}.{}", organization_id.simple(), random_secret());
        OpaqueToken { organization_id, value }
    }

    /// Parses the organization out of a presented token; any malformed token
    /// is simply invalid.
    pub fn parse(value: &str) -> Result<Self, AppError> {
        let (org, secret) = value.split_once('.').ok_or(AppError::InvalidToken)?;
        if secret.len() < 32 {
            return Err(AppError::InvalidToken);
        }
        let organization_id = Uuid::try_parse(org).map_err(|_| AppError::InvalidToken)?;
        Ok(OpaqueToken {
            organization_id,
            value: value.to_string(),
        })
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_secret(&self.value)
    }
}

pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// What goes into an access token besides the standard claims.
pub struct Grant {
    pub subject: Uuid,
    pub organization_id: Uuid,
    pub roles: Vec<Role>,
    pub verticals: Vec<Vertical>,
    pub session_id: Option<Uuid>,
    pub amr: Vec<String>,
    pub client: Option<String>,
    pub scopes: Vec<String>,
}

pub struct Issuer {
    pub keys: KeyRing,
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
}

impl Issuer {
    /// Signs with the service's keys (`HUB_IDENTITY__SIGNING_KEY_FILES`), for
    /// the configured issuer and audience.
    pub fn from_runtime(rt: &Runtime) -> anyhow::Result<Self> {
        let auth = &rt.settings.auth;
        Ok(Issuer {
            keys: rt.signing_keys()?,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            ttl: Duration::seconds(auth.access_token_ttl_secs as i64),
        })
    }

    pub fn issue(&self, grant: Grant) -> Result<(String, DateTime<Utc>), AppError> {
        let now = Utc::now();
        let exp = now + self.ttl;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: grant.subject.to_string(),
            org: grant.organization_id,
            roles: grant.roles,
            verticals: grant.verticals,
            sid: grant.session_id,
            jti: Uuid::new_v4(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: exp.timestamp(),
            amr: grant.amr,
            client: grant.client,
            scopes: grant.scopes,
        };
        Ok((self.keys.sign(&claims)?, exp))
    }
}

/// The HTTP side of tokens: the published JWKS (what every service verifies
/// with) and the partners' OAuth2 token endpoint.
pub fn routes(state: std::sync::Arc<crate::State>) -> axum::Router {
    use axum::{http::header, response::IntoResponse, routing, Json};
    let jwks = state.issuer.keys.jwks();
    let cache = [(header::CACHE_CONTROL, "public, max-age=300")];
    axum::Router::new()
        .route(
            "/.well-known/jwks.json",
            routing::get(move || async move { (cache, Json(jwks)).into_response() }),
        )
        .route("/oauth/token", routing::post(crate::partner::oauth::token))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_round_trip_their_organization_and_reject_garbage() {
        let org = Uuid::new_v4();
        let t = OpaqueToken::generate(org);
        let parsed = OpaqueToken::parse(&t.value).unwrap();
        assert_eq!(parsed.organization_id, org);
        assert_eq!(parsed.hash(), t.hash());
        for bad in [
            "",
            "abc",
            "not-a-uuid.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            &format!("{}.short", org.simple()),
        ] {
            assert!(OpaqueToken::parse(bad).is_err(), "{bad}");
        }
    }
}
