//! Who is calling, from the `Authorization` header: the subgraphs' own JWT
//! verification (platform_base::jwt), so the edge and the subgraphs can never
//! disagree on what a valid token is.

use std::sync::Arc;

use platform_base::{
    auth::{bearer_token, AuthContext, Principal},
    jwt::JwtVerifier,
    kv::Kv,
};

use crate::Rejection;

/// The verified caller, as the other edge policies need it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    pub organization_id: uuid::Uuid,
    /// User id or partner client id.
    pub subject: uuid::Uuid,
    pub partner: bool,
}

impl From<&AuthContext> for Caller {
    fn from(a: &AuthContext) -> Self {
        let (subject, partner) = match a.principal {
            Principal::User(u) => (u, false),
            Principal::Partner(p) => (p, true),
        };
        Caller {
            organization_id: a.organization_id,
            subject,
            partner,
        }
    }
}

pub struct EdgeAuth {
    verifier: Arc<JwtVerifier>,
}

impl EdgeAuth {
    pub fn new(
        issuer: &str,
        audience: &str,
        leeway_secs: u64,
        jwks_url: &str,
        redis_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let kv = Kv::new(redis_url)?;
        Ok(EdgeAuth {
            verifier: JwtVerifier::with_remote_jwks(issuer, audience, leeway_secs, jwks_url, kv),
        })
    }

    pub fn with_verifier(verifier: Arc<JwtVerifier>) -> Self {
        EdgeAuth { verifier }
    }

    /// `Ok(None)` for anonymous callers (subgraphs decide what they may see);
    /// a 401 for anything that is not a valid, unrevoked token.
    pub async fn check(&self, authorization: Option<&str>) -> Result<Option<Caller>, Rejection> {
        let token = bearer_token(authorization).map_err(|_| unauthenticated())?;
        let Some(token) = token else { return Ok(None) };
        match self.verifier.authenticate(token).await {
            Ok(auth) => Ok(Some(Caller::from(&auth))),
            Err(e) => {
                tracing::info!(reason = %e, "access token refused at the edge");
                Err(unauthenticated())
            }
        }
    }
}

fn unauthenticated() -> Rejection {
    Rejection::new(401, "UNAUTHENTICATED", "Invalid or expired access token.")
}
