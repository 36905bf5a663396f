//! Hub's identity subgraph: organizations (tenants), users, memberships and
//! roles, sessions and tokens, MFA, partner clients, and the JWKS every other
//! service verifies access tokens with.

pub mod account;
pub mod communication;
pub mod events;
pub mod member;
pub mod mfa;
pub mod notification;
pub mod organization;
pub mod partner;
pub mod password;
pub mod seed;
pub mod session;
pub mod settings;
pub mod tokens;
pub mod user;

use std::sync::Arc;

use async_graphql::{Context, MergedObject};
use axum::Router;
use futures::future::LocalBoxFuture;
use jsonwebtoken::jwk::JwkSet;
use platform::{
    config::Settings,
    crypto::FieldCipher,
    db::cached,
    kit::{Runtime, SubgraphApp},
    kv::Kv,
    reads::LoaderCtx,
    retention::{Category, Rule},
    AppError,
};
use sqlx::{migrate::Migrator, PgConnection, PgPool};

use settings::IdentitySettings;
use tokens::Issuer;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    organization::OrganizationQuery,
    member::MemberQuery,
    notification::NotificationQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    session::SessionMutation,
    member::MemberMutation,
    organization::OrganizationMutation,
    account::AccountMutation,
    mfa::MfaMutation,
    partner::PartnerMutation,
    user::UserMutation,
    notification::NotificationMutation,
);

/// What identity's resolvers share.
pub struct State {
    pub pool: PgPool,
    pub kv: Kv,
    pub issuer: Issuer,
    pub settings: Arc<Settings>,
    pub identity: IdentitySettings,
    /// Seals TOTP seeds.
    pub cipher: FieldCipher,
    pub token_limits: partner::oauth::TokenLimits,
    /// Sends invitations and password resets.
    pub mail: platform::mail::Mail,
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    platform::kit::state(ctx)
}

pub struct Identity;

impl SubgraphApp for Identity {
    const NAME: &'static str = "identity";
    const PORT: u16 = 4001;
    const SCHEMA: &'static str = "identity";
    const RETENTION: &'static [Rule] = &[
        Rule::delete(
            Category::Sessions,
            "refresh tokens of ended sessions",
            "refresh_tokens",
            "session_id in (select id from sessions where coalesce(revoked_at, expires_at) < $1)",
        ),
        Rule::delete(
            Category::Sessions,
            "ended sessions",
            "sessions",
            "coalesce(revoked_at, expires_at) < $1",
        ),
        Rule::delete(
            Category::Sessions,
            "password resets",
            "password_resets",
            "expires_at < $1",
        ),
        Rule::delete(
            Category::Notifications,
            "notifications",
            "notifications",
            "created_at < $1",
        ),
    ];
    /// Public by design: the keys every service verifies with, and the
    /// partners' client-credentials grant (it authenticates the client itself).
    const PUBLIC_PATHS: &'static [&'static str] = &["/.well-known/jwks.json", "/oauth/token"];
    type Query = Query;
    type Mutation = Mutation;
    type Settings = IdentitySettings;
    type State = State;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/identity");
        &MIGRATOR
    }

    fn state(rt: &Runtime, identity: IdentitySettings) -> anyhow::Result<State> {
        let (pool, kv, settings) = (rt.pool.clone(), rt.kv.clone(), rt.settings.clone());
        let (issuer, cipher) = (Issuer::from_runtime(rt)?, rt.field_cipher()?);
        let hops = settings.server.trusted_proxy_hops;
        let token_limits = partner::oauth::TokenLimits::new(&identity, kv.clone(), hops)?;
        Ok(State {
            pool,
            kv,
            issuer,
            settings,
            identity,
            cipher,
            token_limits,
            mail: platform::mail::Mail::new(&rt.settings.mail, communication::templates()?, rt.pool.clone())?,
        })
    }

    fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
        req.data(cached(user::loader::UserLoader(ctx.clone())))
            .data(cached(user::loader::RolesLoader(ctx.clone())))
            .data(cached(organization::loader::OrganizationLoader(ctx)))
    }

    fn personal_data(
        conn: &mut PgConnection,
        user: uuid::Uuid,
    ) -> futures::future::BoxFuture<'_, platform::AppResult<serde_json::Value>> {
        Box::pin(user::personal_data(conn, user))
    }

    fn subscriptions(state: &Arc<State>) -> Vec<platform::events::Subscription> {
        communication::subscriptions(state)
    }

    fn routes(state: Arc<State>) -> Router {
        tokens::routes(state)
    }

    /// Identity verifies tokens with the keys it signs them with.
    fn own_jwks(state: &State) -> Option<JwkSet> {
        Some(state.issuer.keys.jwks())
    }

    fn seed<'a>(conn: &'a mut PgConnection, _: &'a Runtime) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(seed::seed(conn))
    }
}
