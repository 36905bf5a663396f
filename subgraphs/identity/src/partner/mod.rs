//! Partner clients (OAuth2 client credentials): creation by org admins and
//! the token endpoint.

pub mod oauth;

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use platform::{
    guards::{auth, HasRole, RevocationChecked},
    mutation::{mutate, Audit},
    AppError, OnConstraint, Role,
};
use rand::RngCore;
use uuid::Uuid;

use crate::tokens;
use platform::crypto::sha256_hex;

/// A partner integration allowed to call persisted operations.
#[derive(SimpleObject, sqlx::FromRow)]
pub struct PartnerClient {
    #[graphql(skip)]
    pub id: Uuid,
    /// Public identifier, sent as `client_id`.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Scopes granted to its tokens.
    pub scopes: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new client and its secret. The secret is shown here once and never again.
#[derive(SimpleObject)]
pub struct PartnerClientCredentials {
    /// The client.
    pub client: PartnerClient,
    /// Send as `client_secret` to `POST /oauth/token`. Store it now.
    pub client_secret: String,
}

/// `pc_<organization>_<random>`: the organization part selects the tenant.
pub fn new_client_id(org: Uuid) -> String {
    let mut r = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("pc_{}_{}", org.simple(), hex)
}

pub fn org_of_client_id(client_id: &str) -> Option<Uuid> {
    let rest = client_id.strip_prefix("pc_")?;
    let (org, _) = rest.split_once('_')?;
    Uuid::try_parse(org).ok()
}

fn valid_scope(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

#[derive(Default)]
pub struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Creates a partner client for the caller's organization (org admins).
    #[graphql(guard = "HasRole::any([Role::OrgAdmin]).and(RevocationChecked)")]
    async fn create_partner_client(
        &self,
        ctx: &Context<'_>,
        name: String,
        scopes: Vec<String>,
    ) -> Result<PartnerClientCredentials> {
        let caller = auth(ctx)?;
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::bad_input("name", "must be 1 to 200 characters").into());
        }
        if scopes.is_empty() {
            return Err(AppError::bad_input("scopes", "give at least one scope").into());
        }
        if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
            return Err(AppError::bad_input("scopes", format!("`{bad}` is not a scope like `medical:read`")).into());
        }
        let mut scopes = scopes;
        scopes.sort();
        scopes.dedup();
        let client_id = new_client_id(caller.organization_id);
        let secret = tokens::random_secret();
        // The secret is 256 random bits: a fast hash is enough, and keeps the
        // token endpoint cheap.
        let secret_hash = sha256_hex(&secret);
        Ok(mutate(ctx, async |tx| {
            let client = sqlx::query_as!(
                PartnerClient,
                "insert into partner_clients (organization_id, name, client_id, secret_hash, scopes, created_by)
                 values ($1, $2, $3, $4, $5, $6)
                 returning id, client_id, name, scopes, created_at",
                caller.organization_id,
                &name,
                &client_id,
                &secret_hash,
                &scopes,
                caller.user_id()
            )
            .fetch_one(&mut *tx)
            .await
            .on_constraint(&[("partner_clients_org_name_key", || {
                AppError::Conflict("a partner client with this name exists".into())
            })])?;
            let audit = Audit::new("partner_client.create", "PartnerClient", client.id)
                .details(serde_json::json!({ "name": name, "scopes": scopes }));
            let created = PartnerClientCredentials {
                client,
                client_secret: secret,
            };
            Ok((created, audit))
        })
        .await?)
    }
}
