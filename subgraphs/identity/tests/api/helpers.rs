//! `TestApp`: the identity subgraph on a free port, against a fresh database
//! on the real PostgreSQL and the real Redis.

use std::sync::Arc;

use figment::Figment;
use identity::{keys::KeyRing, settings::IdentitySettings, state::State};
use platform::config::Settings;
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, PgPool};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    /// Superuser connection to the test database (fixtures, assertions).
    pub admin: PgPool,
    pub state: Arc<State>,
    pub settings: Settings,
}

static HASH: OnceCell<String> = OnceCell::const_new();

async fn password_hash() -> String {
    HASH.get_or_init(|| async { identity::password::hash(PASSWORD).await.expect("hash") })
        .await
        .clone()
}

pub fn pg_host() -> String {
    std::env::var("HUB_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::spawn_inner(configure, true).await
    }

    /// For failure tests: the database settings may point nowhere.
    pub async fn spawn_unmigrated(configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self::spawn_inner(configure, false).await
    }

    async fn spawn_inner(configure: impl FnOnce(Figment) -> Figment, migrate: bool) -> Self {
        let db = format!("hub_test_{}", Uuid::new_v4().simple());
        let fig = Settings::figment(identity::DEFAULTS)
            .merge(("environment", "test"))
            // Test configuration: subgraphs called directly, without the router.
            .merge(("auth.require_router_secret", false))
            .merge(("database.url", format!("{}/{db}", pg_host())))
            .merge(("database.max_connections", 5))
            .merge(("redis.url", "redis://127.0.0.1:6379"))
            .merge(("server.port", 0));
        let settings: Settings = configure(fig).extract().expect("settings");
        if migrate {
            platform::migrate::provision_and_migrate(&settings.database, &identity::MIGRATOR, &[])
                .await
                .expect("migrate");
        }
        let keys = KeyRing::from_pems(&[identity::keys::generate_ed25519_pem().expect("key")]).expect("keys");
        let cipher = platform::crypto::FieldCipher::from_spec(&format!("t1:{}", platform::crypto::generate_key()))
            .expect("cipher");
        let (router, state) = identity::build_with_keys(settings.clone(), IdentitySettings::default(), keys, cipher)
            .await
            .expect("build");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy(&format!("{}/{db}", pg_host()))
            .expect("admin pool");
        TestApp {
            url,
            http: reqwest::Client::new(),
            admin,
            state,
            settings,
        }
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

    pub async fn org(&self, slug: &str, verticals: &[&str]) -> Uuid {
        sqlx::query_scalar(
            "insert into identity.organizations (slug, name, verticals) values ($1, $2, $3) returning id",
        )
        .bind(slug)
        .bind(format!("Org {slug}"))
        .bind(verticals.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .fetch_one(&self.admin)
        .await
        .expect("org")
    }

    /// A user (created if new) with a membership in `org`.
    pub async fn member(&self, org: Uuid, email: &str, roles: &[&str]) -> Uuid {
        let user: Uuid = sqlx::query_scalar(
            "insert into identity.users (email, display_name, password_hash) values ($1, $2, $3)
             on conflict (email) do update set email = excluded.email returning id",
        )
        .bind(email)
        .bind(email.split('@').next().unwrap_or("user"))
        .bind(password_hash().await)
        .fetch_one(&self.admin)
        .await
        .expect("user");
        sqlx::query("insert into identity.memberships (organization_id, user_id, roles) values ($1, $2, $3)")
            .bind(org)
            .bind(user)
            .bind(roles.iter().map(|r| r.to_string()).collect::<Vec<_>>())
            .execute(&self.admin)
            .await
            .expect("membership");
        user
    }

    pub async fn login_raw(&self, org: &str, email: &str, password: &str, totp: Option<&str>) -> Value {
        self.gql(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken expiresAt user { id } organization { id } } }",
            json!({ "i": { "organization": org, "email": email, "password": password, "totp": totp } }),
            None,
        )
        .await
    }

    /// Logs in and returns `login`'s payload; panics with the errors otherwise.
    pub async fn login(&self, org: &str, email: &str) -> Value {
        let r = self.login_raw(org, email, PASSWORD, None).await;
        assert!(r["errors"].is_null(), "login failed: {r}");
        r["data"]["login"].clone()
    }

    pub async fn token(&self, org: &str, email: &str) -> String {
        self.login(org, email).await["accessToken"]
            .as_str()
            .expect("token")
            .to_string()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.admin).await.expect("count")
    }

    pub async fn outbox_token(&self, topic: &str, email: &str) -> String {
        let payload: Value = sqlx::query_scalar(
            "select payload from identity.outbox where topic = $1 and payload->>'email' = $2 order by created_at desc limit 1",
        )
        .bind(topic)
        .bind(email)
        .fetch_one(&self.admin)
        .await
        .expect("outbox message");
        payload["token"].as_str().expect("token").to_string()
    }
}

/// `extensions.code` of the first error, if any.
pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}
