//! In-app notifications fed by events, and the tender mails to suppliers:
//! who hears of what, in their language, their own notifications only.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Runs identity's consumer `group` of `family` on `d`, as the stream would deliver it.
async fn feed(app: &TestApp, family: &str, group: &str, d: &platform::events::Delivery) {
    let subs = identity::communication::subscriptions(&app.state);
    let sub = subs
        .iter()
        .find(|s| s.family == family && s.group == group)
        .unwrap_or_else(|| panic!("no {group} on {family}"));
    let scope = platform::db::Scope {
        organization_id: d.tenant,
        ..Default::default()
    };
    let mut tx = platform::db::TenantTx::begin_scoped(&app.runtime.pool, &scope)
        .await
        .unwrap();
    (sub.handler)(&mut tx, d).await.unwrap();
    tx.commit().await.unwrap();
}

fn event(tenant: Uuid, entity: Uuid, kind: &str, payload: Value) -> platform::events::Delivery {
    platform::events::Delivery {
        entry: "0-1".into(),
        id: Uuid::new_v4(),
        seq: 1,
        kind: kind.into(),
        version: 1,
        tenant,
        entity: Some(entity),
        occurred_at: String::new(),
        request_id: String::new(),
        traceparent: String::new(),
        payload,
    }
}

const LIST: &str =
    "query($u: Boolean) { notifications(unreadOnly: $u) { edges { node { id kind message subjectType readAt } } } }";

async fn list(app: &TestApp, token: &str, unread: bool, lang: &str) -> Vec<Value> {
    let (_, r) = app
        .gql_response(LIST, json!({ "u": unread }), Some(token), &[("accept-language", lang)])
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn suppliers_buyers_and_colleagues_hear_of_what_concerns_them() {
    let app = TestApp::spawn().await;
    let city = app.org("city", &["public"]).await;
    let acme = app.org("acme", &["public"]).await;
    let other = app.org("other", &["public"]).await;
    let clinic = app.org("clinic", &["medical"]).await;
    app.member(city, "officer@city.example", &["procurement_officer"]).await;
    app.member(acme, "boss@acme.example", &["supplier_admin"]).await;
    app.member(acme, "clerk@acme.example", &["supplier_user"]).await;
    let watcher = app.member(other, "watcher@other.example", &["supplier_user"]).await;
    let doctor = app
        .member(clinic, "doc@clinic.example", &["practitioner", "org_admin"])
        .await;
    app.member(clinic, "nurse@clinic.example", &["nurse"]).await;
    app.member(clinic, "desk@clinic.example", &["secretary"]).await;
    sqlx::query("update identity.users set locale = 'fr' where email = 'boss@acme.example'")
        .execute(&app.admin)
        .await
        .unwrap();

    let tender = Uuid::new_v4();
    let tender_payload = |extra: Value| {
        let mut p = json!({ "tenderId": tender, "buyerId": city, "reference": "T-42", "title": "Cleaning",
                            "submissionDeadline": "2030-01-15T12:00:00Z",
                            "audience": { "organizations": [acme], "users": [{ "userId": watcher, "organizationId": other }] } });
        p.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        p
    };
    let amended = event(
        city,
        tender,
        "procurement.tender.amended",
        tender_payload(json!({ "rationale": "Scope clarified" })),
    );
    feed(&app, "procurement.tender", "identity.notifications", &amended).await;
    feed(&app, "procurement.tender", "identity.notifications", &amended).await;
    let closed = event(
        city,
        tender,
        "procurement.tender.closed",
        tender_payload(json!({ "bids": 3 })),
    );
    feed(&app, "procurement.tender", "identity.notifications", &closed).await;
    let doc = Uuid::new_v4();
    let uploaded = event(
        clinic,
        doc,
        "content.document.available",
        json!({ "documentId": doc, "version": 1, "ownerType": "Patient", "ownerId": Uuid::new_v4(),
                "classification": "clinical", "uploadedBy": doctor }),
    );
    feed(&app, "content.document", "identity.notifications", &uploaded).await;
    // The clinic invites acme's boss, who has an account.
    let admin = app.token("clinic", "doc@clinic.example").await;
    app.gql(
        "mutation { inviteUser(input: { email: \"boss@acme.example\", roles: [AUDITOR] }) { id } }",
        json!({}),
        Some(&admin),
    )
    .await;
    for d in app.outbox("identity.invitation.created").await {
        feed(&app, "identity.invitation", "identity.notifications", &d).await;
    }

    let kinds = |n: &[Value]| {
        n.iter()
            .map(|n| n["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let boss_token = app.token("acme", "boss@acme.example").await;
    let got = list(&app, &boss_token, false, "fr").await;
    assert_eq!(
        kinds(&got),
        vec!["INVITATION", "TENDER_AMENDED"],
        "newest first, once each"
    );
    assert_eq!(got[1]["message"], "L'appel d'offres T-42 « Cleaning » a été modifié.");
    assert_eq!(got[0]["message"], "Org clinic vous invite à le rejoindre (auditor).");
    let clerk = app.token("acme", "clerk@acme.example").await;
    assert_eq!(kinds(&list(&app, &clerk, false, "en").await), vec!["TENDER_AMENDED"]);
    let watcher_token = app.token("other", "watcher@other.example").await;
    assert_eq!(
        kinds(&list(&app, &watcher_token, false, "en").await),
        vec!["TENDER_AMENDED"]
    );
    let officer = app.token("city", "officer@city.example").await;
    let got = list(&app, &officer, false, "de").await;
    assert_eq!(kinds(&got), vec!["BIDS_RECEIVED"]);
    assert_eq!(
        got[0]["message"],
        "Die Ausschreibung T-42 ist geschlossen: 3 Angebot(e) zu prüfen."
    );
    let nurse = app.token("clinic", "nurse@clinic.example").await;
    assert_eq!(
        kinds(&list(&app, &nurse, false, "en").await),
        vec!["DOCUMENT_AVAILABLE"]
    );
    assert!(list(&app, &admin, false, "en").await.is_empty(), "not the uploader");
    let desk = app.token("clinic", "desk@clinic.example").await;
    assert!(
        list(&app, &desk, false, "en").await.is_empty(),
        "a secretary reads no clinical document"
    );

    // Marking read: one's own only.
    let mark = "mutation($ids: [ID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) }";
    let boss_first = list(&app, &boss_token, false, "en").await[0]["id"].clone();
    let r = app
        .gql(mark, json!({ "ids": [boss_first] }), Some(&watcher_token))
        .await;
    assert_eq!(r["data"]["markNotificationsRead"], 0, "{r}");
    let r = app.gql(mark, json!({ "ids": [boss_first] }), Some(&boss_token)).await;
    assert_eq!(r["data"]["markNotificationsRead"], 1, "{r}");
    assert_eq!(
        kinds(&list(&app, &boss_token, true, "en").await),
        vec!["TENDER_AMENDED"]
    );
    let r = app.gql(mark, json!({ "all": true }), Some(&boss_token)).await;
    assert_eq!(r["data"]["markNotificationsRead"], 1);
    assert!(list(&app, &boss_token, true, "en").await.is_empty());
    assert_eq!(
        list(&app, &boss_token, false, "en").await.len(),
        2,
        "read ones stay listed"
    );
    let r = app.gql(mark, json!({}), Some(&boss_token)).await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{r}");
}

#[tokio::test]
async fn notifications_page_newest_first() {
    let app = TestApp::spawn().await;
    let city = app.org("city", &["public"]).await;
    app.member(city, "officer@city.example", &["procurement_officer"]).await;
    for i in 0..5 {
        let t = Uuid::new_v4();
        let d = event(
            city,
            t,
            "procurement.tender.closed",
            json!({ "tenderId": t, "reference": format!("T-{i}"), "title": "x", "submissionDeadline": "2030-01-01T00:00:00Z", "bids": i }),
        );
        feed(&app, "procurement.tender", "identity.notifications", &d).await;
    }
    let token = app.token("city", "officer@city.example").await;
    let q = "query($a: String) { notifications(first: 2, after: $a) { edges { node { message } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = vec![];
    let mut after = Value::Null;
    loop {
        let r = app.gql(q, json!({ "a": after }), Some(&token)).await;
        let c = &r["data"]["notifications"];
        for e in c["edges"].as_array().unwrap() {
            seen.push(e["node"]["message"].as_str().unwrap().to_string());
        }
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    let refs: Vec<String> = (0..5)
        .rev()
        .map(|i| format!("Tender T-{i} is closed: {i} bid(s) to evaluate."))
        .collect();
    assert_eq!(seen, refs);
}

#[tokio::test]
async fn an_amendment_is_mailed_to_each_supplier_in_their_language() {
    let app = TestApp::spawn().await;
    let city = app.org("city", &["public"]).await;
    let acme = app.org("acme", &["public"]).await;
    app.member(acme, "boss@acme.example", &["supplier_admin"]).await;
    app.member(acme, "clerk@acme.example", &["supplier_user"]).await;
    sqlx::query("update identity.users set locale = 'de' where email = 'clerk@acme.example'")
        .execute(&app.admin)
        .await
        .unwrap();
    let tender = Uuid::new_v4();
    let d = event(
        city,
        tender,
        "procurement.tender.amended",
        json!({ "tenderId": tender, "reference": "T-7", "title": "Snow removal", "submissionDeadline": "2030-02-01T09:00:00Z",
                "rationale": "Second lot added", "audience": { "organizations": [acme], "users": [] } }),
    );
    feed(&app, "procurement.tender", "identity.mail", &d).await;
    feed(&app, "procurement.tender", "identity.mail", &d).await;
    let mails: Vec<(String, String, String)> = testkit::mail::in_dir(&app.settings.mail.dir)
        .into_iter()
        .map(|m| (m.to, m.subject, m.text))
        .collect();
    assert_eq!(mails.len(), 2, "one each, even delivered twice: {mails:?}");
    assert_eq!(mails[0].0, "boss@acme.example");
    assert_eq!(mails[0].1, "Tender T-7 was amended");
    assert!(
        mails[0].2.contains("Second lot added") && mails[0].2.contains("2030-02-01 09:00"),
        "{}",
        mails[0].2
    );
    assert_eq!(mails[1].1, "Die Ausschreibung T-7 wurde geändert");
}
