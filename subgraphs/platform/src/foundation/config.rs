//! Typed settings shared by every subgraph: built-in defaults, then an optional
//! TOML file (`HUB_CONFIG`), then `HUB_…` variables, then `HUB_<SERVICE>_…`
//! variables, so one environment can drive several services at once.

use std::{net::SocketAddr, str::FromStr, time::Duration};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

/// Where the process runs; development relaxes what production must refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    /// Introspection, field suggestions and generated dev keys are allowed.
    pub fn is_development(self) -> bool {
        matches!(self, Environment::Development | Environment::Test)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Short name of the service (`identity`, `medical`…), used in logs and metrics.
    pub service: String,
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    #[serde(default)]
    pub mail: MailSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
    #[serde(default)]
    pub otel: OtelSettings,
}

/// Trace export (`HUB_OTEL__…`): off unless an endpoint is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OtelSettings {
    /// An OTLP/HTTP receiver (`http://collector:4318`); empty: no traces.
    pub endpoint: String,
    /// The share of traces this service starts that are kept (0 … 1); a
    /// request the router traces follows the router's decision.
    pub sample_ratio: f64,
}

impl Default for OtelSettings {
    fn default() -> Self {
        OtelSettings {
            endpoint: String::new(),
            sample_ratio: 1.0,
        }
    }
}

impl OtelSettings {
    pub fn endpoint(&self) -> Option<&str> {
        Some(self.endpoint.trim()).filter(|e| !e.is_empty())
    }
}

/// The audit trail (`HUB_AUDIT__…`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// How often reads of health data are sealed into the hash chains: the
    /// longest a read stays outside its organization's chain.
    pub seal_every_ms: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { seal_every_ms: 5_000 }
    }
}

impl AuditSettings {
    pub fn seal_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.seal_every_ms.max(100))
    }
}

/// Where mail goes (`HUB_MAIL__…`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `file`: each message is written here as `<id>.eml`.
    pub dir: std::path::PathBuf,
    /// `smtp`: `smtp://host:port` (STARTTLS when offered is not attempted),
    /// `smtp://user:pass@host:587?tls=required`, or `smtps://…` (implicit TLS).
    pub smtp_url: Option<SecretString>,
    /// The sender, e.g. `Hub <no-reply@example.org>`.
    pub from: String,
    /// Where links in mails lead: the web application's base URL.
    pub app_url: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Development default: no mail server needed.
    File,
    Smtp,
    /// Nothing is sent (and nothing recorded as sent).
    Off,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            transport: MailTransport::File,
            dir: ".hub/mail".into(),
            smtp_url: None,
            from: "Hub <no-reply@hub.localhost>".into(),
            app_url: "http://localhost:5173".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// On `SIGTERM`, how long the service keeps serving with `/ready`
    /// answering 503 (`draining`) before it stops accepting connections:
    /// the time a load balancer needs to stop sending it new requests.
    #[serde(default = "default_drain_secs")]
    pub drain_secs: u64,
    /// Reverse proxies in front of this service that append to
    /// `X-Forwarded-For`; 0: the TCP peer is the client and the header is ignored.
    pub trusted_proxy_hops: usize,
    /// Whether this instance runs the subgraph's periodic jobs (deadline
    /// reminders…); every replica may, the jobs claim their work.
    #[serde(default = "default_true")]
    pub background_jobs: bool,
    /// `serve` (the default) answers `/graphql` and the service's routes;
    /// `worker` runs background jobs only (and `/health`, `/ready`,
    /// `/metrics`): the one kind of process that may hold the retention
    /// job's elevated credentials in production.
    #[serde(default)]
    pub mode: ServerMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    #[default]
    Serve,
    Worker,
}

impl ServerSettings {
    pub fn addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(format!("{}:{}", self.host, self.port).parse()?)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Cluster URL. Migrations connect with it as given; the service replaces the
    /// user with its own login role so it never runs as the table owner.
    pub url: SecretString,
    /// Login role the service connects as (owns no table, no BYPASSRLS).
    pub role: String,
    pub role_password: Option<SecretString>,
    /// PostgreSQL schema of this subgraph (`identity`, `medical`, …).
    pub schema: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// A streaming replica for read transactions (`HUB_DATABASE__READ_URL`,
    /// optional), connected to as the service role like `url`.
    #[serde(default)]
    pub read_url: Option<SecretString>,
    /// How long a caller who wrote reads the primary afterwards: longer than
    /// the replica's replay lag (`pg_stat_replication.replay_lag`).
    #[serde(default = "default_read_your_writes_ms")]
    pub read_your_writes_ms: u64,
}

fn default_read_your_writes_ms() -> u64 {
    3000
}

impl DatabaseSettings {
    /// Options for the service's own login role.
    pub fn service_options(&self) -> anyhow::Result<PgConnectOptions> {
        self.as_service_role(&self.url)
    }

    /// Options for the read replica (`read_url`), as the service role; `None`
    /// when reads stay on the primary.
    pub fn read_options(&self) -> anyhow::Result<Option<PgConnectOptions>> {
        self.read_url
            .as_ref()
            .filter(|u| !u.expose_secret().trim().is_empty())
            .map(|u| self.as_service_role(u))
            .transpose()
    }

    fn as_service_role(&self, url: &SecretString) -> anyhow::Result<PgConnectOptions> {
        let given = PgConnectOptions::from_str(url.expose_secret())?;
        let url_is_the_services = given.get_username() == self.role;
        let opts = given.username(&self.role);
        Ok(match &self.role_password {
            Some(pw) if !pw.expose_secret().is_empty() => opts.password(pw.expose_secret()),
            // The URL already carries the service role's own password.
            _ if url_is_the_services => opts,
            // Never reuse the admin's password for the service role.
            _ => opts.password(""),
        })
    }

    /// Whether `url` connects as the service's own role (production), not as
    /// an administrator whose user the service would swap (development).
    pub fn url_names_the_service_role(&self) -> anyhow::Result<bool> {
        Ok(PgConnectOptions::from_str(self.url.expose_secret())?.get_username() == self.role)
    }

    /// Options for migrations and provisioning: the URL as configured.
    pub fn admin_options(&self) -> anyhow::Result<PgConnectOptions> {
        Ok(PgConnectOptions::from_str(self.url.expose_secret())?)
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// `None` (or empty) runs without Redis: revocation-sensitive writes are refused.
    pub url: Option<SecretString>,
    /// Streams are `<events_prefix>:<family>` (environments sharing one Redis
    /// use their own prefix).
    #[serde(default = "default_events_prefix")]
    pub events_prefix: String,
    /// Whether this service relays its outbox to Redis Streams.
    #[serde(default = "default_true")]
    pub events_relay: bool,
    /// Whether this service runs its event consumers (its subscriptions).
    #[serde(default = "default_true")]
    pub events_consumers: bool,
    /// Deliveries of a failing event before it moves to the dead-letter stream.
    #[serde(default = "default_max_attempts")]
    pub events_max_attempts: u32,
    /// How long a failed (or a crashed consumer's) event waits before it is retried.
    #[serde(default = "default_retry_after_ms")]
    pub events_retry_after_ms: u64,
    /// How long events (and dead letters) stay in their streams: consumers
    /// need minutes, an outage's backlog a few days; older entries are
    /// trimmed, personal data with them.
    #[serde(default = "default_events_retention_hours")]
    pub events_retention_hours: u64,
}

fn default_events_retention_hours() -> u64 {
    72
}

fn default_max_attempts() -> u32 {
    5
}

fn default_retry_after_ms() -> u64 {
    5_000
}

fn default_events_prefix() -> String {
    "hub:events".into()
}

fn default_drain_secs() -> u64 {
    5
}

fn default_true() -> bool {
    true
}

impl RedisSettings {
    pub fn url(&self) -> Option<&str> {
        self.url.as_ref().map(|u| u.expose_secret()).filter(|u| !u.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    /// JWKS to verify access tokens against; identity verifies with its own keys.
    pub jwks_url: String,
    pub leeway_secs: u64,
    pub access_token_ttl_secs: u64,
    /// Shared secret the router adds to every subgraph call.
    pub router_secret: Option<SecretString>,
    /// When true, `/graphql` refuses calls without the router secret.
    pub require_router_secret: bool,
    /// How long, through a Redis outage, this process trusts the
    /// revocations it has seen for writes; past that writes are refused.
    #[serde(default = "default_revocation_staleness_secs")]
    pub revocation_staleness_secs: u64,
}

fn default_revocation_staleness_secs() -> u64 {
    60
}

impl AuthSettings {
    pub fn router_secret(&self) -> Option<&str> {
        self.router_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub depth: usize,
    pub complexity: usize,
    pub directives: usize,
    pub entities: usize,
    pub page_size: usize,
}

/// Per-service defaults layered under the shared ones.
pub struct ServiceDefaults<'a> {
    pub service: &'a str,
    pub port: u16,
    pub schema: &'a str,
}

impl Settings {
    /// Loads settings for one service from defaults, `HUB_CONFIG` and the environment.
    pub fn load(defaults: ServiceDefaults<'_>) -> anyhow::Result<Self> {
        Self::extract(&Self::figment(defaults))
    }

    /// The settings of a layered configuration (with any overrides merged in).
    pub fn extract(figment: &Figment) -> anyhow::Result<Self> {
        figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    /// Refuses configurations that would start but not work, or not be safe.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.auth.require_router_secret && self.auth.router_secret().is_none_or(|s| s.len() < 16) {
            anyhow::bail!(
                "{}: HUB_AUTH__ROUTER_SECRET (16+ characters, shared with the router) is required; \
                 `hub up` sets one. For a subgraph on its own, set HUB_AUTH__REQUIRE_ROUTER_SECRET=false.",
                self.service
            );
        }
        if self.environment == Environment::Production && !self.auth.require_router_secret {
            anyhow::bail!("{}: production subgraphs must require the router secret", self.service);
        }
        let no_password = self
            .database
            .role_password
            .as_ref()
            .is_none_or(|p| p.expose_secret().is_empty());
        if self.environment == Environment::Production && self.mail.transport == MailTransport::File {
            anyhow::bail!(
                "{}: in production mail goes through SMTP (HUB_MAIL__TRANSPORT=smtp, HUB_MAIL__SMTP_URL) or is off \
                 (HUB_MAIL__TRANSPORT=off), never to files",
                self.service
            );
        }
        if self.mail.transport == MailTransport::Smtp
            && self.mail.smtp_url.as_ref().is_none_or(|u| u.expose_secret().is_empty())
        {
            anyhow::bail!("{}: HUB_MAIL__TRANSPORT=smtp needs HUB_MAIL__SMTP_URL", self.service);
        }
        if self.environment == Environment::Production {
            self.refuse_elevated_credentials()?;
        }
        // The service role's own URL may carry its password instead.
        let no_password = no_password
            && !(self.database.url_names_the_service_role()? && url_has_password(self.database.url.expose_secret()));
        if self.environment == Environment::Production && no_password {
            anyhow::bail!(
                "{}: in production the login role `{}` needs a password (HUB_DATABASE__ROLE_PASSWORD); \
                 without one the service only connects where PostgreSQL trusts every local connection",
                self.service,
                self.database.role
            );
        }
        Ok(())
    }

    /// No serving process holds database administrator credentials in
    /// production: a leaked environment or a code execution there would be
    /// the whole database, row-level security bypassed. Serving processes
    /// connect as their own role; only a worker (`HUB_SERVER__MODE=worker`,
    /// never exposed) may hold the retention job's credentials.
    fn refuse_elevated_credentials(&self) -> anyhow::Result<()> {
        let db = &self.database;
        if !db.url_names_the_service_role()? {
            let user = PgConnectOptions::from_str(db.url.expose_secret())?
                .get_username()
                .to_string();
            anyhow::bail!(
                "{service}: HUB_DATABASE__URL connects as `{user}`, not as the service's own role `{role}`. \
                 In production no serving process holds database administrator credentials: give this service \
                 postgres://{role}:<password>@<host>/<database>, and the administrator's URL only to \
                 `hub migrate` and to retention (`hub retention run` as a scheduled job, or a worker with \
                 HUB_SERVER__MODE=worker and HUB_RETENTION__DATABASE_URL).",
                service = self.service,
                role = db.role,
            );
        }
        if self.retention.database_url().is_some() && self.server.mode == ServerMode::Serve {
            anyhow::bail!(
                "{}: HUB_RETENTION__DATABASE_URL is set on a serving process. Retention's credentials belong \
                 to a worker (HUB_SERVER__MODE=worker: background jobs only, no /graphql) or to \
                 `hub retention run`; remove the setting here.",
                self.service
            );
        }
        Ok(())
    }

    /// A service's own section (`[identity]`, `HUB_IDENTITY__…`) of the same
    /// layered configuration; its defaults when the section is absent.
    pub fn section<T: serde::de::DeserializeOwned + Default>(figment: &Figment, name: &str) -> anyhow::Result<T> {
        match figment.extract_inner::<T>(name) {
            Ok(s) => Ok(s),
            Err(e) if e.missing() => Ok(T::default()),
            Err(e) => Err(anyhow::anyhow!("invalid {name} configuration: {e}")),
        }
    }

    /// The layered configuration, exposed so tests can merge overrides on top.
    pub fn figment(defaults: ServiceDefaults<'_>) -> Figment {
        let service_prefix = format!("HUB_{}_", defaults.service.to_uppercase());
        let mut fig = Figment::from(Toml::string(&default_toml(&defaults)));
        if let Ok(path) = std::env::var("HUB_CONFIG") {
            fig = fig.merge(Toml::file(path));
        }
        fig.merge(Env::prefixed("HUB_").split("__"))
            .merge(Env::prefixed(&service_prefix).split("__"))
    }
}

/// Whether a `postgres://user:password@host/…` URL carries a password.
fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .is_some_and(|(_, password)| !password.is_empty())
}

fn default_toml(d: &ServiceDefaults<'_>) -> String {
    format!(
        r#"
service = "{service}"
environment = "development"

[server]
host = "127.0.0.1"
port = {port}
body_limit_bytes = 2097152
shutdown_grace_secs = 10
trusted_proxy_hops = 0

[database]
url = "postgres://postgres@127.0.0.1:5432/hub"
role = "hub_{service}"
schema = "{schema}"
max_connections = 10
acquire_timeout_ms = 2000
statement_timeout_ms = 5000

[redis]
url = "redis://127.0.0.1:6379"

[auth]
issuer = "http://127.0.0.1:4001"
audience = "hub"
jwks_url = "http://127.0.0.1:4001/.well-known/jwks.json"
leeway_secs = 30
access_token_ttl_secs = 900
require_router_secret = true

[limits]
depth = 12
complexity = 5000
directives = 50
entities = 1000
page_size = 100
"#,
        service = d.service,
        schema = d.schema,
        port = d.port
    )
}

/// Retention periods per category (`HUB_RETENTION__…`), in days.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Closed medical records (France: 20 years after the last stay).
    pub clinical_records_days: u32,
    /// Settled or voided invoices (accounting: 10 years).
    pub invoices_days: u32,
    /// Concluded procurement files: the offers that did not win.
    pub procurement_files_days: u32,
    /// Ended sign-in sessions, refresh tokens, password resets.
    pub sessions_days: u32,
    pub notifications_days: u32,
    /// Published events and consumers' idempotency records.
    pub outbox_days: u32,
    /// Records of mail sent.
    pub mail_records_days: u32,
    /// How often a service with background jobs runs retention.
    pub every_hours: u64,
    /// How long after a service starts its first pass runs (at most
    /// `every_hours`): an hour by default, so a restart loop does not
    /// hammer the database.
    pub first_pass_after_secs: u64,
    /// The retention job's own credentials (rules cross organizations and
    /// lift the seals of closed records: the administrator's, as
    /// `hub migrate`). Set only on a worker (`HUB_SERVER__MODE=worker`),
    /// which then runs retention on schedule; serving processes never hold
    /// it (refused in production), and without it a service runs no
    /// retention (`hub retention run` does, as a scheduled job).
    pub database_url: Option<SecretString>,
}

impl RetentionSettings {
    pub fn database_url(&self) -> Option<&str> {
        self.database_url
            .as_ref()
            .map(|u| u.expose_secret())
            .filter(|u| !u.is_empty())
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            clinical_records_days: 20 * 365 + 5,
            invoices_days: 10 * 365 + 3,
            procurement_files_days: 10 * 365 + 3,
            sessions_days: 90,
            notifications_days: 365,
            outbox_days: 30,
            mail_records_days: 365,
            every_hours: 24,
            first_pass_after_secs: 3600,
            database_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s: Settings = Figment::from(Toml::string(&default_toml(&ServiceDefaults {
            service: "identity",
            port: 4001,
            schema: "identity",
        })))
        .merge(("auth.router_secret", "super-secret-value"))
        .extract()
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("super-secret-value"), "{printed}");
        assert!(!printed.contains("postgres://"), "{printed}");
        assert_eq!(s.auth.router_secret(), Some("super-secret-value"));
    }

    #[test]
    fn a_subgraph_that_requires_the_router_secret_refuses_to_start_without_one() {
        let base = || {
            Figment::from(Toml::string(&default_toml(&ServiceDefaults {
                service: "medical",
                port: 4003,
                schema: "medical",
            })))
        };
        let s: Settings = base().extract().unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("HUB_AUTH__ROUTER_SECRET"), "{err}");
        let ok: Settings = base()
            .merge(("auth.router_secret", "0123456789abcdef"))
            .extract()
            .unwrap();
        ok.validate().unwrap();
        let prod: Settings = base()
            .merge(("environment", "production"))
            .merge(("auth.require_router_secret", false))
            .extract()
            .unwrap();
        assert!(prod.validate().is_err());
    }

    #[test]
    fn production_refuses_a_login_role_without_a_password() {
        let prod = || {
            Figment::from(Toml::string(&default_toml(&ServiceDefaults {
                service: "medical",
                port: 4003,
                schema: "medical",
            })))
            .merge(("environment", "production"))
            .merge(("auth.router_secret", "0123456789abcdef"))
            .merge(("mail.transport", "off"))
            .merge(("database.url", "postgres://hub_medical@db:5432/hub"))
        };
        let s: Settings = prod().extract().unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("HUB_DATABASE__ROLE_PASSWORD") && err.contains("hub_medical"),
            "{err}"
        );
        let s: Settings = prod().merge(("database.role_password", "s3cret")).extract().unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn production_mail_goes_through_smtp_never_to_files() {
        let prod = || {
            Figment::from(Toml::string(&default_toml(&ServiceDefaults {
                service: "identity",
                port: 4001,
                schema: "identity",
            })))
            .merge(("environment", "production"))
            .merge(("auth.router_secret", "0123456789abcdef"))
            .merge(("database.role_password", "s3cret"))
            .merge(("database.url", "postgres://hub_identity@db:5432/hub"))
        };
        let s: Settings = prod().extract().unwrap();
        assert_eq!(s.mail.transport, MailTransport::File, "the development default");
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("HUB_MAIL__TRANSPORT=smtp"), "{err}");
        let s: Settings = prod().merge(("mail.transport", "smtp")).extract().unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("HUB_MAIL__SMTP_URL"), "{err}");
        let s: Settings = prod()
            .merge(("mail.transport", "smtp"))
            .merge(("mail.smtp_url", "smtp://mail.internal:25"))
            .extract()
            .unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn production_serving_processes_refuse_administrator_credentials() {
        let prod = || {
            Figment::from(Toml::string(&default_toml(&ServiceDefaults {
                service: "medical",
                port: 4003,
                schema: "medical",
            })))
            .merge(("environment", "production"))
            .merge(("auth.router_secret", "0123456789abcdef"))
            .merge(("mail.transport", "off"))
            .merge(("database.role_password", "s3cret"))
        };
        // The development default: the administrator's URL, user swapped.
        let s: Settings = prod().extract().unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("connects as `postgres`") && err.contains("hub_medical") && err.contains("hub migrate"),
            "{err}"
        );
        // Its own role, password in the URL: starts, and connects as given.
        let own = || prod().merge(("database.url", "postgres://hub_medical:pw@db:5432/hub"));
        let s: Settings = own().merge(("database.role_password", "")).extract().unwrap();
        s.validate().unwrap();
        let opts = s.database.service_options().unwrap();
        assert_eq!(opts.get_username(), "hub_medical");
        // Retention's credentials on a serving process: refused; on a worker: fine.
        let s: Settings = own()
            .merge(("retention.database_url", "postgres://postgres:admin@db:5432/hub"))
            .extract()
            .unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("HUB_SERVER__MODE=worker"), "{err}");
        let s: Settings = own()
            .merge(("retention.database_url", "postgres://postgres:admin@db:5432/hub"))
            .merge(("server.mode", "worker"))
            .extract()
            .unwrap();
        s.validate().unwrap();
        // Development keeps the one-URL setup of `hub up`.
        let s: Settings = prod().merge(("environment", "development")).extract().unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn the_service_connects_with_its_own_role_not_the_admin_url_user() {
        let s: Settings = Figment::from(Toml::string(&default_toml(&ServiceDefaults {
            service: "identity",
            port: 4001,
            schema: "identity",
        })))
        .extract()
        .unwrap();
        assert_eq!(s.database.service_options().unwrap().get_username(), "hub_identity");
        assert_eq!(s.database.admin_options().unwrap().get_username(), "postgres");
    }
}
