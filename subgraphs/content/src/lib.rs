//! Hub's content subgraph: documents attached to entities other subgraphs
//! own (patients, tenders, contracts, suppliers), their immutable versions,
//! and the bytes in object storage. Bytes never cross the router: a mutation
//! returns a signed upload URL the client `PUT`s to, and a version's
//! `downloadUrl` is a signed URL this service streams from
//! ([`transfer`]). Who reads which document is its classification's rule
//! ([`access`]), stated again by the row policies of `migrations/content`.

pub mod access;
pub mod document;
pub mod erasure;
pub mod export;
pub mod owners;
pub mod seed;
pub mod signing;
pub mod sniff;
pub mod spool;
pub mod storage;
pub mod transfer;

use std::{path::PathBuf, sync::Arc};

use async_graphql::{Context, MergedObject};
use futures::future::LocalBoxFuture;
use platform::{
    config::Settings,
    db::cached,
    kit::{Runtime, SubgraphApp},
    reads::LoaderCtx,
    AppError,
};
use serde::Deserialize;
use sqlx::{migrate::Migrator, PgConnection, PgPool};

pub use platform::db::Loaded;

#[derive(MergedObject, Default)]
pub struct Query(document::DocumentQuery, owners::OwnerQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(document::DocumentMutation, export::ExportMutation);

/// The `[content]` settings section (`HUB_CONTENT__…`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ContentSettings {
    /// Where clients reach this service's `/files/…` URLs (signed URLs point there).
    pub public_url: String,
    /// The object store: `local` (a directory, the default) or `s3`.
    pub store: storage::StoreSettings,
    /// URL signing keys, `id:base64[,id:base64…]`: the first signs, all
    /// verify (rotate by putting a new key first). Generated once into
    /// `keys_dir` in development.
    pub url_keys: Option<String>,
    pub keys_dir: PathBuf,
    /// The largest file a client may announce.
    pub max_upload_bytes: u64,
    /// How long an upload URL stays valid.
    pub upload_url_ttl_secs: u64,
    /// How long a download URL stays valid.
    pub download_url_ttl_secs: u64,
    /// A command that reads a file on stdin and exits 0 when it is clean
    /// (e.g. `clamdscan --no-summary -`); none by default.
    pub scanner: Option<Vec<String>>,
    /// Seconds between cleanup sweeps of expired uploads (0: no sweep).
    pub sweep_interval_secs: u64,
    /// The other subgraphs, by name, as this service reaches them (behind
    /// the router secret, with the caller's token): a patient's export reads
    /// `medical`'s FHIR API, a user's export every one's `/rgpd/subject`.
    pub peers: std::collections::BTreeMap<String, String>,
    /// How long a data export archive is kept before retention may drop it.
    pub export_retention_days: u32,
    /// The largest data export (its files' bytes): a larger one is refused
    /// with BAD_USER_INPUT before anything is stored.
    pub export_max_bytes: u64,
}

impl Default for ContentSettings {
    fn default() -> Self {
        ContentSettings {
            public_url: "http://127.0.0.1:4002".into(),
            store: storage::StoreSettings::default(),
            url_keys: None,
            keys_dir: ".hub/keys".into(),
            max_upload_bytes: 512 * 1024 * 1024,
            upload_url_ttl_secs: 15 * 60,
            download_url_ttl_secs: 5 * 60,
            scanner: None,
            sweep_interval_secs: 300,
            peers: [
                ("identity", "http://127.0.0.1:4001"),
                ("medical", "http://127.0.0.1:4003"),
                ("public", "http://127.0.0.1:4004"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            export_retention_days: 30,
            export_max_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// What the content subgraph's resolvers and transfer routes share.
pub struct State {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub content: ContentSettings,
    pub store: Arc<dyn object_store::ObjectStore>,
    pub signer: signing::UrlSigner,
    /// Calls to other services (the medical FHIR API, for exports).
    pub http: reqwest::Client,
}

pub fn state<'a>(ctx: &Context<'a>) -> Result<&'a State, AppError> {
    platform::kit::state(ctx)
}

pub struct Content;

impl SubgraphApp for Content {
    const NAME: &'static str = "content";
    const PORT: u16 = 4002;
    const SCHEMA: &'static str = "content";
    /// Signed URLs are the credential of a transfer: clients call them
    /// directly, not through the router.
    const PUBLIC_PATHS: &'static [&'static str] = &["/files/*"];
    type Query = Query;
    type Mutation = Mutation;
    type Settings = ContentSettings;
    type State = State;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/content");
        &MIGRATOR
    }

    fn state(rt: &Runtime, content: ContentSettings) -> anyhow::Result<State> {
        let spec = platform::crypto::key_spec(
            content.url_keys.as_deref(),
            &content.keys_dir,
            "content-url.key",
            rt.is_development(),
        )?;
        let content = ContentSettings {
            public_url: content.public_url.trim_end_matches('/').to_string(),
            ..content
        };
        Ok(State {
            pool: rt.pool.clone(),
            settings: rt.settings.clone(),
            store: storage::open(&content.store)?,
            signer: signing::UrlSigner::from_spec(&spec)?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            content,
        })
    }

    /// The documents a user created (titles and dates; their contents are
    /// the records' subjects', exported with those).
    fn personal_data(
        conn: &mut PgConnection,
        user: uuid::Uuid,
    ) -> futures::future::BoxFuture<'_, platform::AppResult<serde_json::Value>> {
        Box::pin(async move {
            let documents = platform::rgpd::json_rows(
                conn,
                "select to_jsonb(x) from (select id, owner_type, owner_id, title, classification, created_at, deleted_at
                                           from documents where created_by = $1 order by created_at) x",
                user,
            )
            .await?;
            Ok(serde_json::json!({ "documentsCreated": documents }))
        })
    }

    fn subscriptions(_state: &Arc<State>) -> Vec<platform::events::Subscription> {
        erasure::subscriptions()
    }

    fn loaders(req: async_graphql::Request, ctx: LoaderCtx) -> async_graphql::Request {
        use document::loader::*;
        req.data(cached(DocumentLoader(ctx.clone())))
            .data(cached(VersionsLoader(ctx.clone())))
            .data(cached(OwnerDocumentsLoader(ctx)))
    }

    fn routes(state: Arc<State>) -> axum::Router {
        transfer::routes(state)
    }

    /// The sweep of broken uploads and the purge of expired files.
    fn jobs(state: &Arc<State>) -> Vec<futures::future::BoxFuture<'static, ()>> {
        if state.content.sweep_interval_secs == 0 {
            return vec![];
        }
        vec![Box::pin(transfer::sweep_forever(state.clone()))]
    }

    fn seed<'a>(conn: &'a mut PgConnection, rt: &'a Runtime) -> LocalBoxFuture<'a, anyhow::Result<()>> {
        Box::pin(seed::seed(conn, rt))
    }
}
