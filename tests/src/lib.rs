//! The end-to-end test kit: starts the real binary of every subgraph the
//! registry lists and the real router binary (with the committed router.yaml,
//! its subgraph URLs generated from the registry, and supergraph.graphql) on
//! free ports, against a fresh database that is dropped afterwards, and stops
//! them all when dropped. A subgraph added to the registry joins these tests
//! without a change here.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use registry::SUBGRAPHS;
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::TestDb;
use uuid::Uuid;

pub const PASSWORD: &str = "e2e-password-123";
pub const ROUTER_SECRET: &str = "e2e-router-secret-0123456789";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The directory the workspace binaries are built into (next to the test binary).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target dir")
}

fn binary(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo test --workspace` (it builds every binary) or `cargo build --workspace`",
        p.display()
    );
    p
}

/// A port for a child process to listen on. Not the kernel's `bind(0)`:
/// that port is free again once probed, and with several platforms starting
/// in parallel the kernel hands the same ephemeral port to another test
/// before the child binds it ("address already in use"). Ports come from a
/// counter below Linux's ephemeral range (32768–60999), so no two requests
/// of this process get the same one and no outgoing connection takes it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Another test binary running at the same time starts elsewhere.
    let start = std::process::id() * 97 % SPAN;
    for _ in 0..SPAN {
        let port = (LOW + (start + NEXT.fetch_add(1, Ordering::SeqCst)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN)
}

/// A child process killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `SIGTERM` (what an orchestrator sends before a restart).
    pub fn terminate(&self) {
        signal(self.child.id(), "-TERM");
    }

    /// Waits (up to `limit`) for the process to exit; whether it did.
    pub async fn exited_within(&mut self, limit: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    }

    /// The process id (for a test that signals it from another process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process without killing it (`SIGSTOP`): it holds its
    /// connections and answers nothing, like a hung service.
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// Lets a paused process go on (`SIGCONT`).
    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {which} {pid}");
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(name: &str, exe: &Path, args: &[&str], env: &[(String, String)], dir: &Path) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc {
        name: name.to_string(),
        child: cmd.spawn().expect("spawn"),
        log,
    }
}

async fn wait_ready(proc: &mut Proc, url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("{} exited during start-up ({status}):\n{}", proc.name, proc.log_tail());
        }
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready at {url}:\n{}",
            proc.name,
            proc.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Router settings a test may change, builder style:
/// `RouterOptions::default().ad_hoc(false).client_rate(1, 1)`.
#[derive(Clone)]
pub struct RouterOptions {
    pub allow_ad_hoc: bool,
    /// Introspection served, as in development (`hub up`).
    pub introspection: bool,
    pub client_per_second: u32,
    pub client_burst: u32,
    /// The budget anonymous callers without a known address share.
    pub anonymous_per_second: u32,
    pub anonymous_burst: u32,
    /// Proxies in front of the router that append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    pub redis_url: String,
    /// The persisted query manifests: the platform's own file (`persist`)
    /// unless set, e.g. to the committed `frontend-codegen/manifests`.
    pub manifests: Option<PathBuf>,
    /// `HUB_ROUTER_CORS_ORIGINS`: the origins browsers may call from.
    pub cors_origins: Option<String>,
    /// `HUB_ROUTER_SUBGRAPH_TIMEOUT`: how long one subgraph call may take.
    pub subgraph_timeout: Option<String>,
    /// Where rate budgets are counted: the router's own keys unless set
    /// (routers given the same prefix share budgets, as replicas do).
    pub rate_key_prefix: Option<String>,
    /// Call the second replica of every subgraph ([`Platform::start_replicas`]).
    pub on_replicas: bool,
}

impl Default for RouterOptions {
    fn default() -> Self {
        RouterOptions {
            allow_ad_hoc: true,
            introspection: false,
            client_per_second: 1000,
            client_burst: 1000,
            anonymous_per_second: 1000,
            anonymous_burst: 1000,
            trusted_proxy_hops: 0,
            redis_url: "redis://127.0.0.1:6379".into(),
            manifests: None,
            cors_origins: None,
            subgraph_timeout: None,
            rate_key_prefix: None,
            on_replicas: false,
        }
    }
}

impl RouterOptions {
    /// Counts rate budgets under this prefix (share it to share budgets).
    pub fn rate_key_prefix(mut self, prefix: &str) -> Self {
        self.rate_key_prefix = Some(prefix.to_string());
        self
    }

    /// Routes to the second replica of every subgraph.
    pub fn on_replicas(mut self) -> Self {
        self.on_replicas = true;
        self
    }

    /// Whether first-party clients may send operations outside the manifest.
    pub fn ad_hoc(mut self, allow: bool) -> Self {
        self.allow_ad_hoc = allow;
        self
    }

    /// Whether the router answers introspection (development) or not (production).
    pub fn introspection(mut self, on: bool) -> Self {
        self.introspection = on;
        self
    }

    /// The per-client rate limit.
    pub fn client_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.client_per_second = per_second;
        self.client_burst = burst;
        self
    }

    /// The shared anonymous budget.
    pub fn anonymous_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.anonymous_per_second = per_second;
        self.anonymous_burst = burst;
        self
    }

    /// How many reverse proxies in front of the router append to `X-Forwarded-For`.
    pub fn trusted_proxy_hops(mut self, hops: usize) -> Self {
        self.trusted_proxy_hops = hops;
        self
    }

    /// Loads these persisted query manifests (a file or a directory of them).
    pub fn manifests(mut self, path: PathBuf) -> Self {
        self.manifests = Some(path);
        self
    }

    /// Lets browsers call from origins matching this regular expression.
    pub fn cors_origins(mut self, pattern: &str) -> Self {
        self.cors_origins = Some(pattern.to_string());
        self
    }

    /// How long the router waits for one subgraph call (`"2s"`).
    pub fn subgraph_timeout(mut self, timeout: &str) -> Self {
        self.subgraph_timeout = Some(timeout.to_string());
        self
    }

    /// Where the router's rate limiter and revocation checks find Redis.
    pub fn redis(mut self, url: &str) -> Self {
        self.redis_url = url.to_string();
        self
    }
}

pub struct Router {
    pub url: String,
    /// The router's own health endpoint.
    pub health: String,
    pub proc: Proc,
}

/// Demo tenants created for every platform.
#[derive(Clone)]
pub struct Tenants {
    pub org_a: Uuid,
    pub doctor_a: Uuid,
    /// A practitioner of clinic-b.
    pub doctor_b: Uuid,
    /// Clinic-a's org admin is `admin@a.example`; its nurse, `nurse@a.example`.
    pub nurse_a: Uuid,
    pub partner_client_id: String,
    pub partner_secret: String,
}

/// One running subgraph binary.
pub struct Subgraph {
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub proc: Proc,
    /// How it was started, to start it again (`Platform::restart`).
    env: Vec<(String, String)>,
}

pub struct Platform {
    pub dir: PathBuf,
    /// Where this platform's relays write: `<events_prefix>:<family>`.
    pub events_prefix: String,
    pub admin: PgPool,
    pub subgraphs: Vec<Subgraph>,
    /// Second instances of every subgraph, once [`Platform::start_replicas`] ran.
    pub replicas: Vec<Subgraph>,
    pub manifest: PathBuf,
    pub tenants: Tenants,
    pub http: reqwest::Client,
    subgraph_env: Vec<(String, String)>,
    db: TestDb,
}

/// The subgraph that issues tokens and publishes the JWKS.
const ISSUER: &str = "identity";

impl Platform {
    /// Fresh database, every registered subgraph migrated and running, the
    /// e2e fixtures seeded.
    pub async fn start() -> Platform {
        Self::start_with(&[]).await
    }

    /// As [`Platform::start`], with extra settings for every subgraph
    /// (e.g. `HUB_MAIL__APP_URL`).
    pub async fn start_with(extra: &[(&str, String)]) -> Platform {
        Self::start_on(&testkit::pg_host(), extra).await
    }

    /// As [`Platform::start_with`], on this PostgreSQL server
    /// (`postgres://user@host:port`), e.g. a test's own cluster to crash.
    pub async fn start_on(pg_server: &str, extra: &[(&str, String)]) -> Platform {
        let dir = Self::workdir();
        let db = TestDb::on(pg_server).await;
        // Migrations as `hub migrate` runs them.
        for sg in SUBGRAPHS {
            sg.migrate(sg.figment().merge(("database.url", db.url.clone())))
                .await
                .unwrap_or_else(|e| panic!("{} migrations: {e}", sg.name));
        }
        let tenants = seed(&db.admin).await;
        Self::start_in(dir, db, tenants, extra).await
    }

    /// A new platform directory (logs, keys, mail, the content store under
    /// `.hub/content`), for [`Platform::start_in`].
    pub fn workdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hub-e2e-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// Every subgraph on a database the test prepared itself (migrated and
    /// holding `tenants`, e.g. restored from a backup), with `dir` (from
    /// [`Platform::workdir`]) as its directory: its keys in `dir/keys`, its
    /// content store in `dir/.hub/content`.
    pub async fn start_in(dir: PathBuf, db: TestDb, tenants: Tenants, extra: &[(&str, String)]) -> Platform {
        let id = Uuid::new_v4().simple().to_string();
        let ports: Vec<u16> = SUBGRAPHS.iter().map(|_| free_port()).collect();
        let issuer_port = SUBGRAPHS
            .iter()
            .zip(&ports)
            .find(|(sg, _)| sg.name == ISSUER)
            .map(|(_, p)| *p)
            .expect("the registry lists identity");
        let issuer = format!("http://127.0.0.1:{issuer_port}");
        // Content reads the other subgraphs for data exports.
        let peers = SUBGRAPHS.iter().zip(&ports).map(|(sg, port)| {
            (
                format!("HUB_CONTENT__PEERS__{}", sg.name.to_uppercase()),
                format!("http://127.0.0.1:{port}"),
            )
        });
        let common: Vec<(String, String)> = peers
            .chain([
                ("HUB_ENVIRONMENT".into(), "test".into()),
                ("HUB_DATABASE__URL".into(), db.url.clone()),
                ("HUB_REDIS__URL".into(), "redis://127.0.0.1:6379".into()),
                // This platform's own event streams in the shared Redis.
                ("HUB_REDIS__EVENTS_PREFIX".into(), format!("hub-e2e-{id}:events")),
                ("HUB_AUTH__ISSUER".into(), issuer.clone()),
                ("HUB_AUTH__JWKS_URL".into(), format!("{issuer}/.well-known/jwks.json")),
                ("HUB_AUTH__ROUTER_SECRET".into(), ROUTER_SECRET.into()),
                ("HUB_AUTH__REQUIRE_ROUTER_SECRET".into(), "true".into()),
                // Development mail (.eml files) in this platform's directory.
                ("HUB_MAIL__DIR".into(), dir.join(".hub/mail").display().to_string()),
            ])
            .collect();
        let common: Vec<(String, String)> = common
            .into_iter()
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .collect();

        let keys = dir.join("keys");
        let mut subgraphs = vec![];
        for (sg, port) in SUBGRAPHS.iter().zip(&ports) {
            let mut env = common.clone();
            env.push(("HUB_SERVER__PORT".into(), port.to_string()));
            // Development keys (signing, field encryption) generated per run.
            env.push((
                format!("HUB_{}__KEYS_DIR", sg.name.to_uppercase()),
                keys.display().to_string(),
            ));
            // The content store, in the run's directory (seeded by `seed_demo`).
            env.push((
                "HUB_CONTENT__STORE__DIR".into(),
                dir.join(".hub/content").display().to_string(),
            ));
            // Where clients reach it directly (OCDS links, signed file URLs).
            env.push((
                format!("HUB_{}__PUBLIC_URL", sg.name.to_uppercase()),
                format!("http://127.0.0.1:{port}"),
            ));
            let proc = spawn(sg.name, &binary(sg.name), &[], &env, &dir);
            subgraphs.push(Subgraph {
                name: sg.name,
                url: format!("http://127.0.0.1:{port}"),
                proc,
                env,
            });
        }
        for s in &mut subgraphs {
            let ready = format!("{}/ready", s.url);
            wait_ready(&mut s.proc, &ready).await;
        }
        // Identity relays the snapshot, medical's consumer projects it.
        wait_for(&db.admin, "select count(*) from medical.practitioners where active", 5).await;

        let manifest = dir.join("manifest.json");
        write_manifest(&manifest, &[]);
        Platform {
            events_prefix: format!("hub-e2e-{id}:events"),
            dir,
            admin: db.admin.clone(),
            subgraphs,
            replicas: vec![],
            manifest,
            tenants,
            http: reqwest::Client::new(),
            subgraph_env: common,
            db,
        }
    }

    /// A second instance of every subgraph, on the same database, Redis,
    /// keys and file store, each on its own port: replicas of a Deployment.
    /// Returns once all are ready.
    pub async fn start_replicas(&mut self) {
        for s in &self.subgraphs {
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}");
            let public = format!("HUB_{}__PUBLIC_URL", s.name.to_uppercase());
            let env: Vec<(String, String)> = s
                .env
                .iter()
                .map(|(k, v)| match k.as_str() {
                    "HUB_SERVER__PORT" => (k.clone(), port.to_string()),
                    k2 if k2 == public => (k.clone(), url.clone()),
                    _ => (k.clone(), v.clone()),
                })
                .collect();
            let proc = spawn(&format!("{}-replica", s.name), &binary(s.name), &[], &env, &self.dir);
            self.replicas.push(Subgraph {
                name: s.name,
                url,
                proc,
                env,
            });
        }
        for r in &mut self.replicas {
            let ready = format!("{}/ready", r.url);
            wait_ready(&mut r.proc, &ready).await;
        }
    }

    /// The base URL of a subgraph's second instance ([`Platform::start_replicas`]).
    pub fn replica_url(&self, name: &str) -> &str {
        &self
            .replicas
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no replica of {name}: call start_replicas first"))
            .url
    }

    /// The base URL of a running subgraph (`http://127.0.0.1:<port>`).
    pub fn url(&self, name: &str) -> &str {
        &self.subgraph(name).url
    }

    /// Kills a subgraph (`SIGKILL`: a crash, nothing finishes), leaves it
    /// down for `down`, and starts it again on the same port with the same
    /// settings; returns once it is ready.
    pub async fn restart(&mut self, name: &str, down: Duration) {
        let dir = self.dir.clone();
        let s = self.subgraph_mut(name);
        s.proc.kill();
        tokio::time::sleep(down).await;
        let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        s.proc = spawn(&format!("{name}-{n}"), &binary(name), &[], &s.env, &dir);
        let ready = format!("{}/ready", s.url);
        wait_ready(&mut s.proc, &ready).await;
    }

    pub fn subgraph_mut(&mut self, name: &str) -> &mut Subgraph {
        self.subgraphs
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no subgraph {name} in the registry"))
    }

    pub fn subgraph(&self, name: &str) -> &Subgraph {
        self.subgraphs
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no subgraph {name} in the registry"))
    }

    /// Stops one subgraph (outage tests).
    pub fn kill(&mut self, name: &str) {
        if let Some(s) = self.subgraphs.iter_mut().find(|s| s.name == name) {
            s.proc.kill();
        }
    }

    /// Starts the real router binary with router/router.yaml (subgraph URLs
    /// from the registry) and supergraph.graphql.
    pub async fn router(&self, opts: RouterOptions) -> Router {
        let (port, health, metrics) = (free_port(), free_port(), free_port());
        let config = self.dir.join(format!("router-{port}.yaml"));
        let base = |name: &str| {
            if opts.on_replicas {
                self.replica_url(name).to_string()
            } else {
                self.url(name).to_string()
            }
        };
        let yaml =
            registry::router_config(&repo_root(), |sg| format!("{}/graphql", base(sg.name))).expect("router config");
        std::fs::write(&config, yaml).expect("router config file");
        let mut env = self.subgraph_env.clone();
        env.retain(|(k, _)| k != "HUB_REDIS__URL");
        // Traces exported by the subgraphs are exported by the router too.
        if env.iter().any(|(k, v)| k == "HUB_OTEL__ENDPOINT" && !v.is_empty()) {
            env.push(("HUB_ROUTER_OTLP_ENABLED".into(), "true".into()));
        }
        env.extend([
            ("HUB_REDIS__URL".to_string(), opts.redis_url.clone()),
            ("HUB_ROUTER_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("HUB_ROUTER_HEALTH_LISTEN".into(), format!("127.0.0.1:{health}")),
            ("HUB_ROUTER_METRICS_LISTEN".into(), format!("127.0.0.1:{metrics}")),
            (
                "HUB_ROUTER_PQ_MANIFEST".into(),
                opts.manifests.as_ref().unwrap_or(&self.manifest).display().to_string(),
            ),
            ("HUB_ROUTER_ALLOW_AD_HOC".into(), opts.allow_ad_hoc.to_string()),
            ("HUB_ROUTER_INTROSPECTION".into(), opts.introspection.to_string()),
            (
                "HUB_ROUTER_RATE_CLIENT_PER_SECOND".into(),
                opts.client_per_second.to_string(),
            ),
            ("HUB_ROUTER_RATE_CLIENT_BURST".into(), opts.client_burst.to_string()),
            (
                "HUB_ROUTER_RATE_ANONYMOUS_PER_SECOND".into(),
                opts.anonymous_per_second.to_string(),
            ),
            (
                "HUB_ROUTER_RATE_ANONYMOUS_BURST".into(),
                opts.anonymous_burst.to_string(),
            ),
            (
                "HUB_ROUTER_TRUSTED_PROXY_HOPS".into(),
                opts.trusted_proxy_hops.to_string(),
            ),
            // Tests share one Redis: each router counts in its own keys
            // unless the test shares them.
            (
                "HUB_ROUTER_RATE_KEY_PREFIX".into(),
                opts.rate_key_prefix
                    .clone()
                    .unwrap_or_else(|| format!("hub-e2e-{port}-{}", Uuid::new_v4())),
            ),
            ("APOLLO_TELEMETRY_DISABLED".into(), "true".into()),
            // The FHIR API on the router host forwards to this platform's medical service.
            ("HUB_ROUTER_FHIR_UPSTREAM".into(), base("medical")),
        ]);
        if let Some(origins) = &opts.cors_origins {
            env.push(("HUB_ROUTER_CORS_ORIGINS".into(), origins.clone()));
        }
        if let Some(timeout) = &opts.subgraph_timeout {
            env.push(("HUB_ROUTER_SUBGRAPH_TIMEOUT".into(), timeout.clone()));
        }
        let config = config.display().to_string();
        let args = ["--config", config.as_str(), "--supergraph", "supergraph.graphql"];
        let name = format!("router-{port}");
        let mut proc = spawn(&name, &binary("hub-router"), &args, &env, &self.dir);
        wait_ready(&mut proc, &format!("http://127.0.0.1:{health}/health")).await;
        Router {
            url: format!("http://127.0.0.1:{port}/"),
            health: format!("http://127.0.0.1:{health}/health"),
            proc,
        }
    }

    /// Adds the demo data `hub seed` adds (organizations, logins, patients,
    /// a week of appointments …), as every subgraph's own seed writes it.
    pub async fn seed_demo(&self) {
        for sg in SUBGRAPHS {
            // The same development keys the running subgraphs seal with.
            let figment = sg.figment().merge(("database.url", self.db.url.clone())).merge((
                format!("{}.keys_dir", sg.name),
                self.dir.join("keys").display().to_string(),
            ));
            // The store the running content service reads (HUB_CONTENT__STORE__DIR).
            let figment = figment.merge(("content.store.dir", self.dir.join(".hub/content").display().to_string()));
            (sg.seed)(figment)
                .await
                .unwrap_or_else(|e| panic!("{} demo seed: {e}", sg.name));
        }
    }

    /// The database's administrator URL (what `hub` commands are given).
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// Replaces the persisted query manifest with these operations; returns their ids.
    pub fn persist(&self, bodies: &[&str]) -> Vec<String> {
        write_manifest(&self.manifest, bodies)
    }

    /// Logs in through the router; returns the access token.
    pub async fn login(&self, router: &Router, org: &str, email: &str) -> String {
        self.login_with(router, org, email, PASSWORD).await
    }

    /// Logs in with this password (the demo logins have their own).
    pub async fn login_with(&self, router: &Router, org: &str, email: &str, password: &str) -> String {
        let r = self
            .post(
                router,
                json!({ "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                        "variables": { "i": { "organization": org, "email": email, "password": password } } }),
                None,
            )
            .await
            .1;
        r["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {r}"))
            .to_string()
    }

    /// The documents of the demo patient Bernard (`seed_demo`), as the demo
    /// clinic's practitioner reads them: title, classification and the
    /// current version's `sha256` and `downloadUrl`.
    pub async fn demo_patient_documents(&self, router: &Router) -> Vec<Value> {
        let doctor = self
            .login_with(
                router,
                "clinique-saint-paul",
                "dr.martin@clinique-saint-paul.example",
                identity::seed::DEMO_PASSWORD,
            )
            .await;
        let (_, d) = self
            .post(
                router,
                json!({ "query": "{ patients(search: \"Bernard\") { nodes { mrn documents { nodes { title classification currentVersion { sha256 downloadUrl } } } } } }" }),
                Some(&doctor),
            )
            .await;
        d["data"]["patients"]["nodes"][0]["documents"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("the demo patient's documents: {d}"))
    }

    /// Creates a patient through the router as `token` (a medical role of
    /// its organization); the patient's id.
    pub async fn create_patient(&self, router: &Router, token: &str, mrn: &str, given: &str, family: &str) -> String {
        let (_, d) = self
            .post(
                router,
                json!({ "query": "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
                        "variables": { "i": { "mrn": mrn, "givenName": given, "familyName": family,
                                              "birthDate": "1985-03-02", "sex": "OTHER" } } }),
                Some(token),
            )
            .await;
        d["data"]["createPatient"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("createPatient: {d}"))
            .to_string()
    }

    /// POSTs JSON to the router; returns status and body.
    pub async fn post(&self, router: &Router, body: Value, token: Option<&str>) -> (u16, Value) {
        self.post_with(router, body, token, &[]).await
    }

    pub async fn post_with(
        &self,
        router: &Router,
        body: Value,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self.http.post(&router.url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("router request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GraphQL requests all subgraphs have served together.
    pub async fn subgraph_requests_total(&self) -> u64 {
        let mut total = 0;
        for s in &self.subgraphs {
            total += self.subgraph_requests(&s.url).await;
        }
        total
    }

    /// The number of GraphQL requests a subgraph has served (its own metric).
    pub async fn subgraph_requests(&self, base: &str) -> u64 {
        self.metric(base, "hub_http_requests_total", &[("route", "/graphql")])
            .await
    }

    /// A subgraph's metric `name` summed over the series whose labels
    /// include every `(label, value)` given.
    pub async fn metric(&self, base: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
        let text = self
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .unwrap_or_default();
        let series = format!("{name}{{");
        text.lines()
            .filter(|l| l.starts_with(&series))
            .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_manifest(path: &Path, bodies: &[&str]) -> Vec<String> {
    let ops: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let id = platform::crypto::sha256_hex(b);
            json!({ "id": id, "name": format!("Op{i}"), "type": "query", "body": b })
        })
        .collect();
    let ids = ops
        .iter()
        .map(|o| o["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let m = json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": ops });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, m.to_string()).expect("manifest");
    std::fs::rename(&tmp, path).expect("manifest");
    ids
}

/// Waits (up to 20 s) until `count_sql` counts at least `n`: what events do
/// happens shortly after the change that caused them.
pub async fn wait_for(admin: &PgPool, count_sql: &str, n: i64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got: i64 = sqlx::query_scalar(count_sql).fetch_one(admin).await.unwrap_or(0);
        if got >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "still {got} < {n} after 20 s: {count_sql}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn seed(admin: &PgPool) -> Tenants {
    let hash = identity::password::hash(PASSWORD).await.expect("hash");
    let mut ids = vec![];
    for (slug, verticals) in [("clinic-a", vec!["medical"]), ("clinic-b", vec!["medical"])] {
        let id: Uuid = sqlx::query_scalar(
            "insert into identity.organizations (slug, name, verticals) values ($1, $2, $3) returning id",
        )
        .bind(slug)
        .bind(format!("Clinic {slug}"))
        .bind(verticals)
        .fetch_one(admin)
        .await
        .expect("org");
        ids.push(id);
    }
    let mut users = vec![];
    for (org, email, name, role) in [
        (ids[0], "doc@a.example", "Dr Alice", "practitioner"),
        (ids[0], "desk@a.example", "Desk A", "secretary"),
        (ids[1], "doc@b.example", "Dr Bob", "practitioner"),
        (ids[0], "nurse@a.example", "Nurse A", "nurse"),
        (ids[0], "admin@a.example", "Admin A", "org_admin"),
    ] {
        let user: Uuid = sqlx::query_scalar(
            "insert into identity.users (email, display_name, password_hash) values ($1, $2, $3) returning id",
        )
        .bind(email)
        .bind(name)
        .bind(&hash)
        .fetch_one(admin)
        .await
        .expect("user");
        sqlx::query("insert into identity.memberships (organization_id, user_id, roles) values ($1, $2, $3)")
            .bind(org)
            .bind(user)
            .bind(vec![role])
            .execute(admin)
            .await
            .expect("membership");
        users.push(user);
    }
    // Written behind identity's back, so medical learns these members the way
    // `hub practitioners rebuild` teaches a lost projection: a snapshot event.
    let mut conn = admin.acquire().await.expect("admin connection");
    sqlx::raw_sql("set search_path to identity")
        .execute(&mut *conn)
        .await
        .expect("search path");
    identity::events::membership_snapshots(&mut conn)
        .await
        .expect("membership snapshot");
    sqlx::raw_sql("reset search_path")
        .execute(&mut *conn)
        .await
        .expect("search path");
    drop(conn);
    let client_id = identity::partner::new_client_id(ids[0]);
    let secret = identity::tokens::random_secret();
    sqlx::query("insert into identity.partner_clients (organization_id, name, client_id, secret_hash, scopes) values ($1, 'Insurer', $2, $3, '{medical:read}')")
        .bind(ids[0])
        .bind(&client_id)
        .bind(platform::crypto::sha256_hex(&secret))
        .execute(admin)
        .await
        .expect("partner client");
    Tenants {
        org_a: ids[0],
        doctor_a: users[0],
        doctor_b: users[2],
        nurse_a: users[3],
        partner_client_id: client_id,
        partner_secret: secret,
    }
}

/// Runs the `hub` command (`cargo test --workspace` builds it) with only
/// `env` and the PATH, from the repository root; its output.
pub fn hub(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new(binary("hub"));
    cmd.args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HUB_ENVIRONMENT", "test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run hub")
}
