//! Partner clients and the OAuth2 client-credentials endpoint.

use serde_json::{json, Value};

use crate::helpers::{code, TestApp};

async fn setup() -> (TestApp, String, String) {
    setup_with(|f| f).await
}

async fn setup_with(configure: impl FnOnce(figment::Figment) -> figment::Figment) -> (TestApp, String, String) {
    let app = TestApp::spawn_with(configure).await;
    let org = app.org("insurer-host", &["medical"]).await;
    app.member(org, "admin@host.example", &["org_admin"]).await;
    let admin = app.token("insurer-host", "admin@host.example").await;
    let r = app
        .gql(
            "mutation { createPartnerClient(name: \"Mutuelle X\", scopes: [\"medical:read\", \"invoices:read\"]) { clientSecret client { clientId name scopes } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let creds = &r["data"]["createPartnerClient"];
    let id = creds["client"]["clientId"].as_str().expect("client id").to_string();
    let secret = creds["clientSecret"].as_str().unwrap().to_string();
    (app, id, secret)
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/oauth/token", app.url))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers().get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The client-credentials grant with the partner's id and secret.
async fn grant(app: &TestApp, id: &str, secret: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    token_request(app, &form).await
}

#[tokio::test]
async fn a_partner_exchanges_its_credentials_for_a_partner_token() {
    let (app, id, secret) = setup().await;
    let (status, body) = grant(&app, &id, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "invoices:read medical:read");
    assert!(body["expires_in"].as_i64().unwrap() > 800);
    let claims = app.state.issuer.keys.jwks();
    let verifier = platform::jwt::JwtVerifier::with_static_keys(
        &app.settings.auth.issuer,
        "hub",
        0,
        claims,
        platform::kv::Kv::disabled(),
    );
    let c = verifier.verify(body["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!(c.client.as_deref(), Some("partner"));
    assert_eq!(c.amr, vec!["client_secret"]);
    assert!(c.roles.is_empty());

    // A narrower scope may be requested; a wider one may not.
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "medical:read"),
        ],
    )
    .await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("medical:read")));
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "admin"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));

    // Partner tokens are not users.
    let (_, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    let r = app.gql("{ me { id } }", json!({}), body["access_token"].as_str()).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
}

#[tokio::test]
async fn bad_client_credentials_get_rfc6749_errors() {
    let (app, id, secret) = setup().await;
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "pc_nope_1234"),
                ("client_secret", &secret),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("client_id", &id), ("client_secret", &secret)],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", &id)],
            400,
            "invalid_request",
        ),
    ];
    for (form, status, error) in cases {
        let (s, body) = token_request(&app, &form).await;
        assert_eq!((s, body["error"].as_str()), (status, Some(error)), "{form:?}: {body}");
    }
    // HTTP Basic works too (RFC 6749 §2.3.1).
    let r = app
        .http
        .post(format!("{}/oauth/token", app.url))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A token request from `address` (as the one trusted proxy reports it):
/// status, `error`, `Retry-After`.
async fn grant_from(app: &TestApp, address: &str, id: &str, secret: &str) -> (u16, Option<String>, Option<u64>) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let r = app
        .http
        .post(format!("{}/oauth/token", app.url))
        .header("x-forwarded-for", format!("6.6.6.6, {address}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body: Value = r.json().await.unwrap();
    (status, body["error"].as_str().map(str::to_string), retry)
}

#[tokio::test]
async fn the_token_endpoint_limits_guessing_per_client_and_per_address() {
    let suffix = uuid::Uuid::new_v4().as_u128() % 250;
    let (app, id, secret) = setup_with(|f| {
        f.merge(("server.trusted_proxy_hops", 1))
            .merge(("identity.token_rate_per_client", json!({ "per_second": 1, "burst": 3 })))
            .merge((
                "identity.token_rate_per_address",
                json!({ "per_second": 1, "burst": 4 }),
            ))
    })
    .await;

    // One client's secret guessed from ever new addresses: the client's budget ends it.
    let mut verdicts = Vec::new();
    for i in 0..5 {
        let (status, error, _) = grant_from(&app, &format!("198.51.{suffix}.{i}"), &id, "guess").await;
        verdicts.push((status, error.unwrap_or_default()));
    }
    assert_eq!(
        verdicts[..3],
        [
            (401, "invalid_client".to_string()),
            (401, "invalid_client".into()),
            (401, "invalid_client".into())
        ]
    );
    assert_eq!(verdicts[3], (429, "slow_down".to_string()), "{verdicts:?}");
    let (status, _, retry) = grant_from(&app, &format!("198.51.{suffix}.200"), &id, &secret).await;
    assert_eq!(
        status, 429,
        "the limit holds for the right secret too until the window ends"
    );
    tokio::time::sleep(std::time::Duration::from_secs(retry.expect("Retry-After"))).await;

    // Many client ids guessed from one address: the address's budget ends it.
    let address = format!("203.0.{suffix}.9");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let fake = format!("pc_{i}_{}", uuid::Uuid::new_v4());
        statuses.push(grant_from(&app, &address, &fake, "guess").await.0);
    }
    assert_eq!(statuses[..4], [401, 401, 401, 401], "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");

    // The partner itself, from its own address, gets its token.
    let (status, error, _) = grant_from(&app, &format!("192.0.{suffix}.1"), &id, &secret).await;
    assert_eq!((status, error), (200, None));
}

#[tokio::test]
async fn creating_a_partner_client_is_validated_and_for_org_admins_only() {
    let app = TestApp::spawn().await;
    let org = app.org("host", &[]).await;
    app.member(org, "admin@host.example", &["org_admin"]).await;
    app.member(org, "audit@host.example", &["auditor"]).await;
    let admin = app.token("host", "admin@host.example").await;
    let auditor = app.token("host", "audit@host.example").await;
    let q = "mutation($n: String!, $s: [String!]!) { createPartnerClient(name: $n, scopes: $s) { clientSecret } }";
    assert_eq!(
        code(&app.gql(q, json!({ "n": "X", "s": ["a:read"] }), Some(&auditor)).await),
        Some("FORBIDDEN")
    );
    for vars in [
        json!({ "n": "  ", "s": ["a:read"] }),
        json!({ "n": "X", "s": [] }),
        json!({ "n": "X", "s": ["Not A Scope"] }),
    ] {
        let r = app.gql(q, vars.clone(), Some(&admin)).await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{vars}: {r}");
    }
    assert_eq!(app.count("select count(*) from identity.partner_clients").await, 0);
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action = 'partner_client.create'")
            .await,
        0
    );
    assert!(app.gql(q, json!({ "n": "X", "s": ["a:read"] }), Some(&admin)).await["errors"].is_null());
    assert_eq!(
        code(&app.gql(q, json!({ "n": "X", "s": ["a:read"] }), Some(&admin)).await),
        Some("CONFLICT")
    );
    let stored: String = sqlx::query_scalar("select secret_hash from identity.partner_clients")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(stored.len(), 64, "only a hash of the secret is stored");
}

#[tokio::test]
async fn partner_tokens_never_see_member_lists_or_email_addresses() {
    let (app, id, secret) = setup().await;
    let (_, body) = grant(&app, &id, &secret).await;
    let token = body["access_token"].as_str().expect("token").to_string();
    let r = app
        .gql(
            "{ currentOrganization { name members { edges { node { user { id } } } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(r["data"]["currentOrganization"]["name"], "Org insurer-host", "{r}");
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
    assert!(r["data"]["currentOrganization"]["members"].is_null(), "{r}");
    // Nor through the User entity the router would ask for.
    let admin_id: String = sqlx::query_scalar("select id::text from identity.users where email = 'admin@host.example'")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let r = app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email } } }",
            json!({ "r": [{ "__typename": "User", "id": admin_id }] }),
            Some(&token),
        )
        .await;
    assert!(!r.to_string().contains("admin@host.example"), "{r}");
}
