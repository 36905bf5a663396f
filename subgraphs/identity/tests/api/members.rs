//! Invitations, role changes, removal, organization creation.

use serde_json::json;

use crate::helpers::{code, TestApp, PASSWORD};

const INVITE: &str =
    "mutation($e: String!, $r: [Role!]!) { inviteUser(input: { email: $e, roles: $r }) { id email roles expiresAt } }";
const ACCEPT: &str =
    "mutation($i: AcceptInviteInput!) { acceptInvite(input: $i) { accessToken user { id } organization { id } } }";

#[tokio::test]
async fn an_invited_person_accepts_creates_an_account_and_is_signed_in() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;

    let r = app
        .gql(
            INVITE,
            json!({ "e": " New.Nurse@Clinic.example ", "r": ["NURSE"] }),
            Some(&admin),
        )
        .await;
    assert_eq!(r["data"]["inviteUser"]["email"], "new.nurse@clinic.example", "{r}");
    assert_eq!(r["data"]["inviteUser"]["roles"], json!(["NURSE"]));
    let token = app
        .outbox_token("identity.invitation.created", "new.nurse@clinic.example")
        .await;

    let r = app
        .gql(
            ACCEPT,
            json!({ "i": { "token": token, "displayName": "New Nurse", "password": "nurse-passphrase-1" } }),
            None,
        )
        .await;
    assert_eq!(r["data"]["acceptInvite"]["organization"]["id"], org.to_string(), "{r}");
    let at = r["data"]["acceptInvite"]["accessToken"].as_str().unwrap();
    let me = app.gql("{ me { email displayName roles } }", json!({}), Some(at)).await;
    assert_eq!(
        me["data"]["me"],
        json!({ "email": "new.nurse@clinic.example", "displayName": "New Nurse", "roles": ["NURSE"] })
    );

    // The link works once.
    let r = app
        .gql(
            ACCEPT,
            json!({ "i": { "token": token, "displayName": "Again", "password": "nurse-passphrase-1" } }),
            None,
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action in ('invitation.create', 'invitation.accept')")
            .await,
        2
    );
}

#[tokio::test]
async fn an_existing_account_joins_another_organization_only_with_its_password() {
    let app = TestApp::spawn().await;
    let a = app.org("org-a", &[]).await;
    let b = app.org("org-b", &[]).await;
    app.member(a, "admin@a.example", &["org_admin"]).await;
    let existing = app.member(b, "person@b.example", &["org_admin"]).await;
    let admin = app.token("org-a", "admin@a.example").await;
    app.gql(
        INVITE,
        json!({ "e": "person@b.example", "r": ["AUDITOR"] }),
        Some(&admin),
    )
    .await;
    let token = app
        .outbox_token("identity.invitation.created", "person@b.example")
        .await;

    let r = app
        .gql(
            ACCEPT,
            json!({ "i": { "token": token, "password": "not-their-password" } }),
            None,
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    assert_eq!(
        app.count("select count(*) from identity.memberships").await,
        2,
        "nothing written"
    );

    let r = app
        .gql(ACCEPT, json!({ "i": { "token": token, "password": PASSWORD } }), None)
        .await;
    assert_eq!(r["data"]["acceptInvite"]["user"]["id"], existing.to_string(), "{r}");
    assert_eq!(
        app.count("select count(*) from identity.users").await,
        2,
        "no duplicate account"
    );
}

#[tokio::test]
async fn invitations_are_validated_and_a_refused_one_writes_nothing() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    app.member(org, "member@clinic.example", &["nurse"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let nurse = app.token("clinic", "member@clinic.example").await;

    for (vars, expected) in [
        (json!({ "e": "not-an-email", "r": ["NURSE"] }), "BAD_USER_INPUT"),
        (json!({ "e": "x@clinic.example", "r": [] }), "BAD_USER_INPUT"),
        (
            json!({ "e": "x@clinic.example", "r": ["PLATFORM_ADMIN"] }),
            "BAD_USER_INPUT",
        ),
        // Procurement roles need the public vertical, which this clinic lacks.
        (
            json!({ "e": "x@clinic.example", "r": ["PROCUREMENT_OFFICER"] }),
            "BAD_USER_INPUT",
        ),
        (json!({ "e": "member@clinic.example", "r": ["NURSE"] }), "CONFLICT"),
    ] {
        let r = app.gql(INVITE, vars.clone(), Some(&admin)).await;
        assert_eq!(code(&r), Some(expected), "{vars}: {r}");
    }
    let r = app
        .gql(INVITE, json!({ "e": "x@clinic.example", "r": ["NURSE"] }), Some(&nurse))
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    assert_eq!(app.count("select count(*) from identity.invitations").await, 0);
    assert_eq!(
        app.count("select count(*) from identity.event_outbox where type = 'identity.invitation.created'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from identity.audit_log where action like 'invitation%'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_role_change_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let staff = app.member(org, "staff@clinic.example", &["secretary"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let old = app.login("clinic", "staff@clinic.example").await;

    let q = "mutation($u: ID!, $r: [Role!]!) { updateMemberRoles(userId: $u, roles: $r) { user { id } roles } }";
    let r = app
        .gql(
            q,
            json!({ "u": staff.to_string(), "r": ["NURSE", "SECRETARY"] }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        r["data"]["updateMemberRoles"]["roles"],
        json!(["NURSE", "SECRETARY"]),
        "{r}"
    );

    // The old token and its refresh token carry the old roles: both are dead.
    let (status, _) = app
        .gql_response("{ me { id } }", json!({}), old["accessToken"].as_str(), &[])
        .await;
    assert_eq!(status, 401);
    let r = app
        .gql(
            "mutation($t: String!) { refreshToken(token: $t) { accessToken } }",
            json!({ "t": old["refreshToken"] }),
            None,
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));
    let fresh = app.token("clinic", "staff@clinic.example").await;
    let me = app.gql("{ me { roles } }", json!({}), Some(&fresh)).await;
    assert_eq!(me["data"]["me"]["roles"], json!(["NURSE", "SECRETARY"]));
    let audit: serde_json::Value =
        sqlx::query_scalar("select details from identity.audit_log where action = 'member.update_roles'")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(audit, json!({ "from": ["secretary"], "to": ["nurse", "secretary"] }));
}

#[tokio::test]
async fn the_last_org_admin_cannot_be_demoted_or_removed() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    let admin_id = app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let q = "mutation($u: ID!, $r: [Role!]!) { updateMemberRoles(userId: $u, roles: $r) { roles } }";
    let r = app
        .gql(q, json!({ "u": admin_id.to_string(), "r": ["AUDITOR"] }), Some(&admin))
        .await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");
    let r = app
        .gql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": admin_id.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");
    let roles: Vec<String> = sqlx::query_scalar("select roles from identity.memberships where user_id = $1")
        .bind(admin_id)
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(roles, vec!["org_admin"]);
}

#[tokio::test]
async fn a_removed_member_can_no_longer_sign_in_or_use_their_tokens() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let gone = app.member(org, "gone@clinic.example", &["auditor"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let theirs = app.login("clinic", "gone@clinic.example").await;
    let r = app
        .gql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": gone.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(r["data"]["removeMember"], true, "{r}");
    let (status, _) = app
        .gql_response("{ me { id } }", json!({}), theirs["accessToken"].as_str(), &[])
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        code(&app.login_raw("clinic", "gone@clinic.example", PASSWORD, None).await),
        Some("UNAUTHENTICATED")
    );
    let r = app
        .gql(
            "mutation($u: ID!) { removeMember(userId: $u) }",
            json!({ "u": gone.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(code(&r), Some("NOT_FOUND"));
}

#[tokio::test]
async fn members_are_paginated_as_a_relay_connection() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    for i in 0..4 {
        app.member(org, &format!("m{i}@clinic.example"), &["auditor"]).await;
    }
    let token = app.token("clinic", "admin@clinic.example").await;
    let q = "query($f: Int, $a: String) { members(first: $f, after: $a) { edges { cursor node { user { email } } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = vec![];
    let mut after = serde_json::Value::Null;
    loop {
        let r = app.gql(q, json!({ "f": 2, "a": after }), Some(&token)).await;
        let conn = &r["data"]["members"];
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["user"]["email"].as_str().unwrap().to_string());
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], "admin@clinic.example");
    let r = app.gql(q, json!({ "f": 101 }), Some(&token)).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "page size is capped: {r}");
    let r = app.gql(q, json!({ "f": 2, "a": "bogus" }), Some(&token)).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn only_platform_admins_create_organizations_and_slugs_are_unique() {
    let app = TestApp::spawn().await;
    let hub = app.org("hub", &[]).await;
    app.member(hub, "root@hub.example", &["platform_admin"]).await;
    let clinic = app.org("clinic", &[]).await;
    app.member(clinic, "admin@clinic.example", &["org_admin"]).await;
    let root = app.token("hub", "root@hub.example").await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let q = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id slug name } }";
    let input = json!({ "i": { "slug": "new-clinic", "name": "New Clinic", "verticals": ["MEDICAL"], "adminEmail": "boss@new.example" } });

    assert_eq!(code(&app.gql(q, input.clone(), Some(&admin)).await), Some("FORBIDDEN"));
    let r = app.gql(q, input.clone(), Some(&root)).await;
    assert_eq!(r["data"]["createOrganization"]["slug"], "new-clinic", "{r}");
    assert_eq!(code(&app.gql(q, input, Some(&root)).await), Some("CONFLICT"));
    let bad = json!({ "i": { "slug": "Bad Slug!", "name": "X", "verticals": [], "adminEmail": "b@x.example" } });
    assert_eq!(code(&app.gql(q, bad, Some(&root)).await), Some("BAD_USER_INPUT"));
    assert_eq!(app.count("select count(*) from identity.organizations").await, 3);

    // The first admin is invited and, on accepting, administers the new organization.
    let token = app
        .outbox_token("identity.invitation.created", "boss@new.example")
        .await;
    let r = app
        .gql(
            ACCEPT,
            json!({ "i": { "token": token, "displayName": "Boss", "password": "boss-passphrase-1" } }),
            None,
        )
        .await;
    let at = r["data"]["acceptInvite"]["accessToken"]
        .as_str()
        .expect("accepted")
        .to_string();
    let me = app
        .gql(
            "{ me { roles } currentOrganization { slug verticals } }",
            json!({}),
            Some(&at),
        )
        .await;
    assert_eq!(
        me["data"],
        json!({ "me": { "roles": ["ORG_ADMIN"] }, "currentOrganization": { "slug": "new-clinic", "verticals": ["MEDICAL"] } })
    );
}
