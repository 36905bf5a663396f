//! `TestApp`: the identity subgraph on a free port, against a fresh database
//! on the real PostgreSQL and the real Redis.

use std::ops::Deref;

use figment::Figment;
use identity::Identity;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub use testkit::code;

pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp(testkit::App<Identity>);

impl Deref for TestApp {
    type Target = testkit::App<Identity>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

static HASH: OnceCell<String> = OnceCell::const_new();

async fn password_hash() -> String {
    HASH.get_or_init(|| async { identity::password::hash(PASSWORD).await.expect("hash") })
        .await
        .clone()
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self(testkit::App::spawn().await)
    }

    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        Self(testkit::App::spawn_with(configure).await)
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

    /// The secret link token of the latest event of `kind` to `email`,
    /// opened as the mail consumer will; it is never readable in the outbox.
    pub async fn outbox_token(&self, kind: &str, email: &str) -> String {
        let (entity, payload): (Uuid, Value) = sqlx::query_as(
            "select entity_id, payload from identity.event_outbox where type = $1 and payload->>'email' = $2 order by seq desc limit 1",
        )
        .bind(kind)
        .bind(email)
        .fetch_one(&self.admin)
        .await
        .expect("outbox event");
        let token = identity::events::open_secret(&self.state.cipher, entity, &payload).expect("sealed secret");
        assert!(
            !payload.to_string().contains(&token),
            "the token is readable at rest: {payload}"
        );
        token
    }
}
