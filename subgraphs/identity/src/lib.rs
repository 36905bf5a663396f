//! Hub's identity subgraph: organizations (tenants), users, memberships and
//! roles, sessions and tokens, MFA, partner clients, and the JWKS every other
//! service verifies access tokens with.

pub mod account;
pub mod keys;
pub mod member;
pub mod mfa;
pub mod organization;
pub mod partner;
pub mod password;
pub mod session;
pub mod settings;
pub mod state;
pub mod tokens;
pub mod user;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use axum::{
    http::header,
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use chrono::Duration;
use platform::{
    config::{ServiceDefaults, Settings},
    crypto::FieldCipher,
    db::{cached, LoaderCtx},
    jwt::JwtVerifier,
    kv::Kv,
    metrics::Metrics,
    server::{self, Service},
};
use sqlx::migrate::Migrator;

use keys::KeyRing;
use settings::IdentitySettings;
use state::State;
use tokens::Issuer;

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/identity");

pub const DEFAULTS: ServiceDefaults<'static> = ServiceDefaults {
    service: "identity",
    port: 4001,
    schema: "identity",
};

#[derive(MergedObject, Default)]
pub struct Query(user::UserQuery, organization::OrganizationQuery, member::MemberQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(
    session::SessionMutation,
    member::MemberMutation,
    organization::OrganizationMutation,
    account::AccountMutation,
    mfa::MfaMutation,
    partner::PartnerMutation,
);

pub type IdentitySchema = Schema<Query, Mutation, EmptySubscription>;

/// The federation SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    server::federation_sdl(Query::default(), Mutation::default())
}

/// Identity's settings from the same layered configuration as the platform's.
pub fn load_identity_settings() -> anyhow::Result<IdentitySettings> {
    Settings::section(DEFAULTS, "identity")
}

/// Adds this request's DataLoaders, scoped to the caller.
fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
    req.data(cached(user::loader::UserLoader(ctx.clone())))
        .data(cached(user::loader::RolesLoader(ctx.clone())))
        .data(cached(organization::loader::OrganizationLoader(ctx)))
}

/// The whole HTTP app, and the state behind it (tests use the latter).
pub async fn build(settings: Settings, identity: IdentitySettings) -> anyhow::Result<(Router, Arc<State>)> {
    let development = settings.environment.is_development();
    let keys = KeyRing::load(&identity, development)?;
    let spec = identity
        .encryption_keys
        .as_ref()
        .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string());
    let cipher = FieldCipher::load(spec.as_deref(), &identity.keys_dir, "identity", development)?;
    build_with_keys(settings, identity, keys, cipher).await
}

pub async fn build_with_keys(
    settings: Settings,
    identity: IdentitySettings,
    keys: KeyRing,
    cipher: FieldCipher,
) -> anyhow::Result<(Router, Arc<State>)> {
    settings.validate()?;
    let settings = Arc::new(settings);
    let pool = platform::db::connect(&settings.database)?;
    let kv = Kv::new(settings.redis.url())?;
    let jwks = keys.jwks();
    let auth = &settings.auth;
    let verifier =
        JwtVerifier::with_static_keys(&auth.issuer, &auth.audience, auth.leeway_secs, jwks.clone(), kv.clone());
    let issuer = Issuer {
        keys,
        issuer: auth.issuer.clone(),
        audience: auth.audience.clone(),
        ttl: Duration::seconds(auth.access_token_ttl_secs as i64),
    };
    let state = Arc::new(State {
        pool: pool.clone(),
        kv: kv.clone(),
        issuer,
        settings: settings.clone(),
        identity,
        cipher,
    });
    let schema: IdentitySchema = server::schema_builder(Query::default(), Mutation::default(), &settings)
        .data(state.clone())
        .finish();

    let extra = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(move || {
                let jwks = jwks.clone();
                async move { ([(header::CACHE_CONTROL, "public, max-age=300")], Json(jwks)).into_response() }
            }),
        )
        .route("/oauth/token", post(partner::oauth::token))
        .with_state(state.clone());

    let service = Service {
        executor: schema,
        settings: settings.clone(),
        verifier,
        pool,
        kv,
        metrics: Metrics::new("identity")?,
        per_request: loaders,
    };
    Ok((server::app(service, extra), state))
}
