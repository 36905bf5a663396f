//! Refresh rotation, reuse detection, logout, and forged access tokens.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::{Claims, Role};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, TestApp};

const REFRESH: &str = "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken } }";

async fn signed_in() -> (TestApp, serde_json::Value) {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "a@clinic.example", &["nurse"]).await;
    let payload = app.login("clinic", "a@clinic.example").await;
    (app, payload)
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_revokes_the_whole_family() {
    let (app, first) = signed_in().await;
    let rt1 = first["refreshToken"].as_str().unwrap();
    let r = app.gql(REFRESH, json!({ "t": rt1 }), None).await;
    let rt2 = r["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .expect("rotated")
        .to_string();
    let at2 = r["data"]["refreshToken"]["accessToken"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action = 'session.refresh'")
            .await,
        1
    );
    assert!(app.gql("{ me { id } }", json!({}), Some(&at2)).await["errors"].is_null());

    // Replaying the first token: refused, and the family (session) is revoked…
    let r = app.gql(REFRESH, json!({ "t": rt1 }), None).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    // …so the newest refresh token is dead too, and so is its access token.
    let r = app.gql(REFRESH, json!({ "t": rt2 }), None).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    let (status, _) = app.gql_response("{ me { id } }", json!({}), Some(&at2), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        app.count("select count(*) from identity.sessions where revoked_reason = 'refresh_token_reuse'")
            .await,
        1
    );
}

#[tokio::test]
async fn two_refreshes_racing_with_one_token_never_both_succeed() {
    let (app, first) = signed_in().await;
    let rt = first["refreshToken"].as_str().unwrap();
    let (a, b) = tokio::join!(
        app.gql(REFRESH, json!({ "t": rt }), None),
        app.gql(REFRESH, json!({ "t": rt }), None)
    );
    let wins = [&a, &b].iter().filter(|r| r["errors"].is_null()).count();
    assert_eq!(wins, 1, "exactly one refresh wins: {a} / {b}");
    let loser = if a["errors"].is_null() { &b } else { &a };
    assert_eq!(code(loser), Some("UNAUTHENTICATED"));
    assert_eq!(
        app.count("select count(*) from identity.refresh_tokens").await,
        2,
        "one new token issued, not two"
    );
}

#[tokio::test]
async fn garbage_refresh_tokens_are_refused_with_nothing_written() {
    let (app, _) = signed_in().await;
    let before = app.count("select count(*) from identity.refresh_tokens").await;
    for t in ["", "nope", &format!("{}.{}", Uuid::new_v4().simple(), "x".repeat(43))] {
        let r = app.gql(REFRESH, json!({ "t": t }), None).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{t}: {r}");
    }
    assert_eq!(app.count("select count(*) from identity.refresh_tokens").await, before);
}

#[tokio::test]
async fn logout_revokes_the_session_its_access_token_and_its_refresh_token() {
    let (app, payload) = signed_in().await;
    let at = payload["accessToken"].as_str().unwrap();
    let rt = payload["refreshToken"].as_str().unwrap();
    let r = app.gql("mutation { logout }", json!({}), Some(at)).await;
    assert_eq!(r["data"]["logout"], true, "{r}");
    let (status, body) = app.gql_response("{ me { id } }", json!({}), Some(at), &[]).await;
    assert_eq!(status, 401);
    assert_eq!(code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(
        code(&app.gql(REFRESH, json!({ "t": rt }), None).await),
        Some("UNAUTHENTICATED")
    );
    // Other sessions of the same user are untouched.
    let again = app.login("clinic", "a@clinic.example").await;
    assert!(app.gql("{ me { id } }", json!({}), again["accessToken"].as_str()).await["errors"].is_null());
}

fn claims(app: &TestApp, org: Uuid, sub: Uuid) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: app.settings.auth.issuer.clone(),
        aud: app.settings.auth.audience.clone(),
        sub: sub.to_string(),
        org,
        roles: vec![Role::OrgAdmin],
        verticals: vec![],
        sid: None,
        jti: Uuid::new_v4(),
        iat: now,
        nbf: now,
        exp: now + 600,
        amr: vec!["pwd".into()],
        client: None,
        scopes: vec![],
    }
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_refused_before_any_resolver_runs() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    let user = app.member(org, "a@clinic.example", &["org_admin"]).await;
    let keys = &app.state.issuer.keys;
    let kid = keys.active().kid.clone();
    let good = claims(&app, org, user);
    // Sanity: a well-formed token signed by identity's key is accepted.
    let ok = keys.sign(&good).unwrap();
    assert!(app.gql("{ me { id } }", json!({}), Some(&ok)).await["errors"].is_null());

    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT", "kid": kid })),
        b64(serde_json::to_value(&good).unwrap())
    );

    // HS256 "signed" with the public key, the classic algorithm confusion.
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_string();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(public_x.as_bytes())).unwrap();

    let stranger = platform::keys::KeyRing::from_pems(&[platform::keys::generate_ed25519_pem().unwrap()]).unwrap();
    let unknown_kid = stranger.sign(&good).unwrap();

    let mut expired = good.clone();
    expired.exp = chrono::Utc::now().timestamp() - 3600;
    expired.nbf = expired.exp - 600;
    let expired = keys.sign(&expired).unwrap();

    let mut wrong_aud = good.clone();
    wrong_aud.aud = "someone-else".into();
    let wrong_aud = keys.sign(&wrong_aud).unwrap();

    let mut wrong_iss = good.clone();
    wrong_iss.iss = "https://evil.example".into();
    let wrong_iss = keys.sign(&wrong_iss).unwrap();

    let mut not_yet = good.clone();
    not_yet.nbf = chrono::Utc::now().timestamp() + 3600;
    let not_yet = keys.sign(&not_yet).unwrap();

    let tampered = {
        let mut parts: Vec<String> = ok.split('.').map(str::to_string).collect();
        let mut c = good.clone();
        c.roles = vec![Role::PlatformAdmin];
        parts[1] = b64(serde_json::to_value(&c).unwrap());
        parts.join(".")
    };

    for (name, token) in [
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("unknown kid", unknown_kid),
        ("expired", expired),
        ("wrong audience", wrong_aud),
        ("wrong issuer", wrong_iss),
        ("not yet valid", not_yet),
        ("tampered payload", tampered),
        ("not a JWT", "garbage".to_string()),
    ] {
        let (status, body) = app.gql_response("{ me { id } }", json!({}), Some(&token), &[]).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{name}");
        assert!(body["data"].is_null(), "{name}");
    }
}

#[tokio::test]
async fn a_non_bearer_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .gql_response("{ __typename }", json!({}), None, &[("authorization", "Basic YTpi")])
        .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn other_services_verify_with_the_published_jwks_and_refetch_it_on_unknown_kids_at_a_bounded_rate() {
    use platform::jwt::{JwtVerifier, VerifyError};
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    let user = app.member(org, "a@clinic.example", &["org_admin"]).await;
    let jwks_url = format!("{}/.well-known/jwks.json", app.url);
    let verifier = JwtVerifier::with_remote_jwks(
        &app.settings.auth.issuer,
        "hub",
        0,
        &jwks_url,
        platform::kv::Kv::disabled(),
    );
    // The first token triggers the first fetch.
    let token = app.state.issuer.keys.sign(&claims(&app, org, user)).unwrap();
    assert_eq!(verifier.verify(&token).await.unwrap().sub, user.to_string());
    // An unknown kid may refetch, but not more than once per interval.
    let stranger = platform::keys::KeyRing::from_pems(&[platform::keys::generate_ed25519_pem().unwrap()]).unwrap();
    let forged = stranger.sign(&claims(&app, org, user)).unwrap();
    assert_eq!(verifier.verify(&forged).await.unwrap_err(), VerifyError::UnknownKey);

    // A verifier pointing at a dead JWKS URL refuses everything, it never falls open.
    let dead = JwtVerifier::with_remote_jwks(
        &app.settings.auth.issuer,
        "hub",
        0,
        "http://127.0.0.1:1/jwks.json",
        platform::kv::Kv::disabled(),
    )
    .with_min_refresh_interval(std::time::Duration::ZERO);
    assert_eq!(dead.verify(&token).await.unwrap_err(), VerifyError::UnknownKey);
}

#[tokio::test]
async fn with_redis_down_sign_in_works_and_a_logout_is_recorded_to_reach_redis_later() {
    let app = TestApp::spawn_with(|f| f.merge(("redis.url", "redis://127.0.0.1:1"))).await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let payload = app.login("clinic", "a@clinic.example").await;
    let at = payload["accessToken"].as_str().unwrap();
    assert!(app.gql("{ me { id } }", json!({}), Some(at)).await["errors"].is_null());
    let r = app.gql("mutation { logout }", json!({}), Some(at)).await;
    assert_eq!(r["data"]["logout"], true, "{r}");
    assert_eq!(
        app.count("select count(*) from identity.sessions where revoked_at is not null")
            .await,
        1,
        "the session ended"
    );
    // Its revocation waits in the outbox for Redis, and then every service.
    assert_eq!(
        app.count(
            "select count(*) from identity.event_outbox
              where type = 'identity.session.revoked' and published_at is null"
        )
        .await,
        1
    );
    let refresh = payload["refreshToken"].as_str().unwrap();
    let r = app
        .gql(
            "mutation($t: String!) { refreshToken(token: $t) { accessToken } }",
            json!({ "t": refresh }),
            None,
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "no new tokens: {r}");
    let ready = app.get_json("/ready").await;
    assert!(ready["checks"]["redis"] == "degraded", "{ready}");
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn through_a_redis_outage_writes_go_on_within_the_staleness_and_logouts_are_honoured() {
    let mut redis = testkit::redis_server::Redis::start();
    let url = redis.url();
    let app = TestApp::spawn_with(|f| {
        f.merge(("redis.url", url.clone()))
            .merge(("auth.revocation_staleness_secs", 3))
    })
    .await;
    let org = app.org("clinic", &[]).await;
    for who in ["a", "b", "c"] {
        app.member(org, &format!("{who}@clinic.example"), &["nurse"]).await;
    }
    let (a, b, c) = (
        app.token("clinic", "a@clinic.example").await,
        app.token("clinic", "b@clinic.example").await,
        app.token("clinic", "c@clinic.example").await,
    );
    let relay = platform::events::RelaySettings {
        prefix: app.settings.redis.events_prefix.clone(),
        ..Default::default()
    };
    let kv = platform::kv::Kv::new(Some(&url)).expect("kv");
    let write = |token: String| {
        let app = &app;
        async move {
            app.gql(
                "mutation { updateProfile(input: { locale: \"fr\" }) { locale } }",
                json!({}),
                Some(&token),
            )
            .await
        }
    };
    // A logs out before the outage; its event reaches every service's feed.
    assert_eq!(
        app.gql("mutation { logout }", json!({}), Some(&a)).await["data"]["logout"],
        true
    );
    platform::events::relay_once(&app.runtime.pool, &kv, &relay)
        .await
        .expect("relay");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(write(b.clone()).await["errors"].is_null());

    redis.stop();
    // During the outage: A's logout still holds, B writes within the staleness.
    let r = app.gql("{ me { id } }", json!({}), Some(&a)).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "an earlier logout is honoured: {r}");
    let r = write(b.clone()).await;
    assert!(r["errors"].is_null(), "a write within the staleness: {r}");
    // C logs out during the outage: recorded; Redis hears of it later.
    let r = app.gql("mutation { logout }", json!({}), Some(&c)).await;
    assert_eq!(r["data"]["logout"], true, "{r}");
    // Past the staleness, writes wait for Redis; reads go on.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let r = write(b.clone()).await;
    assert_eq!(code(&r), Some("UNAVAILABLE"), "{r}");
    assert!(app.gql("{ me { id } }", json!({}), Some(&b)).await["errors"].is_null());

    redis.restart();
    // The outbox delivers C's logout once Redis is back: C's token stops working.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let _ = platform::events::relay_once(&app.runtime.pool, &kv, &relay).await;
        let r = app.gql("{ me { id } }", json!({}), Some(&c)).await;
        if code(&r) == Some("UNAUTHENTICATED") {
            break;
        }
        assert!(std::time::Instant::now() < until, "C's logout never took effect: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = write(b.clone()).await;
        if r["errors"].is_null() {
            break;
        }
        assert!(std::time::Instant::now() < until, "writes never came back: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn with_redis_down_sensitive_writes_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn_with(|f| f.merge(("redis.url", "redis://127.0.0.1:1"))).await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let r = app
        .gql(
            "mutation { inviteUser(input: { email: \"x@clinic.example\", roles: [NURSE] }) { id } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(code(&r), Some("UNAVAILABLE"), "{r}");
    assert_eq!(app.count("select count(*) from identity.invitations").await, 0);
    // Reads keep working.
    assert!(app.gql("{ me { id } }", json!({}), Some(&admin)).await["errors"].is_null());
}
