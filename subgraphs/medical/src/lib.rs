//! Hub's medical subgraph: patients (with encrypted contact and insurance),
//! allergies, appointments without double booking, procedures, clinical notes
//! that are immutable once signed, and invoices. Adds `schedule` to identity's
//! `User`.

pub mod access;
pub mod appointment;
pub mod invoice;
pub mod lifecycle;
pub mod note;
pub mod patient;
pub mod procedure;
pub mod settings;
pub mod state;
pub mod user;

use std::sync::Arc;

use async_graphql::{
    dataloader::{DataLoader, HashMapCache, Loader},
    EmptySubscription, MergedObject, Schema,
};
use axum::Router;
use platform::{
    config::{ServiceDefaults, Settings},
    crypto::FieldCipher,
    db::{LoaderCtx, Scope},
    jwt::JwtVerifier,
    kv::Kv,
    metrics::Metrics,
    server::{self, Service},
};
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use settings::MedicalSettings;
use state::State;

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/medical");

/// PostgreSQL extensions the migrations need (the exclusion constraint).
pub const EXTENSIONS: &[&str] = &["btree_gist"];

pub const DEFAULTS: ServiceDefaults<'static> = ServiceDefaults {
    service: "medical",
    port: 4003,
    schema: "medical",
};

#[derive(MergedObject, Default)]
pub struct Query(
    patient::PatientQuery,
    appointment::AppointmentQuery,
    invoice::InvoiceQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    patient::PatientMutation,
    appointment::AppointmentMutation,
    procedure::ProcedureMutation,
    note::NoteMutation,
    invoice::InvoiceMutation,
);

pub type MedicalSchema = Schema<Query, Mutation, EmptySubscription>;

/// The federation SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    server::federation_sdl(Query::default(), Mutation::default())
}

pub fn load_medical_settings() -> anyhow::Result<MedicalSettings> {
    Settings::section(DEFAULTS, "medical")
}

/// The field cipher from settings (or a generated development key).
pub fn cipher(settings: &Settings, medical: &MedicalSettings) -> anyhow::Result<FieldCipher> {
    FieldCipher::load(
        medical.encryption_keys.as_ref().map(|s| s.expose_secret()),
        &medical.keys_dir,
        "medical",
        settings.environment.is_development(),
    )
}

/// A per-request loader with a per-request cache: prefetched rows are reused
/// by the fields below, and nothing outlives the request or crosses tenants.
pub type Loaded<T> = DataLoader<T, HashMapCache>;

fn loader<T: Loader<K>, K>(l: T) -> Loaded<T>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    DataLoader::with_cache(l, tokio::spawn, HashMapCache::default())
}

/// Adds this request's DataLoaders, scoped to the caller (or to no tenant).
fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
    use appointment::loader::*;
    use invoice::loader::*;
    use note::loader::*;
    use patient::loader::*;
    req.data(loader(PatientLoader(ctx.clone())))
        .data(loader(AllergiesLoader(ctx.clone())))
        .data(loader(NotesByPatientLoader(ctx.clone())))
        .data(loader(ProceduresByPatientLoader(ctx.clone())))
        .data(loader(AppointmentLoader(ctx.clone())))
        .data(loader(ScheduleLoader(ctx.clone())))
        .data(loader(NoteLoader(ctx.clone())))
        .data(loader(InvoiceLinesLoader(ctx.clone())))
        .data(loader(InvoicesByPatientLoader(ctx.clone())))
        .data(loader(InvoiceLoader(ctx)))
}

/// The whole HTTP app, and the state behind it (tests use the latter).
pub async fn build(settings: Settings, cipher: FieldCipher) -> anyhow::Result<(Router, Arc<State>)> {
    settings.validate()?;
    let settings = Arc::new(settings);
    let pool = platform::db::connect(&settings.database)?;
    let kv = Kv::new(settings.redis.url())?;
    let auth = &settings.auth;
    let verifier = JwtVerifier::with_remote_jwks(
        &auth.issuer,
        &auth.audience,
        auth.leeway_secs,
        &auth.jwks_url,
        kv.clone(),
    );
    build_with_verifier(settings, cipher, pool, kv, verifier)
}

pub fn build_with_verifier(
    settings: Arc<Settings>,
    cipher: FieldCipher,
    pool: sqlx::PgPool,
    kv: Kv,
    verifier: Arc<JwtVerifier>,
) -> anyhow::Result<(Router, Arc<State>)> {
    let state = Arc::new(State {
        pool: pool.clone(),
        cipher,
        settings: settings.clone(),
    });
    let schema: MedicalSchema = server::schema_builder(Query::default(), Mutation::default(), &settings)
        .data(state.clone())
        .finish();
    let loader_pool = pool.clone();
    let per_request: server::RequestHook = Arc::new(move |req, caller| {
        let scope = caller.map(Scope::from).unwrap_or(Scope {
            organization_id: Uuid::nil(),
            user_id: None,
            roles: vec![],
        });
        loaders(
            req,
            LoaderCtx {
                pool: loader_pool.clone(),
                scope,
            },
        )
    });
    let service = Service {
        executor: schema,
        settings: settings.clone(),
        verifier,
        pool,
        kv,
        metrics: Metrics::new("medical")?,
        per_request,
    };
    Ok((server::app(service, Router::new()), state))
}
