//! Identity's domain events: what each change writes to the outbox, in the
//! change's transaction (docs/events.md has the catalogue).

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::TestApp;

/// (type, tenant, payload) of identity's events about `entity`, in order.
async fn events_of(app: &TestApp, entity: Uuid) -> Vec<(String, Uuid, Value)> {
    sqlx::query_as("select type, organization_id, payload from identity.event_outbox where entity_id = $1 order by seq")
        .bind(entity)
        .fetch_all(&app.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_membership_announces_each_step_of_its_life() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &["medical"]).await;
    app.member(org, "admin@clinic.example", &["org_admin"]).await;
    let admin = app.token("clinic", "admin@clinic.example").await;
    let (_, r) = app
        .gql_response(
            "mutation { inviteUser(input: { email: \"doc@clinic.example\", roles: [NURSE] }) { id } }",
            json!({}),
            Some(&admin),
            &[("accept-language", "de-DE,de;q=0.9")],
        )
        .await;
    let invitation: Uuid = r["data"]["inviteUser"]["id"].as_str().unwrap().parse().unwrap();
    let invited = events_of(&app, invitation).await;
    assert_eq!(invited.len(), 1);
    let (kind, tenant, payload) = &invited[0];
    assert_eq!((kind.as_str(), *tenant), ("identity.invitation.created", org));
    // The mail goes out in the inviter's language unless the invitation names one.
    assert_eq!(payload["locale"], "de");
    assert_eq!(payload["organizationName"], "Org clinic");
    let token = app
        .outbox_token("identity.invitation.created", "doc@clinic.example")
        .await;

    let r = app
        .gql(
            "mutation($i: AcceptInviteInput!) { acceptInvite(input: $i) { user { id } } }",
            json!({ "i": { "token": token, "displayName": "Dr Who", "password": "doctor-passphrase-1" } }),
            None,
        )
        .await;
    let user: Uuid = r["data"]["acceptInvite"]["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.gql(
        "mutation($u: ID!) { updateMemberRoles(userId: $u, roles: [NURSE, PRACTITIONER]) { id } }",
        json!({ "u": user }),
        Some(&admin),
    )
    .await;
    let refused = app
        .gql(
            "mutation($u: ID!) { updateMemberRoles(userId: $u, roles: [PLATFORM_ADMIN]) { id } }",
            json!({ "u": user }),
            Some(&admin),
        )
        .await;
    assert!(refused["errors"].is_array());
    app.gql(
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": user }),
        Some(&admin),
    )
    .await;

    let got = events_of(&app, user).await;
    let kinds: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "identity.membership.added",
            "identity.membership.roles_changed",
            "identity.membership.removed"
        ],
        "a refused change announces nothing"
    );
    assert!(got.iter().all(|e| e.1 == org));
    assert_eq!(
        got[0].2,
        json!({ "userId": user, "roles": ["nurse"], "displayName": "Dr Who" })
    );
    assert_eq!(got[1].2["roles"], json!(["nurse", "practitioner"]));
}

#[tokio::test]
async fn a_profile_change_is_announced_to_every_organization_of_the_user() {
    let app = TestApp::spawn().await;
    let a = app.org("org-a", &[]).await;
    let b = app.org("org-b", &[]).await;
    let user = app.member(a, "person@example.org", &["auditor"]).await;
    app.member(b, "person@example.org", &["auditor"]).await;
    let token = app.token("org-a", "person@example.org").await;
    let r = app
        .gql(
            "mutation { updateProfile(input: { displayName: \" Dr Person \", locale: \"fr\" }) { displayName locale } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        r["data"]["updateProfile"],
        json!({ "displayName": "Dr Person", "locale": "fr" }),
        "{r}"
    );
    let got = events_of(&app, user).await;
    let mut tenants: Vec<Uuid> = got.iter().map(|e| e.1).collect();
    tenants.sort();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(tenants, expected);
    assert!(got
        .iter()
        .all(|e| e.0 == "identity.user.updated" && e.2["displayName"] == "Dr Person"));

    let bad = app
        .gql(
            "mutation { updateProfile(input: { locale: \"xx\" }) { id } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "locale", "{bad}");
    assert_eq!(events_of(&app, user).await.len(), 2, "nothing for a refused change");
}

#[tokio::test]
async fn a_password_reset_request_carries_its_link_sealed() {
    let app = TestApp::spawn().await;
    let org = app.org("clinic", &[]).await;
    let user = app.member(org, "someone@clinic.example", &["auditor"]).await;
    app.gql(
        "mutation { requestPasswordReset(organization: \"clinic\", email: \"someone@clinic.example\") }",
        json!({}),
        None,
    )
    .await;
    let got = events_of(&app, user).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "identity.password_reset.requested");
    // Opened as the mail consumer opens it; unreadable in the outbox (checked by the helper).
    let token = app
        .outbox_token("identity.password_reset.requested", "someone@clinic.example")
        .await;
    let r = app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
            json!({ "t": token, "p": "a-brand-new-passphrase" }),
            None,
        )
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
}
