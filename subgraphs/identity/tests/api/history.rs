//! A user's and an organization's history: who did what, for the
//! organization's administrators and auditors only.

use serde_json::json;

use crate::helpers::{code, TestApp};

#[tokio::test]
async fn users_and_organizations_show_their_history_to_admins_and_auditors_only() {
    let app = TestApp::spawn().await;
    let org = app.org("histo", &["medical"]).await;
    app.member(org, "boss@histo.test", &["org_admin"]).await;
    app.member(org, "audit@histo.test", &["auditor"]).await;
    let nurse = app.member(org, "nurse@histo.test", &["nurse"]).await;
    let nurses = app.token("histo", "nurse@histo.test").await;
    let renamed = app
        .gql(
            "mutation { updateProfile(input: { displayName: \"Nurse Joy\" }) { displayName } }",
            json!({}),
            Some(&nurses),
        )
        .await;
    assert!(renamed["errors"].is_null(), "{renamed}");

    let q = "query($id: ID!) { _entities(representations: [{ __typename: \"User\", id: $id }]) {
        ... on User { history(first: 5) { nodes { action actorId changedFields } } } } }";
    for who in ["boss@histo.test", "audit@histo.test"] {
        let token = app.token("histo", who).await;
        let got = app.gql(q, json!({ "id": nurse }), Some(&token)).await;
        let newest = &got["data"]["_entities"][0]["history"]["nodes"][0];
        assert_eq!(newest["action"], "user.update", "{who}: {got}");
        assert_eq!(newest["actorId"], nurse.to_string());
        assert_eq!(newest["changedFields"], json!(["displayName"]));
    }
    let own = app.gql(q, json!({ "id": nurse }), Some(&nurses)).await;
    assert_eq!(code(&own), Some("FORBIDDEN"), "a nurse reads no trail: {own}");

    let q = "query($id: ID!) { organization(id: $id) { history(first: 5) { nodes { action } } } }";
    let boss = app.token("histo", "boss@histo.test").await;
    let mine = app.gql(q, json!({ "id": org }), Some(&boss)).await;
    assert!(mine["errors"].is_null(), "{mine}");
    let other = app.org("other", &[]).await;
    let theirs = app.gql(q, json!({ "id": other }), Some(&boss)).await;
    assert_eq!(
        code(&theirs),
        Some("NOT_FOUND"),
        "another organization is not revealed: {theirs}"
    );
}
