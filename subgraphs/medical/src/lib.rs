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

use async_graphql::{EmptySubscription, MergedObject, Schema};
use axum::Router;
use platform::{
    config::{ServiceDefaults, Settings},
    crypto::FieldCipher,
    db::{cached, LoaderCtx},
    jwt::JwtVerifier,
    kv::Kv,
    metrics::Metrics,
    server::{self, Service},
};
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;

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

pub use platform::db::Loaded;

/// Adds this request's DataLoaders, scoped to the caller (or to no tenant).
fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
    use appointment::loader::*;
    use invoice::loader::*;
    use note::loader::*;
    use patient::loader::*;
    req.data(cached(PatientLoader(ctx.clone())))
        .data(cached(AllergiesLoader(ctx.clone())))
        .data(cached(NotesByPatientLoader(ctx.clone())))
        .data(cached(ProceduresByPatientLoader(ctx.clone())))
        .data(cached(AppointmentLoader(ctx.clone())))
        .data(cached(ScheduleLoader(ctx.clone())))
        .data(cached(NoteLoader(ctx.clone())))
        .data(cached(InvoiceLinesLoader(ctx.clone())))
        .data(cached(InvoicesByPatientLoader(ctx.clone())))
        .data(cached(InvoiceLoader(ctx)))
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
    let service = Service {
        executor: schema,
        settings: settings.clone(),
        verifier,
        pool,
        kv,
        metrics: Metrics::new("medical")?,
        per_request: loaders,
    };
    Ok((server::app(service, Router::new()), state))
}
