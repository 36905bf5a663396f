use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{code, TestApp, PASSWORD};

fn code_for(secret: &str, offset_steps: i64) -> String {
    let t = TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        Secret::Encoded(secret.into()).to_bytes().unwrap(),
        None,
        "x".into(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    t.generate((now + offset_steps * 30) as u64)
}

#[tokio::test]
async fn with_totp_enabled_login_needs_a_fresh_code_that_works_once() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let token = app.token("clinic", "a@clinic.example").await;

    let r = app
        .gql("mutation { enrollTotp { secret otpauthUrl } }", json!({}), Some(&token))
        .await;
    let secret = r["data"]["enrollTotp"]["secret"].as_str().expect("secret").to_string();
    assert!(r["data"]["enrollTotp"]["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let stored: Vec<u8> = sqlx::query_scalar("select totp_secret_enc from identity.users")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains(&secret),
        "the seed is sealed at rest"
    );
    // Not active until confirmed.
    assert!(app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await["errors"].is_null());
    let r = app
        .gql(
            "mutation($c: String!) { confirmTotp(code: $c) }",
            json!({ "c": "000000" }),
            Some(&token),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app
        .gql(
            "mutation($c: String!) { confirmTotp(code: $c) }",
            json!({ "c": code_for(&secret, 0) }),
            Some(&token),
        )
        .await;
    assert_eq!(r["data"]["confirmTotp"], true, "{r}");

    assert_eq!(
        code(&app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await),
        Some("MFA_REQUIRED")
    );
    assert_eq!(
        code(
            &app.login_raw("clinic", "a@clinic.example", PASSWORD, Some("123456"))
                .await
        ),
        Some("MFA_REQUIRED")
    );
    let c = code_for(&secret, 0);
    let r = app.login_raw("clinic", "a@clinic.example", PASSWORD, Some(&c)).await;
    assert!(r["errors"].is_null(), "{r}");
    // The same code cannot be replayed.
    assert_eq!(
        code(&app.login_raw("clinic", "a@clinic.example", PASSWORD, Some(&c)).await),
        Some("MFA_REQUIRED")
    );
    // A wrong password with a right code is still just invalid credentials.
    let r = app
        .login_raw(
            "clinic",
            "a@clinic.example",
            "wrong-password-123",
            Some(&code_for(&secret, 1)),
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));

    let at = r_token(&app, &secret).await;
    let r = app
        .gql(
            "mutation($c: String!) { disableTotp(code: $c) }",
            json!({ "c": code_for(&secret, 0) }),
            Some(&at),
        )
        .await;
    assert_eq!(r["data"]["disableTotp"], true, "{r}");
    assert!(app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await["errors"].is_null());
}

async fn r_token(app: &TestApp, secret: &str) -> String {
    let r = app
        .login_raw("clinic", "a@clinic.example", PASSWORD, Some(&code_for(secret, 1)))
        .await;
    r["data"]["login"]["accessToken"]
        .as_str()
        .expect("mfa login")
        .to_string()
}

#[tokio::test]
async fn erasing_ones_own_account_with_a_second_factor_takes_a_code_too() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    app.member(org, "b@clinic.example", &["nurse"]).await;
    let token = app.token("clinic", "b@clinic.example").await;
    let r = app
        .gql("mutation { enrollTotp { secret } }", json!({}), Some(&token))
        .await;
    let secret = r["data"]["enrollTotp"]["secret"].as_str().expect("secret").to_string();
    let r = app
        .gql(
            "mutation($c: String!) { confirmTotp(code: $c) }",
            json!({ "c": code_for(&secret, 0) }),
            Some(&token),
        )
        .await;
    assert_eq!(r["data"]["confirmTotp"], true, "{r}");
    let erase = "mutation($pw: String, $c: String) { eraseUser(currentPassword: $pw, totpCode: $c) { subjectId } }";
    let without = app.gql(erase, json!({ "pw": PASSWORD }), Some(&token)).await;
    assert_eq!(code(&without), Some("BAD_USER_INPUT"), "{without}");
    assert_eq!(without["errors"][0]["extensions"]["field"], "totpCode", "{without}");
    let wrong = app
        .gql(erase, json!({ "pw": PASSWORD, "c": "000000" }), Some(&token))
        .await;
    assert_eq!(code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    assert_eq!(
        app.count("select count(*) from identity.users where email = 'b@clinic.example'")
            .await,
        1,
        "still there"
    );
    let done = app
        .gql(
            erase,
            json!({ "pw": PASSWORD, "c": code_for(&secret, 1) }),
            Some(&token),
        )
        .await;
    assert!(done["errors"].is_null(), "{done}");
    assert_eq!(
        app.count("select count(*) from identity.users where email = 'b@clinic.example'")
            .await,
        0
    );
}
