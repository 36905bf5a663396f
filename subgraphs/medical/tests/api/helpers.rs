//! `TestApp`: the medical subgraph on a free port against a fresh database,
//! with tokens signed by an identity key ring it trusts.

use std::sync::Arc;

use figment::Figment;
use identity::keys::KeyRing;
use medical::state::State;
use platform::{config::Settings, crypto::FieldCipher, jwt::JwtVerifier, kv::Kv, Claims, Role, Vertical};
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, PgPool};
use uuid::Uuid;

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub admin: PgPool,
    pub state: Arc<State>,
    pub keys: KeyRing,
    pub settings: Arc<Settings>,
}

pub fn pg_host() -> String {
    std::env::var("HUB_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A caller: organization, user and roles.
#[derive(Clone, Copy)]
pub struct Who {
    pub org: Uuid,
    pub user: Uuid,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|f| f).await
    }

    pub async fn spawn_with(configure: impl FnOnce(Figment) -> Figment) -> Self {
        let db = format!("hub_test_{}", Uuid::new_v4().simple());
        let fig = Settings::figment(medical::DEFAULTS)
            .merge(("environment", "test"))
            // Test configuration: subgraphs called directly, without the router.
            .merge(("auth.require_router_secret", false))
            .merge(("database.url", format!("{}/{db}", pg_host())))
            .merge(("database.max_connections", 5))
            .merge(("redis.url", "redis://127.0.0.1:6379"));
        let settings: Settings = configure(fig).extract().expect("settings");
        platform::migrate::provision_and_migrate(&settings.database, &medical::MIGRATOR, medical::EXTENSIONS)
            .await
            .expect("migrate");
        let keys = KeyRing::from_pems(&[identity::keys::generate_ed25519_pem().expect("key")]).expect("keys");
        let kv = Kv::new(settings.redis.url()).expect("kv");
        let a = &settings.auth;
        let verifier = JwtVerifier::with_static_keys(&a.issuer, &a.audience, a.leeway_secs, keys.jwks(), kv.clone());
        let cipher = FieldCipher::from_spec(&format!("test1:{}", platform::crypto::generate_key())).expect("cipher");
        let pool = platform::db::connect(&settings.database).expect("pool");
        let settings = Arc::new(settings);
        let (router, state) =
            medical::build_with_verifier(settings.clone(), cipher, pool, kv, verifier).expect("build");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{}/{db}", pg_host()))
            .await
            .expect("admin pool");
        TestApp {
            url,
            http: reqwest::Client::new(),
            admin,
            state,
            keys,
            settings,
        }
    }

    /// An access token as identity would issue it.
    pub fn token_with(&self, who: Who, roles: &[Role], verticals: &[Vertical]) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.settings.auth.issuer.clone(),
            aud: self.settings.auth.audience.clone(),
            sub: who.user.to_string(),
            org: who.org,
            roles: roles.to_vec(),
            verticals: verticals.to_vec(),
            sid: Some(Uuid::new_v4()),
            jti: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + 600,
            amr: vec!["pwd".into()],
            client: None,
            scopes: vec![],
        };
        self.keys.sign(&claims).expect("sign")
    }

    pub fn token(&self, who: Who, role: Role) -> String {
        self.token_with(who, &[role], &[Vertical::Medical])
    }

    pub async fn gql(&self, query: &str, vars: Value, token: &str) -> Value {
        self.http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": vars }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// Runs a query that must succeed and returns `data`.
    pub async fn ok(&self, query: &str, vars: Value, token: &str) -> Value {
        let r = self.gql(query, vars, token).await;
        assert!(r["errors"].is_null(), "unexpected errors: {r}");
        r["data"].clone()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.admin).await.expect("count")
    }

    /// A patient created through the API by a secretary of `org`.
    pub async fn patient(&self, org: Uuid, mrn: &str, family: &str) -> Uuid {
        let t = self.token(
            Who {
                org,
                user: Uuid::new_v4(),
            },
            Role::Secretary,
        );
        let d = self
            .ok(
                "mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
                json!({ "i": {
                    "mrn": mrn, "givenName": "Alex", "familyName": family, "birthDate": "1980-05-17", "sex": "OTHER",
                    "contact": { "phone": "+33 6 11 22 33 44", "email": "alex@patient.example", "address": "1 rue Secrète" },
                    "insuranceNumber": "1 80 05 69 123 456"
                } }),
                &t,
            )
            .await;
        Uuid::parse_str(d["createPatient"]["id"].as_str().expect("id")).expect("uuid")
    }

    pub async fn appointment(&self, org: Uuid, patient: Uuid, practitioner: Uuid, start_hour: u32) -> Value {
        let t = self.token(
            Who {
                org,
                user: Uuid::new_v4(),
            },
            Role::Secretary,
        );
        self.gql(
            "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id status } }",
            json!({ "i": {
                "patientId": patient, "practitionerId": practitioner,
                "startsAt": format!("2030-01-07T{start_hour:02}:00:00Z"), "endsAt": format!("2030-01-07T{start_hour:02}:30:00Z")
            } }),
            &t,
        )
        .await
    }
}

pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

pub fn who() -> Who {
    Who {
        org: Uuid::new_v4(),
        user: Uuid::new_v4(),
    }
}
