//! The subgraph kit. A subgraph describes itself once — an implementation of
//! [`SubgraphApp`] — and the platform does everything else: settings, pool,
//! Redis, the JWT verifier, metrics, the HTTP app with `/graphql` `/health`
//! `/ready` `/metrics`, graceful shutdown, migrations, seeding and the golden
//! SDL. [`describe`] turns the description into a plain [`Subgraph`] value that
//! the registry lists and that `hub`, the e2e kit and the test kit read.

use std::{any::Any, sync::Arc};

use async_graphql::{EmptySubscription, ObjectType, Schema};
use axum::Router;
use figment::Figment;
use futures::future::{BoxFuture, LocalBoxFuture};
use jsonwebtoken::jwk::JwkSet;
use serde::{de::DeserializeOwned, Deserialize};
use sqlx::{migrate::Migrator, ConnectOptions, PgConnection};

use crate::{
    data::reads::LoaderCtx,
    foundation::config::{Environment, ServiceDefaults, Settings},
    infra::kv::Kv,
    infra::metrics::Metrics,
    security::jwt::JwtVerifier,
    service::server::{self, Service},
};

pub use crate::data::runtime::{runtime, state, KeySettings, Runtime};

/// What a subgraph is: the only thing its author writes besides the domain.
pub trait SubgraphApp: Send + Sync + Sized + 'static {
    /// Service name: settings prefix (`HUB_<NAME>_…`), logs, metrics, registry key.
    const NAME: &'static str;
    /// Default port of its HTTP server.
    const PORT: u16;
    /// Its PostgreSQL schema.
    const SCHEMA: &'static str;
    /// PostgreSQL extensions its migrations need, created by the admin first.
    const EXTENSIONS: &'static [&'static str] = &[];
    /// Extra routes anyone may call without the router secret (by design);
    /// an entry ending in `/*` opens every path under it.
    const PUBLIC_PATHS: &'static [&'static str] = &[];

    type Query: ObjectType + Default + 'static;
    type Mutation: ObjectType + Default + 'static;
    /// Its own settings section (`[<name>]`, `HUB_<NAME>__…`); defaults when absent.
    type Settings: DeserializeOwned + Default + Send + Sync + 'static;
    /// What its resolvers share, placed once in the schema data.
    type State: Send + Sync + 'static;

    /// Its data's retention rules (the platform's own tables have theirs):
    /// applied by `hub retention run` and on schedule.
    const RETENTION: &'static [crate::compliance::retention::Rule] = &[];

    /// Its migrations (`sqlx::migrate!("../../migrations/<name>")`).
    fn migrator() -> &'static Migrator;

    fn state(rt: &Runtime, settings: Self::Settings) -> anyhow::Result<Self::State>;

    /// Adds this request's DataLoaders, scoped to the caller.
    fn loaders(req: async_graphql::Request, _ctx: LoaderCtx) -> async_graphql::Request {
        req
    }

    /// HTTP routes besides the platform's. They require the router secret
    /// unless listed in [`PUBLIC_PATHS`](Self::PUBLIC_PATHS).
    fn routes(_state: Arc<Self::State>) -> Router {
        Router::new()
    }

    /// Keys this service verifies tokens with itself (the issuer); every
    /// other service fetches the JWKS named in the settings.
    fn own_jwks(_state: &Self::State) -> Option<JwkSet> {
        None
    }

    /// The events it reacts to: one consumer loop each, run by the kit when
    /// Redis is configured (`HUB_REDIS__EVENTS_CONSUMERS`, default true).
    fn subscriptions(_state: &Arc<Self::State>) -> Vec<crate::messaging::events::Subscription> {
        vec![]
    }

    /// Periodic jobs (each a future that runs until the process stops),
    /// spawned when `HUB_SERVER__BACKGROUND_JOBS` is true (the default).
    fn jobs(_state: &Arc<Self::State>) -> Vec<BoxFuture<'static, ()>> {
        vec![]
    }

    /// What this subgraph holds of a user besides their audit entries, for
    /// their data export (`GET /rgpd/subject`): JSON, read in the caller's
    /// tenant transaction. Nothing by default.
    fn personal_data(
        _conn: &mut PgConnection,
        _user: uuid::Uuid,
    ) -> BoxFuture<'_, crate::foundation::error::AppResult<serde_json::Value>> {
        Box::pin(async { Ok(serde_json::Value::Null) })
    }

    /// Development demo data, written as the database admin. Idempotent.
    fn seed<'a>(_conn: &'a mut PgConnection, _rt: &'a Runtime) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The settings of a subgraph that has none of its own.
#[derive(Debug, Default, Deserialize)]
pub struct NoSettings {}

/// Test-only ways to build an app: extra keys to trust (the test kit mints
/// tokens with its own key).
#[derive(Default, Clone)]
pub struct Options {
    pub trust: Option<JwkSet>,
}

/// A built subgraph: its HTTP app, the runtime and the subgraph's own state.
pub struct App {
    pub router: Router,
    pub runtime: Arc<Runtime>,
    pub state: Arc<dyn Any + Send + Sync>,
}

pub fn defaults<A: SubgraphApp>() -> ServiceDefaults<'static> {
    ServiceDefaults {
        service: A::NAME,
        port: A::PORT,
        schema: A::SCHEMA,
    }
}

/// The federation SDL of a subgraph, as committed in `schema.graphql`.
pub fn sdl<A: SubgraphApp>() -> String {
    server::federation_sdl(A::Query::default(), A::Mutation::default())
}

/// Builds the whole HTTP app of a subgraph from a layered configuration.
pub async fn app<A: SubgraphApp>(figment: Figment, opts: Options) -> anyhow::Result<App> {
    let rt = Arc::new(Runtime::new(A::NAME, figment)?);
    rt.settings.validate()?;
    let section: A::Settings = rt.section(A::NAME)?;
    let state = Arc::new(A::state(&rt, section)?);
    let auth = &rt.settings.auth;
    let verifier = match (A::own_jwks(&state), opts.trust) {
        (None, None) => JwtVerifier::with_remote_jwks(
            &auth.issuer,
            &auth.audience,
            auth.leeway_secs,
            &auth.jwks_url,
            rt.kv.clone(),
        ),
        (own, trust) => {
            let keys = own.into_iter().chain(trust).flat_map(|s| s.keys).collect();
            JwtVerifier::with_static_keys(
                &auth.issuer,
                &auth.audience,
                auth.leeway_secs,
                JwkSet { keys },
                rt.kv.clone(),
            )
        }
    };
    verifier
        .revocations()
        .set_staleness(std::time::Duration::from_secs(auth.revocation_staleness_secs));
    if rt.kv.is_configured() {
        // Its own connection: the feed's read blocks.
        let kv = Kv::with_response_timeout(rt.settings.redis.url(), std::time::Duration::from_secs(3))?;
        crate::security::revocation::spawn_feed(kv, &rt.settings.redis.events_prefix, verifier.revocations());
    }
    let schema: Schema<A::Query, A::Mutation, EmptySubscription> =
        server::schema_builder(A::Query::default(), A::Mutation::default(), &rt.settings)
            .data(state.clone())
            .data(rt.clone())
            .finish();
    let redis = &rt.settings.redis;
    let subscriptions = A::subscriptions(&state);
    let metrics = Metrics::new(A::NAME)?;
    metrics.register(Box::new(rt.reads.transactions.clone()))?;
    metrics.register(Box::new(rt.reads.fallbacks.clone()))?;
    let refusal = Arc::new(std::sync::OnceLock::new());
    let shared_keys = rt.shared_keys()?;
    if !shared_keys.is_empty() {
        tokio::spawn(keys_agreed(rt.pool.clone(), shared_keys, refusal.clone()));
    }
    let service = Service {
        refusal,
        executor: schema,
        settings: rt.settings.clone(),
        verifier,
        pool: rt.pool.clone(),
        reads: rt.reads.clone(),
        kv: rt.kv.clone(),
        metrics: metrics.clone(),
        per_request: A::loaders,
        events: server::EventGroups {
            prefix: redis.events_prefix.clone(),
            groups: subscriptions.iter().map(|s| (s.family, s.group)).collect(),
        },
    };
    let routes = A::routes(state.clone()).merge(crate::compliance::rgpd::routes(
        rt.pool.clone(),
        A::NAME,
        A::personal_data,
    ));
    let router = server::app(service, routes, A::PUBLIC_PATHS);
    if rt.kv.is_configured() && redis.events_relay {
        crate::messaging::events::spawn_relay(
            rt.pool.clone(),
            rt.kv.clone(),
            crate::messaging::events::RelaySettings {
                prefix: redis.events_prefix.clone(),
                // Woken by commits: one pool connection stays LISTENing.
                schema: Some(rt.settings.database.schema.clone()),
                retention: std::time::Duration::from_secs(redis.events_retention_hours.max(1) * 3600),
                ..Default::default()
            },
        );
    }
    if rt.settings.server.background_jobs {
        // One sealer at a time per schema gets to seal (advisory lock).
        crate::compliance::audit::spawn_sealer(
            rt.pool.clone(),
            rt.settings.database.schema.clone(),
            rt.settings.audit.seal_every(),
            metrics.clone(),
        );
        // Only a process given the retention job's credentials runs it (a
        // worker in production); serving processes hold no such rights.
        if let Some(url) = rt.settings.retention.database_url() {
            crate::compliance::retention::spawn_schedule(
                url.parse()?,
                rt.settings.database.schema.clone(),
                A::RETENTION,
                rt.settings.retention.clone(),
                metrics.clone(),
            )?;
        }
        for job in A::jobs(&state) {
            tokio::spawn(job);
        }
    }
    if rt.kv.is_configured() && redis.events_consumers {
        let me = format!(
            "{}@{}-{}",
            A::NAME,
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id()
        );
        for sub in subscriptions {
            // Its own connection: a blocking read must not stall requests.
            let kv = Kv::with_response_timeout(redis.url(), std::time::Duration::from_secs(3))?;
            let settings = sub.settings(redis, &me);
            crate::messaging::events::spawn_consumer(
                rt.pool.clone(),
                kv,
                sub,
                settings,
                std::time::Duration::from_secs(1),
                Some(metrics.clone()),
            );
        }
    }
    Ok(App {
        router,
        runtime: rt,
        state,
    })
}

/// A subgraph's `main`: settings from the environment, then serve until stopped.
pub async fn run<A: SubgraphApp>() -> anyhow::Result<()> {
    let figment = Settings::figment(defaults::<A>());
    let environment = figment
        .extract_inner::<Environment>("environment")
        .unwrap_or(Environment::Development);
    let otel = figment
        .extract_inner::<crate::foundation::config::OtelSettings>("otel")
        .unwrap_or_default();
    let telemetry = crate::infra::telemetry::init_with(environment, A::NAME, &otel)?;
    let app = app::<A>(figment, Options::default()).await?;
    let served = server::serve(app.router, &app.runtime.settings).await;
    telemetry.shutdown();
    served
}

/// A subgraph as a plain value: what the registry lists and `hub`, the e2e
/// kit and the test kit read.
#[derive(Clone, Copy)]
pub struct Subgraph {
    pub name: &'static str,
    pub port: u16,
    pub schema: &'static str,
    pub extensions: &'static [&'static str],
    /// Extra routes answering without the router secret.
    pub public_paths: &'static [&'static str],
    pub migrator: fn() -> &'static Migrator,
    pub retention: &'static [crate::compliance::retention::Rule],
    pub sdl: fn() -> String,
    pub app: fn(Figment, Options) -> BoxFuture<'static, anyhow::Result<App>>,
    pub seed: fn(Figment) -> LocalBoxFuture<'static, anyhow::Result<()>>,
}

impl Subgraph {
    pub fn defaults(&self) -> ServiceDefaults<'static> {
        ServiceDefaults {
            service: self.name,
            port: self.port,
            schema: self.schema,
        }
    }

    /// The layered configuration of this subgraph (defaults, file, environment).
    pub fn figment(&self) -> Figment {
        Settings::figment(self.defaults())
    }

    /// Its settings from the environment.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Settings::extract(&self.figment())
    }

    /// Provisions its schema (roles, tenancy functions, audit log) and runs its migrations.
    pub async fn migrate(&self, figment: Figment) -> anyhow::Result<()> {
        let settings = Settings::extract(&figment)?;
        crate::data::migrate::provision_and_migrate(&settings.database, (self.migrator)(), self.extensions).await
    }
}

pub const fn describe<A: SubgraphApp>() -> Subgraph {
    Subgraph {
        name: A::NAME,
        port: A::PORT,
        schema: A::SCHEMA,
        extensions: A::EXTENSIONS,
        public_paths: A::PUBLIC_PATHS,
        migrator: A::migrator,
        retention: A::RETENTION,
        sdl: sdl::<A>,
        app: boxed_app::<A>,
        seed: boxed_seed::<A>,
    }
}

fn boxed_app<A: SubgraphApp>(figment: Figment, opts: Options) -> BoxFuture<'static, anyhow::Result<App>> {
    Box::pin(app::<A>(figment, opts))
}

fn boxed_seed<A: SubgraphApp>(figment: Figment) -> LocalBoxFuture<'static, anyhow::Result<()>> {
    Box::pin(async move {
        let rt = Runtime::new(A::NAME, figment)?;
        anyhow::ensure!(
            rt.settings.environment != Environment::Production,
            "refusing to seed demo data into a production environment"
        );
        let mut conn = rt.settings.database.admin_options()?.connect().await?;
        A::seed(&mut conn, &rt).await
    })
}

/// Checks, once the database answers, that this instance was given the
/// same keys as the other instances of its service; if not, it never
/// becomes ready (a rollout with a wrong Secret stops at its first pod) and
/// the log says which setting and key differ.
async fn keys_agreed(
    pool: sqlx::PgPool,
    keys: Vec<(String, String, String)>,
    refusal: Arc<std::sync::OnceLock<String>>,
) {
    loop {
        match crate::data::runtime::agree_on_keys(&pool, &keys).await {
            Ok(Ok(())) => return,
            Ok(Err(why)) => {
                tracing::error!(reason = %why, "keys differ from the other instances': not becoming ready");
                let _ = refusal.set(why);
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "key agreement: database not reachable yet");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}

/// The allocator subgraph binaries use ([`subgraph_main!`]).
pub use tikv_jemallocator::Jemalloc;

/// A subgraph binary's whole `main.rs`: `platform::subgraph_main!(medical::Medical);`.
/// It runs the kit with jemalloc as the global allocator: bench/ profiles
/// showed glibc's malloc and free at about a fifth of a subgraph's CPU. (The
/// allocator is declared here, per binary, not in the library: the router
/// links this library and brings its own.)
#[macro_export]
macro_rules! subgraph_main {
    ($app:ty) => {
        #[global_allocator]
        static ALLOCATOR: $crate::service::kit::Jemalloc = $crate::service::kit::Jemalloc;

        #[tokio::main]
        async fn main() -> anyhow::Result<()> {
            $crate::service::kit::run::<$app>().await
        }
    };
}
