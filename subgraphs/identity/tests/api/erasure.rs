//! `eraseUser`: an account erased in one call, by its owner or by the
//! administrator of their only organization; afterwards nobody finds the
//! user by name or e-mail, they cannot sign in, and every organization they
//! belonged to heard of it.

use serde_json::{json, Value};

use crate::helpers::{code, TestApp, PASSWORD};

const ERASE: &str = "mutation($u: ID, $pw: String) { eraseUser(userId: $u, currentPassword: $pw) {
    subjectId erased { what count } retained { what category until } } }";

fn count_of(report: &Value, what: &str) -> i64 {
    report["erased"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["what"] == what))
        .and_then(|x| x["count"].as_i64())
        .unwrap_or_else(|| panic!("no `{what}` in {report}"))
}

#[tokio::test]
async fn a_user_erased_by_their_admin_or_themself_is_gone_everywhere_but_the_trail_by_id() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &["medical"]).await;
    let beta = app.org("beta", &["medical"]).await;
    app.member(acme, "admin@acme.test", &["org_admin"]).await;
    app.member(acme, "second@acme.test", &["org_admin"]).await;
    let bob = app.member(acme, "bob@acme.test", &["nurse"]).await;
    let alice = app.member(acme, "alice@acme.test", &["practitioner"]).await;
    app.member(beta, "alice@acme.test", &["practitioner"]).await;
    let admin = app.token("acme", "admin@acme.test").await;
    let bobs = app.token("acme", "bob@acme.test").await;

    // A nurse erases no one else; an admin no one who belongs elsewhere too.
    let denied = app.gql(ERASE, json!({ "u": alice }), Some(&bobs)).await;
    assert_eq!(code(&denied), Some("FORBIDDEN"), "{denied}");
    let elsewhere = app.gql(ERASE, json!({ "u": alice }), Some(&admin)).await;
    assert_eq!(code(&elsewhere), Some("CONFLICT"), "{elsewhere}");

    // Another organization's admin, with bob's id: bob does not exist for them.
    let other = app.org("other", &[]).await;
    app.member(other, "admin@other.test", &["org_admin"]).await;
    let outsider = app.token("other", "admin@other.test").await;
    let foreign = app.gql(ERASE, json!({ "u": bob }), Some(&outsider)).await;
    assert_eq!(code(&foreign), Some("NOT_FOUND"), "{foreign}");
    let malformed = app.gql(ERASE, json!({ "u": "not-an-id" }), Some(&admin)).await;
    assert_eq!(code(&malformed), Some("BAD_USER_INPUT"), "{malformed}");
    assert_eq!(
        app.count("select count(*) from identity.users where email = 'bob@acme.test'")
            .await,
        1,
        "refused erasures change nothing"
    );

    // Two mails went to bob of one event (a reminder sent twice, say).
    let event = uuid::Uuid::new_v4();
    for template in ["invitation", "password_reset"] {
        sqlx::query(
            "insert into identity.mail_deliveries (organization_id, event_id, template, locale, recipient, status, last_error)
             values ($1, $2, $3, 'en', 'bob@acme.test', 'failed', 'mailbox bob@acme.test is full')",
        )
        .bind(acme)
        .bind(event)
        .bind(template)
        .execute(&app.admin)
        .await
        .expect("mail record");
    }

    let report = app.gql(ERASE, json!({ "u": bob }), Some(&admin)).await;
    assert!(report["errors"].is_null(), "{report}");
    let mails =
        "select count(*) from identity.mail_deliveries where recipient ilike '%bob%' or last_error ilike '%bob%'";
    assert_eq!(app.count(mails).await, 0, "bob's address is gone from the mail records");
    assert_eq!(
        app.count(&format!(
            "select count(*) from identity.mail_deliveries where event_id = '{event}'"
        ))
        .await,
        2,
        "the records stay"
    );
    let report = &report["data"]["eraseUser"];
    assert_eq!(report["subjectId"], bob.to_string());
    assert_eq!(count_of(report, "memberships"), 1);
    assert_eq!(count_of(report, "sessions"), 1, "bob's sign-in");
    assert_eq!(report["retained"][0]["category"], "audit_trail");
    let bob_row = "select count(*) from identity.users where email like 'bob%' or display_name like 'bob%'";
    assert_eq!(app.count(bob_row).await, 0, "not found by name or e-mail");
    let login = app.login_raw("acme", "bob@acme.test", PASSWORD, None).await;
    assert!(login["data"]["login"].is_null(), "{login}");
    let me = app.gql("{ me { email } }", json!({}), Some(&bobs)).await;
    assert_eq!(code(&me), Some("UNAUTHENTICATED"), "bob's session ended: {me}");
    let heard = format!(
        "select count(*) from identity.event_outbox where entity_id = '{bob}'
          and type in ('identity.membership.removed', 'identity.user.updated')"
    );
    assert_eq!(
        app.count(&heard).await,
        2,
        "other subgraphs drop their copy of the name"
    );

    // Alice erases herself, proving it is her: a bearer token alone, or a
    // wrong password, changes nothing.
    let hers = app.token("acme", "alice@acme.test").await;
    let bare = app.gql(ERASE, json!({}), Some(&hers)).await;
    assert_eq!(code(&bare), Some("BAD_USER_INPUT"), "{bare}");
    let wrong = app.gql(ERASE, json!({ "pw": "not-her-password" }), Some(&hers)).await;
    assert_eq!(code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    assert_eq!(
        app.count(&format!(
            "select count(*) from identity.memberships where user_id = '{alice}'"
        ))
        .await,
        2,
        "refused, nothing erased"
    );
    assert!(app.gql("{ me { email } }", json!({}), Some(&hers)).await["errors"].is_null());
    // Both organizations hear of it.
    let report = app.gql(ERASE, json!({ "pw": PASSWORD }), Some(&hers)).await;
    assert!(report["errors"].is_null(), "{report}");
    assert_eq!(count_of(&report["data"]["eraseUser"], "memberships"), 2);
    let heard = format!(
        "select count(distinct organization_id) from identity.event_outbox
          where entity_id = '{alice}' and payload->>'displayName' = 'Erased user'"
    );
    assert_eq!(app.count(&heard).await, 2);
    assert_eq!(
        app.count(&format!(
            "select count(*) from identity.memberships where user_id = '{alice}'"
        ))
        .await,
        0
    );

    // The last administrator stays until another is appointed; nothing changes.
    let solo = app.org("solo", &[]).await;
    app.member(solo, "carol@solo.test", &["org_admin"]).await;
    let carol = app.token("solo", "carol@solo.test").await;
    let refused = app.gql(ERASE, json!({ "pw": PASSWORD }), Some(&carol)).await;
    assert_eq!(code(&refused), Some("CONFLICT"), "{refused}");
    assert!(app.gql("{ me { email } }", json!({}), Some(&carol)).await["errors"].is_null());

    let mut conn = app.admin.acquire().await.expect("conn");
    let trail = platform::audit::chain::verify(&mut conn, "identity", None)
        .await
        .expect("verify");
    assert!(trail.broken.is_empty(), "{:?}", trail.broken);
    assert!(
        app.count(&format!(
            "select count(*) from identity.audit_log where action = 'user.erase' and entity_id = '{bob}'"
        ))
        .await
            == 1
    );
}

#[tokio::test]
async fn an_erased_users_name_and_address_leave_the_published_events_and_the_streams() {
    let app = TestApp::spawn().await;
    let org = app.org("events-erasure", &["medical"]).await;
    app.member(org, "admin@events-erasure.test", &["org_admin"]).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("erin-{tag}@events-erasure.test");
    let name = format!("Erin Zed {tag}");
    let erin = app.member(org, &email, &["nurse"]).await;
    let token = app.token("events-erasure", &email).await;
    // Events that carry her name and her address.
    let renamed = app
        .gql(
            "mutation($n: String!) { updateProfile(input: { displayName: $n }) { displayName } }",
            json!({ "n": name }),
            Some(&token),
        )
        .await;
    assert!(renamed["errors"].is_null(), "{renamed}");
    let reset = app
        .gql(
            "mutation($e: String!) { requestPasswordReset(organization: \"events-erasure\", email: $e) }",
            json!({ "e": email }),
            None,
        )
        .await;
    assert!(reset["errors"].is_null(), "{reset}");
    let published = |what: &str| {
        format!(
            "select count(*) from identity.event_outbox where published_at is not null
               and (payload::text ilike '%{what}%')"
        )
    };
    // The relay publishes them (tests drive it).
    let relay = platform::events::RelaySettings {
        prefix: app.settings.redis.events_prefix.clone(),
        ..Default::default()
    };
    platform::events::relay_once(&app.runtime.pool, &app.runtime.kv, &relay)
        .await
        .expect("relay");
    assert_eq!(
        app.count(&published(&tag)).await,
        2,
        "published with her name and address"
    );
    let in_streams = async || {
        testkit::event_streams(&app.settings.redis.events_prefix)
            .await
            .iter()
            .map(|(_, text)| text.matches(&tag).count())
            .sum::<usize>()
    };
    assert!(in_streams().await >= 2, "the streams hold her name and address before");

    let report = app.gql(ERASE, json!({ "pw": PASSWORD }), Some(&token)).await;
    assert!(report["errors"].is_null(), "{report}");
    assert!(
        count_of(&report["data"]["eraseUser"], "name and address in published events") >= 2,
        "{report}"
    );
    assert_eq!(
        app.count(&published(&tag)).await,
        0,
        "the outbox keeps her name or address"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from identity.event_outbox where payload::text ilike '%{tag}%'"
        ))
        .await,
        0
    );
    assert_eq!(in_streams().await, 0, "a stream keeps her name or address");
    // Consumers still hear of the erasure itself.
    let heard = format!(
        "select count(*) from identity.event_outbox where entity_id = '{erin}' and payload->>'erased' = 'true'"
    );
    assert_eq!(app.count(&heard).await, 1);
}

#[tokio::test]
async fn a_users_part_of_their_data_export_comes_in_bounded_pages() {
    let app = TestApp::spawn().await;
    let org = app.org("pages", &["medical"]).await;
    let user = app.member(org, "pia@pages.test", &["nurse"]).await;
    let token = app.token("pages", "pia@pages.test").await;
    for name in ["Pia One", "Pia Two", "Pia Three"] {
        let r = app
            .gql(
                "mutation($n: String!) { updateProfile(input: { displayName: $n }) { displayName } }",
                json!({ "n": name }),
                Some(&token),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let get = async |query: &str| -> (u16, Value) {
        let r = app
            .http
            .get(format!("{}/rgpd/subject{query}", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("subject");
        (r.status().as_u16(), r.json().await.expect("json"))
    };
    let (status, first) = get("?limit=2").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["subjectId"], user.to_string());
    assert_eq!(first["actions"].as_array().map(Vec::len), Some(2), "{first}");
    assert!(
        first["records"]["account"].is_object(),
        "the records come first: {first}"
    );
    let next = first["next"].as_i64().expect("a next page");
    let (_, second) = get(&format!("?limit=2&after={next}")).await;
    let more = second["actions"].as_array().map_or(0, Vec::len);
    assert!(more >= 1, "{second}");
    assert!(second.get("records").is_none(), "records once: {second}");
    let (_, whole) = get("").await;
    assert_eq!(whole["actions"].as_array().map(Vec::len), Some(2 + more), "{whole}");
    assert!(whole.get("next").is_none());
    let (status, refused) = get("?limit=100000").await;
    assert_eq!(status, 400, "{refused}");
}
