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
    assert_eq!(
        app.count("select count(*) from identity.event_outbox where type = 'identity.invitation.created'")
            .await,
        0
    );

    let r = app
        .gql(q, json!({ "o": "clinic", "e": "A@clinic.example" }), None)
        .await;
    assert_eq!(r["data"]["requestPasswordReset"], true);
    let token = app
        .outbox_token("identity.password_reset.requested", "a@clinic.example")
        .await;
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

const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "a@clinic.example", &["org_admin"]).await;
    let token = app.token("clinic", "a@clinic.example").await;
    for _ in 0..5 {
        let r = app
            .gql(
                CHANGE,
                json!({ "c": "guess", "n": "a-brand-new-passphrase" }),
                Some(&token),
            )
            .await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    }
    // Locked: even the right password is refused now, here and at sign-in.
    let r = app
        .gql(
            CHANGE,
            json!({ "c": PASSWORD, "n": "a-brand-new-passphrase" }),
            Some(&token),
        )
        .await;
    assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
    assert!(
        r["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap_or(0) > 0,
        "{r}"
    );
    assert_eq!(
        code(&app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action = 'password.change_failed'")
            .await,
        5
    );
}

/// A user of two organizations, signed in to both.
async fn member_of_two(app: &TestApp) -> (String, serde_json::Value) {
    let a = app.org("clinic-a", &[]).await;
    let b = app.org("clinic-b", &[]).await;
    app.member(a, "dr@example.com", &["org_admin"]).await;
    app.member(b, "dr@example.com", &["org_admin"]).await;
    let token_a = app.token("clinic-a", "dr@example.com").await;
    let in_b = app.login("clinic-b", "dr@example.com").await;
    (token_a, in_b)
}

async fn still_works(app: &TestApp, session: &serde_json::Value) -> (bool, bool) {
    let me = app
        .gql("{ me { id } }", json!({}), session["accessToken"].as_str())
        .await;
    let refreshed = app
        .gql(
            "mutation($t: String!) { refreshToken(token: $t) { accessToken } }",
            json!({ "t": session["refreshToken"] }),
            None,
        )
        .await;
    (me["errors"].is_null(), refreshed["errors"].is_null())
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions_in_every_organization() {
    let app = TestApp::spawn().await;
    let (token_a, in_b) = member_of_two(&app).await;
    assert_eq!(still_works(&app, &in_b).await, (true, true));
    let in_b = app.login("clinic-b", "dr@example.com").await;
    let r = app
        .gql(
            CHANGE,
            json!({ "c": PASSWORD, "n": "a-brand-new-passphrase" }),
            Some(&token_a),
        )
        .await;
    assert_eq!(r["data"]["changePassword"], true, "{r}");
    assert_eq!(
        still_works(&app, &in_b).await,
        (false, false),
        "clinic-b's session ended too"
    );
    let (status, me) = app.gql_response("{ me { id } }", json!({}), Some(&token_a), &[]).await;
    assert_eq!(status, 401, "and the session it was changed from: {me}");
}

#[tokio::test]
async fn a_password_reset_ends_the_users_sessions_in_every_organization() {
    let app = TestApp::spawn().await;
    let (_, in_b) = member_of_two(&app).await;
    let q = "mutation($o: String!, $e: String!) { requestPasswordReset(organization: $o, email: $e) }";
    app.gql(q, json!({ "o": "clinic-a", "e": "dr@example.com" }), None)
        .await;
    let token = app
        .outbox_token("identity.password_reset.requested", "dr@example.com")
        .await;
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let r = app
        .gql(reset, json!({ "t": token, "p": "a-brand-new-passphrase" }), None)
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
    assert_eq!(
        still_works(&app, &in_b).await,
        (false, false),
        "reset in clinic-a ends clinic-b's session"
    );
}

#[tokio::test]
async fn a_disabled_account_neither_accepts_invitations_nor_switches_organization() {
    let app = TestApp::spawn().await;
    let (token_a, _) = member_of_two(&app).await;
    let c = app.org("clinic-c", &[]).await;
    app.member(c, "admin@c.example", &["org_admin"]).await;
    let admin = app.token("clinic-c", "admin@c.example").await;
    let r = app
        .gql(
            "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "email": "dr@example.com", "roles": ["ORG_ADMIN"] } }),
            Some(&admin),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let invite = app.outbox_token("identity.invitation.created", "dr@example.com").await;
    sqlx::query("update identity.users set status = 'disabled' where email = 'dr@example.com'")
        .execute(&app.admin)
        .await
        .unwrap();
    let r = app
        .gql(
            "mutation($i: AcceptInviteInput!) { acceptInvite(input: $i) { accessToken } }",
            json!({ "i": { "token": invite, "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    assert_eq!(
        app.count(&format!(
            "select count(*) from identity.memberships where organization_id = '{c}'"
        ))
        .await,
        1,
        "nothing joined"
    );
    let org_b: String = sqlx::query_scalar("select id::text from identity.organizations where slug = 'clinic-b'")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let r = app
        .gql(
            "mutation($o: ID!) { switchOrganization(organizationId: $o) { accessToken } }",
            json!({ "o": org_b }),
            Some(&token_a),
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
}

#[tokio::test]
async fn a_password_spray_is_held_to_one_guess_per_address_and_never_locks_the_clinic_out() {
    let app = TestApp::spawn_with(|f| f.merge(("identity.org_failed_sign_in_limit", 3))).await;
    let org = app.org("clinic", &[]).await;
    let other = app.org("other", &[]).await;
    for who in ["a", "b", "d"] {
        app.member(org, &format!("{who}@clinic.example"), &["nurse"]).await;
    }
    app.member(other, "z@other.example", &["nurse"]).await;
    // A spray: one wrong guess at each of many addresses, most of them made
    // up. No account reaches its own lockout; the organization's count
    // passes its limit.
    let mut sprayed: Vec<String> = (0..6)
        .map(|i| format!("x{i}-{}@clinic.example", uuid::Uuid::new_v4()))
        .collect();
    sprayed.insert(2, "a@clinic.example".into());
    for email in &sprayed {
        let r = app.login_raw("clinic", email, "Summer2026!", None).await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{email}: {r}");
    }
    // A member whose address was not sprayed signs in at once.
    let r = app.login_raw("clinic", "d@clinic.example", PASSWORD, None).await;
    assert!(r["errors"].is_null(), "a stranger's spray locked the clinic out: {r}");
    // The spray itself is held: a second guess at any sprayed address
    // waits, known or made up alike (no account is revealed).
    for email in [&sprayed[0], &sprayed[2], &sprayed[5]] {
        let r = app.login_raw("clinic", email, "Winter2026!", None).await;
        assert_eq!(code(&r), Some("RATE_LIMITED"), "{email}: {r}");
        assert!(
            r["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap_or(0) > 0,
            "{r}"
        );
    }
    // The sprayed member waits out the window even with the right password:
    // the sprayer may have been one guess from it.
    let r = app.login_raw("clinic", "a@clinic.example", PASSWORD, None).await;
    assert_eq!(code(&r), Some("RATE_LIMITED"), "{r}");
    // Below the limit, a mistyped password then the right one is ordinary.
    let r = app.login_raw("other", "z@other.example", "typo", None).await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    let r = app.login_raw("other", "z@other.example", PASSWORD, None).await;
    assert!(r["errors"].is_null(), "{r}");
    // Redis never holds the addresses, only digests of them.
    let redis = redis::Client::open("redis://127.0.0.1:6379").expect("redis");
    let mut conn = redis.get_multiplexed_async_connection().await.expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("hub:{org}:*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(keys.iter().all(|k| !k.contains('@')), "{keys:?}");
    assert!(keys.len() > 1, "{keys:?}");
}
