//! Hub's test kit, shared by every subgraph's tests and the registry's:
//! a fresh database per test, dropped afterwards ([`TestDb`]); access tokens
//! for any caller ([`Caller`], minted with a key every spawned app trusts);
//! any registered subgraph spawned on a free port ([`TestApp`]); the
//! golden-SDL and tenancy assertions; and the platform's HTTP surface checks
//! ([`surface`]) that run once for every registered subgraph.

pub mod bench;
mod db;
pub mod mail;
pub mod postgres_server;
pub mod redis_server;
pub mod statements;
pub mod surface;
pub mod tenancy;

use std::{
    any::Any,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

pub use db::{pg_host, TestDb};
use figment::Figment;
use platform::{
    config::Settings,
    keys::KeyRing,
    kit::{describe, Options, Runtime, Subgraph, SubgraphApp},
    Claims, Role, Vertical,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// The test kit's signing key, one per test process, as a PEM file every
/// spawned app trusts (identity also signs with it).
struct MintKey {
    ring: KeyRing,
    file: PathBuf,
}

fn mint_key() -> &'static MintKey {
    static KEY: OnceLock<MintKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem = platform::keys::generate_ed25519_pem().expect("generate a signing key");
        let file = std::env::temp_dir().join(format!("hub-testkit-{}.pem", std::process::id()));
        std::fs::write(&file, &pem).expect("write the test signing key");
        MintKey {
            ring: KeyRing::from_pems(&[pem]).expect("test signing key"),
            file,
        }
    })
}

/// Who a minted token speaks for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: Uuid,
    /// User id, or the partner client's id.
    pub id: Uuid,
    pub roles: Vec<Role>,
    pub verticals: Vec<Vertical>,
    pub partner: bool,
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn user(org: Uuid, user: Uuid, roles: &[Role], verticals: &[Vertical]) -> Self {
        Caller {
            org,
            id: user,
            roles: roles.to_vec(),
            verticals: verticals.to_vec(),
            partner: false,
            scopes: vec![],
        }
    }

    pub fn partner(org: Uuid, client: Uuid, verticals: &[Vertical], scopes: &[&str]) -> Self {
        Caller {
            org,
            id: client,
            roles: vec![],
            verticals: verticals.to_vec(),
            partner: true,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// An access token for `caller`, as identity would issue it (10 minutes).
pub fn mint(settings: &Settings, caller: &Caller) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: settings.auth.issuer.clone(),
        aud: settings.auth.audience.clone(),
        sub: caller.id.to_string(),
        org: caller.org,
        roles: caller.roles.clone(),
        verticals: caller.verticals.clone(),
        sid: (!caller.partner).then(Uuid::new_v4),
        jti: Uuid::new_v4(),
        iat: now,
        nbf: now,
        exp: now + 600,
        amr: vec![if caller.partner { "client_secret" } else { "pwd" }.into()],
        client: caller.partner.then(|| "partner".to_string()),
        scopes: caller.scopes.clone(),
    };
    mint_key().ring.sign(&claims).expect("sign a test token")
}

/// One registered subgraph on a free port, against its own fresh database on
/// the real PostgreSQL (and the real Redis).
pub struct TestApp {
    pub subgraph: &'static Subgraph,
    pub url: String,
    pub http: reqwest::Client,
    /// Superuser connection to the test database (fixtures, assertions).
    pub admin: sqlx::PgPool,
    pub runtime: Arc<Runtime>,
    pub settings: Arc<Settings>,
    state: Arc<dyn Any + Send + Sync>,
    dir: PathBuf,
    /// Shared with replicas: dropped with the last of them.
    db: Arc<TestDb>,
}

impl TestApp {
    pub async fn spawn(subgraph: &'static Subgraph) -> Self {
        Self::spawn_with(subgraph, |f| f).await
    }

    pub async fn spawn_with(subgraph: &'static Subgraph, configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::start(subgraph, configure, true).await
    }

    /// For failure tests: nothing is migrated, and the settings may point nowhere.
    pub async fn spawn_unmigrated(subgraph: &'static Subgraph, configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::start(subgraph, configure, false).await
    }

    /// The subgraph on a database the test made (on a server of its own,
    /// e.g. a primary with a streaming replica), migrated.
    pub async fn spawn_in(subgraph: &'static Subgraph, db: TestDb, configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::start_on(subgraph, Arc::new(db), configure, true).await
    }

    /// Another instance of the same subgraph on the same database, as a
    /// replica in production: `configure` goes over the test configuration,
    /// e.g. to run the background jobs the tests otherwise drive themselves.
    pub async fn replica(&self, configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::start_on(self.subgraph, self.db.clone(), configure, false).await
    }

    async fn start(subgraph: &'static Subgraph, configure: impl FnOnce(Figment) -> Figment, migrate: bool) -> Self {
        Self::start_on(subgraph, Arc::new(TestDb::new().await), configure, migrate).await
    }

    async fn start_on(
        subgraph: &'static Subgraph,
        db: Arc<TestDb>,
        configure: impl FnOnce(Figment) -> Figment,
        migrate: bool,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("hub-test-{}", Uuid::new_v4().simple()));
        let fig = configure(test_figment(subgraph, &db.url, &dir));
        if migrate {
            subgraph.migrate(fig.clone()).await.expect("migrate");
        }
        let app = (subgraph.app)(
            fig,
            Options {
                trust: Some(mint_key().ring.jwks()),
            },
        )
        .await
        .expect("build the subgraph");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = app.router;
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        TestApp {
            subgraph,
            url,
            http: reqwest::Client::new(),
            admin: db.admin.clone(),
            settings: app.runtime.settings.clone(),
            runtime: app.runtime,
            state: app.state,
            dir,
            db,
        }
    }

    /// The test database's administrator URL (what `hub migrate` and the
    /// retention job connect with).
    pub fn admin_url(&self) -> &str {
        &self.db.url
    }

    /// The test database's URL as the service's own login role (no
    /// administrator in it): what a production serving process is given.
    pub fn service_url(&self) -> String {
        let url = &self.db.url;
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        format!("{scheme}://{}@{host}", self.settings.database.role)
    }

    /// The subgraph's own state (its pool, cipher, issuer…).
    pub fn state<S: Send + Sync + 'static>(&self) -> Arc<S> {
        match self.state.clone().downcast::<S>() {
            Ok(state) => state,
            Err(_) => panic!("{} has a state of another type", self.subgraph.name),
        }
    }

    pub fn token(&self, caller: &Caller) -> String {
        mint(&self.settings, caller)
    }

    /// POSTs a GraphQL request and returns the JSON body (any status).
    pub async fn gql(&self, query: &str, vars: Value, token: Option<&str>) -> Value {
        self.gql_response(query, vars, token, &[]).await.1
    }

    pub async fn gql_response(
        &self,
        query: &str,
        vars: Value,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json body"))
    }

    /// `GET <path>` as JSON (`/ready`, `/health`, …).
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.url)).send().await;
        resp.expect("request").json().await.expect("json body")
    }

    /// `GET <path>` as text (`/metrics`, …).
    pub async fn get_text(&self, path: &str) -> String {
        let resp = self.http.get(format!("{}{path}", self.url)).send().await;
        resp.expect("request").text().await.expect("text body")
    }

    /// The `/metrics` page once `hub_<name>` (the sample mentioning `needle`)
    /// reads `want`, or after 10 s the last page read, for the caller's
    /// assertion to show: background jobs run on their own clock.
    pub async fn metrics_when(&self, name: &str, needle: &str, want: f64) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.get_text("/metrics").await;
            if metric(&page, name, needle) == Some(want) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        page
    }

    /// The events of `kind` in this subgraph's outbox, as a consumer would
    /// receive them once relayed (for driving a handler without Redis).
    pub async fn outbox(&self, kind: &str) -> Vec<platform::events::Delivery> {
        let sql = format!(
            "select seq, id, organization_id, entity_id, version, payload, request_id from {}.event_outbox where type = $1 order by seq",
            self.subgraph.schema
        );
        type Row = (i64, Uuid, Uuid, Option<Uuid>, i32, Value, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(kind)
            .fetch_all(&self.admin)
            .await
            .expect("outbox");
        rows.into_iter()
            .map(
                |(seq, id, tenant, entity, version, payload, request_id)| platform::events::Delivery {
                    entry: format!("0-{seq}"),
                    id,
                    seq,
                    kind: kind.to_string(),
                    version,
                    tenant,
                    entity,
                    occurred_at: String::new(),
                    request_id: request_id.unwrap_or_default(),
                    traceparent: String::new(),
                    payload,
                },
            )
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.admin).await.expect("count")
    }
}

/// A [`TestApp`] of a known subgraph, with its typed state. A subgraph's
/// `tests/api/helpers.rs` wraps it to add the domain's fixtures.
pub struct App<A: SubgraphApp> {
    pub kit: TestApp,
    pub state: Arc<A::State>,
}

impl<A: SubgraphApp> App<A> {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        let subgraph: &'static Subgraph = &const { describe::<A>() };
        Self::of(TestApp::spawn_with(subgraph, configure).await)
    }

    /// On a database the test made ([`TestApp::spawn_in`]).
    pub async fn spawn_in(db: TestDb, configure: impl FnOnce(Figment) -> Figment) -> Self {
        let subgraph: &'static Subgraph = &const { describe::<A>() };
        Self::of(TestApp::spawn_in(subgraph, db, configure).await)
    }

    fn of(kit: TestApp) -> Self {
        App {
            state: kit.state(),
            kit,
        }
    }
}

impl<A: SubgraphApp> std::ops::Deref for App<A> {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.kit
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test configuration of a subgraph: its layered settings, then a fresh
/// database, the real Redis, a free port, direct calls without the router
/// secret, and the kit's keys.
pub fn test_figment(subgraph: &Subgraph, db_url: &str, dir: &Path) -> Figment {
    let name = subgraph.name;
    subgraph
        .figment()
        .merge(("environment", "test"))
        // Test configuration: subgraphs called directly, without the router.
        .merge(("auth.require_router_secret", false))
        .merge(("database.url", db_url))
        .merge(("database.max_connections", 5))
        .merge(("redis.url", "redis://127.0.0.1:6379"))
        // Tests read the outbox and drive the relay themselves
        // (`platform::events::relay_once`).
        .merge(("redis.events_relay", false))
        .merge(("redis.events_consumers", false))
        // Tests run periodic jobs themselves, when they test them.
        .merge(("server.background_jobs", false))
        .merge(("redis.events_prefix", "hub-test:events"))
        .merge(("server.port", 0))
        // Mail a test does not point elsewhere lands in its own directory.
        .merge(("mail.dir", dir.join("mail").display().to_string()))
        .merge((format!("{name}.keys_dir"), dir.display().to_string()))
        .merge((
            format!("{name}.signing_key_files"),
            vec![mint_key().file.display().to_string()],
        ))
        .merge((
            format!("{name}.encryption_keys"),
            format!("test1:{}", shared_key(db_url, name, "field")),
        ))
        // Read by subgraphs that sign transfer URLs (content).
        .merge((
            format!("{name}.url_keys"),
            format!("test1:{}", shared_key(db_url, name, "url")),
        ))
}

/// A key generated once per database, service and purpose: every instance of
/// a service on one test database gets the same one, as replicas must.
fn shared_key(db_url: &str, name: &str, purpose: &str) -> String {
    static KEYS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::LazyLock::new(Default::default);
    let mut keys = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    keys.entry(format!("{db_url} {name} {purpose}"))
        .or_insert_with(platform::crypto::generate_key)
        .clone()
}

/// The value of the first `hub_<name>` sample of a `/metrics` page whose
/// line mentions `needle` (a label, or "" for any).
pub fn metric(page: &str, name: &str, needle: &str) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(&format!("hub_{name}")) && l.contains(needle))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Every entry of every event stream under `prefix` (dead letters
/// included), each stream's entries on one line: what a test searches for
/// data that must not be there.
pub async fn event_streams(prefix: &str) -> Vec<(String, String)> {
    let redis = redis::Client::open("redis://127.0.0.1:6379").expect("redis");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut out = vec![];
    for key in keys {
        let entries: redis::Value = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap_or(redis::Value::Nil);
        out.push((key, format!("{entries:?}")));
    }
    out
}

/// `extensions.code` of the first error, if any.
pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The `action`s of the `history` connection at `pointer` in `body`, newest first.
pub fn history_actions(body: &Value, pointer: &str) -> Vec<String> {
    body.pointer(pointer)
        .and_then(|h| h["nodes"].as_array())
        .unwrap_or_else(|| panic!("no history at {pointer}: {body}"))
        .iter()
        .filter_map(|n| n["action"].as_str().map(str::to_string))
        .collect()
}

/// The committed `schema.graphql` of a subgraph equals what its code exports.
pub fn assert_golden_sdl(subgraph: &Subgraph, repo_root: &Path) {
    let path = repo_root.join("subgraphs").join(subgraph.name).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == (subgraph.sdl)(),
        "{} is stale: run `cargo run -p hub -- schema export` and commit it",
        path.display()
    );
}
