use serde_json::json;

use crate::helpers::{code, TestApp, PASSWORD};

#[tokio::test]
async fn a_member_logs_in_and_me_answers_with_their_account() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    let user = app.member(org, "doc@clinic.example", &["practitioner"]).await;
    let payload = app.login("clinic", "doc@clinic.example").await;
    assert_eq!(payload["user"]["id"], user.to_string());
    assert_eq!(payload["organization"]["id"], org.to_string());
    let token = payload["accessToken"].as_str().unwrap();
    let me = app
        .gql(
            "{ me { id email roles mfaEnabled } currentOrganization { slug verticals } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(
        me["data"],
        json!({
            "me": { "id": user.to_string(), "email": "doc@clinic.example", "roles": ["PRACTITIONER"], "mfaEnabled": false },
            "currentOrganization": { "slug": "clinic", "verticals": ["MEDICAL"] }
        })
    );
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action = 'login'")
            .await,
        1
    );
}

#[tokio::test]
async fn wrong_password_unknown_email_and_unknown_organization_answer_the_same() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let other = app.org("other", &[]).await;
    app.member(other, "b@other.example", &["org_admin"]).await;

    let cases = [
        ("clinic", "a@clinic.example", "wrong-password-123"),
        ("clinic", "nobody@clinic.example", PASSWORD),
        ("nowhere", "a@clinic.example", PASSWORD),
        // A real account, but not a member of this organization.
        ("clinic", "b@other.example", PASSWORD),
    ];
    let mut messages = vec![];
    for (org, email, pw) in cases {
        let r = app.login_raw(org, email, pw, None).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
        assert!(r["data"].is_null(), "{r}");
        messages.push(r["errors"][0]["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    let user = app.member(org, "a@clinic.example", &["org_admin"]).await;
    for _ in 0..5 {
        let r = app
            .login_raw("clinic", "a@clinic.example", "wrong-password-123", None)
            .await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"));
    }
    let r = app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "locked account must refuse: {r}");
    let locked: bool =
        sqlx::query_scalar("select locked_until > now() + interval '14 minutes' from identity.users where id = $1")
            .bind(user)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert!(locked, "locked for the 15-minute period");

    // Once the period is over the right password works and the counter resets.
    sqlx::query("update identity.users set locked_until = now() - interval '1 second', failed_login_window_start = now() - interval '16 minutes' where id = $1")
        .bind(user)
        .execute(&app.admin)
        .await
        .unwrap();
    app.login("clinic", "a@clinic.example").await;
    let count: i32 = sqlx::query_scalar("select failed_login_count from identity.users where id = $1")
        .bind(user)
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn four_failures_do_not_lock() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    for _ in 0..4 {
        app.login_raw("clinic", "a@clinic.example", "wrong-password-123", None)
            .await;
    }
    app.login("clinic", "a@clinic.example").await;
}

#[tokio::test]
async fn a_user_switches_to_another_organization_they_belong_to_but_not_to_others() {
    let app = TestApp::spawn().await;
    let a = app.org("org-a", &["medical"]).await;
    let b = app.org("org-b", &["public"]).await;
    let c = app.org("org-c", &[]).await;
    app.member(a, "multi@example.com", &["practitioner"]).await;
    app.member(b, "multi@example.com", &["procurement_officer"]).await;
    app.member(c, "someone@example.com", &["org_admin"]).await;
    let token = app.token("org-a", "multi@example.com").await;

    let q = "mutation($id: ID!) { switchOrganization(organizationId: $id) { accessToken organization { id } } }";
    let r = app.gql(q, json!({ "id": b.to_string() }), Some(&token)).await;
    assert_eq!(
        r["data"]["switchOrganization"]["organization"]["id"],
        b.to_string(),
        "{r}"
    );
    let token_b = r["data"]["switchOrganization"]["accessToken"].as_str().unwrap();
    let me = app
        .gql(
            "{ me { roles } currentOrganization { slug } }",
            json!({}),
            Some(token_b),
        )
        .await;
    assert_eq!(
        me["data"],
        json!({ "me": { "roles": ["PROCUREMENT_OFFICER"] }, "currentOrganization": { "slug": "org-b" } })
    );

    let r = app.gql(q, json!({ "id": c.to_string() }), Some(&token)).await;
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
}

#[tokio::test]
async fn password_reset_sends_a_single_use_link_and_the_new_password_works() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let q = "mutation($o: String!, $e: String!) { requestPasswordReset(organization: $o, email: $e) }";
    // Unknown emails get the same answer and no message.
    let r = app
        .gql(q, json!({ "o": "clinic", "e": "ghost@clinic.example" }), None)
        .await;
    assert_eq!(r["data"]["requestPasswordReset"], true);
    assert_eq!(app.count("select count(*) from identity.outbox").await, 0);

    let r = app
        .gql(q, json!({ "o": "clinic", "e": "A@clinic.example" }), None)
        .await;
    assert_eq!(r["data"]["requestPasswordReset"], true);
    let token = app.outbox_token("password.reset_requested", "a@clinic.example").await;
    let stored: i64 = app
        .count(&format!(
            "select count(*) from identity.password_resets where token_hash = sha256('{token}'::bytea)"
        ))
        .await;
    assert_eq!(stored, 1, "only the hash is stored");

    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let r = app.gql(reset, json!({ "t": token, "p": "short" }), None).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app
        .gql(reset, json!({ "t": token, "p": "a-brand-new-passphrase" }), None)
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
    let r = app
        .gql(reset, json!({ "t": token, "p": "another-new-passphrase" }), None)
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "a reset link works once: {r}");

    assert_eq!(
        code(&app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await),
        Some("UNAUTHENTICATED")
    );
    let r = app
        .login_raw("clinic", "a@clinic.example", "a-brand-new-passphrase", None)
        .await;
    assert!(r["errors"].is_null(), "{r}");
}

#[tokio::test]
async fn change_password_requires_the_current_one() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let token = app.token("clinic", "a@clinic.example").await;
    let q = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let r = app
        .gql(
            q,
            json!({ "c": "not-my-password", "n": "a-brand-new-passphrase" }),
            Some(&token),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert_eq!(r["errors"][0]["extensions"]["field"], "currentPassword");
    let r = app
        .gql(q, json!({ "c": PASSWORD, "n": "a-brand-new-passphrase" }), Some(&token))
        .await;
    assert_eq!(r["data"]["changePassword"], true, "{r}");
    assert!(app
        .login_raw("clinic", "a@clinic.example", "a-brand-new-passphrase", None)
        .await["errors"]
        .is_null());
}
