//! Who may be booked: medical's projection of identity's membership events.

use platform::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, delivery, who, TestApp, Who};

const BOOK: &str =
    "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id practitionerRemoved } }";

fn slot(patient: Uuid, practitioner: Uuid, hour: u32) -> serde_json::Value {
    json!({ "i": { "patientId": patient, "practitionerId": practitioner,
        "startsAt": format!("2030-03-04T{hour:02}:00:00Z"), "endsAt": format!("2030-03-04T{hour:02}:30:00Z") } })
}

fn refusal(body: &serde_json::Value) -> (Option<&str>, Option<&str>, String) {
    (
        code(body),
        body["errors"][0]["extensions"]["field"].as_str(),
        body["errors"][0]["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn only_a_current_practitioner_of_the_organization_can_be_booked() {
    let app = TestApp::spawn().await;
    let w = who();
    let other = who();
    let patient = app.patient(w.org, "P-1", "Un").await;
    let sec = app.token(w, Role::Secretary);

    // Unknown to medical, a member of another organization, a nurse.
    let stranger = Uuid::new_v4();
    let elsewhere = app.practitioner(other.org).await;
    let nurse = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    app.enroll(nurse, &[Role::Nurse]).await;
    for (who, reason) in [
        (stranger, "is not a member of this organization"),
        (elsewhere, "is not a member of this organization"),
        (nurse.user, "is not a practitioner of this organization"),
    ] {
        let body = app.gql(BOOK, slot(patient, who, 9), &sec).await;
        let (c, field, message) = refusal(&body);
        assert_eq!((c, field), (Some("BAD_USER_INPUT"), Some("practitionerId")), "{body}");
        assert!(message.contains(reason), "{message}");
    }
    assert_eq!(app.count("select count(*) from medical.appointments").await, 0);

    // A nurse who becomes a practitioner can be booked.
    app.membership_event(
        nurse,
        "identity.membership.roles_changed",
        json!({ "userId": nurse.user, "roles": ["nurse", "practitioner"] }),
    )
    .await;
    let d = app.ok(BOOK, slot(patient, nurse.user, 9), &sec).await;
    assert_eq!(d["scheduleAppointment"]["practitionerRemoved"], false);
}

#[tokio::test]
async fn a_removed_member_keeps_their_appointments_flagged_and_gets_no_new_ones() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "P-1", "Un").await;
    let sec = app.token(w, Role::Secretary);
    let doc = Who {
        org: w.org,
        user: app.practitioner(w.org).await,
    };
    let booked = app.ok(BOOK, slot(patient, doc.user, 9), &sec).await;
    let id = booked["scheduleAppointment"]["id"].clone();

    app.membership_event(
        doc,
        "identity.membership.removed",
        json!({ "userId": doc.user, "roles": ["practitioner"] }),
    )
    .await;
    let body = app.gql(BOOK, slot(patient, doc.user, 11), &sec).await;
    let (c, field, message) = refusal(&body);
    assert_eq!((c, field), (Some("BAD_USER_INPUT"), Some("practitionerId")));
    assert!(message.contains("no longer a member"), "{message}");
    // Their procedures are refused too (a token can outlive the removal).
    let rec = app
        .gql(
            "mutation($i: RecordProcedureInput!) { recordProcedure(input: $i) { id } }",
            json!({ "i": { "patientId": patient, "code": "DEQP003", "performedAt": "2024-01-01T10:00:00Z" } }),
            &app.token(doc, Role::Practitioner),
        )
        .await;
    assert_eq!(code(&rec), Some("BAD_USER_INPUT"), "{rec}");
    assert_eq!(app.count("select count(*) from medical.procedures").await, 0);

    // The existing appointment stays, flagged.
    let d = app
        .ok(
            "query($id: ID!) { appointment(id: $id) { status practitionerRemoved } }",
            json!({ "id": id }),
            &sec,
        )
        .await;
    assert_eq!(
        d["appointment"],
        json!({ "status": "SCHEDULED", "practitionerRemoved": true })
    );
}

#[tokio::test]
async fn an_older_event_never_overwrites_a_newer_state_and_a_snapshot_rebuilds_the_view() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "P-1", "Un").await;
    let sec = app.token(w, Role::Secretary);
    let doc = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    // Removed (seq 2) arrives before added (seq 1): the removal stands.
    let apply = async |seq: i64, kind: &str, payload: serde_json::Value| {
        app.apply(&delivery(w.org, seq, kind, 1, payload)).await.unwrap();
    };
    let member = json!({ "userId": doc.user, "roles": ["practitioner"] });
    let base = 1_000_000_000;
    apply(base + 2, "identity.membership.removed", member.clone()).await;
    apply(base + 1, "identity.membership.added", member.clone()).await;
    let body = app.gql(BOOK, slot(patient, doc.user, 9), &sec).await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");

    // A snapshot lists who is a member now: the view becomes exactly that.
    let kept = Uuid::new_v4();
    apply(
        base + 3,
        "identity.membership.snapshot",
        json!({ "members": [
            { "userId": doc.user, "roles": ["practitioner"], "displayName": "Dr Back" },
            { "userId": kept, "roles": ["nurse"], "displayName": "Nurse" },
        ] }),
    )
    .await;
    app.ok(BOOK, slot(patient, doc.user, 9), &sec).await;
    apply(
        base + 4,
        "identity.membership.snapshot",
        json!({ "members": [{ "userId": kept, "roles": ["nurse"] }] }),
    )
    .await;
    let body = app.gql(BOOK, slot(patient, doc.user, 11), &sec).await;
    assert!(refusal(&body).2.contains("no longer a member"), "{body}");
    // A version this build does not understand is an error (it ends in the dead-letter stream).
    let future = delivery(w.org, base + 5, "identity.membership.added", 2, json!({}));
    assert!(app.apply(&future).await.is_err());
}

#[tokio::test]
async fn a_redelivered_older_rename_never_brings_back_an_erased_name() {
    let app = TestApp::spawn().await;
    let w = who();
    let doc = Uuid::new_v4();
    let base = 2_000_000_000;
    let apply = async |seq: i64, kind: &str, payload: serde_json::Value| {
        app.apply(&delivery(w.org, seq, kind, 1, payload)).await.unwrap();
    };
    apply(
        base + 1,
        "identity.membership.added",
        json!({ "userId": doc, "roles": ["practitioner"], "displayName": "Dr Martin" }),
    )
    .await;
    apply(
        base + 2,
        "identity.user.updated",
        json!({ "userId": doc, "displayName": "Dr Martin-Roy" }),
    )
    .await;
    // Erasure renames the member (seq 4); the rename of seq 2 comes again,
    // then a roles change older than the erasure but newer than the join.
    apply(
        base + 4,
        "identity.user.updated",
        json!({ "userId": doc, "displayName": "Erased user" }),
    )
    .await;
    apply(
        base + 2,
        "identity.user.updated",
        json!({ "userId": doc, "displayName": "Dr Martin-Roy" }),
    )
    .await;
    apply(
        base + 3,
        "identity.membership.roles_changed",
        json!({ "userId": doc, "roles": ["practitioner", "nurse"], "displayName": "Dr Martin-Roy" }),
    )
    .await;
    let (name, roles): (Option<String>, Vec<String>) = sqlx::query_as(
        "select display_name, roles from medical.practitioners where organization_id = $1 and user_id = $2",
    )
    .bind(w.org)
    .bind(doc)
    .fetch_one(&app.admin)
    .await
    .expect("practitioner");
    assert_eq!(name.as_deref(), Some("Erased user"));
    assert_eq!(roles, ["practitioner", "nurse"], "the roles change still applies");
}
