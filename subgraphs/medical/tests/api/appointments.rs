//! Booking: no double booking, idempotency, validation, lifecycle, schedule.

use platform::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{code, who, TestApp};

const BOOK: &str = "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id status startsAt } }";

fn slot(patient: Uuid, practitioner: Uuid, start: &str, end: &str) -> serde_json::Value {
    json!({ "patientId": patient, "practitionerId": practitioner, "startsAt": start, "endsAt": end, "reason": "Check-up" })
}

#[tokio::test]
async fn a_practitioner_is_never_double_booked_but_a_cancelled_slot_frees_up() {
    let app = TestApp::spawn().await;
    let w = who();
    let (p1, p2) = (
        app.patient(w.org, "M-1", "Un").await,
        app.patient(w.org, "M-2", "Deux").await,
    );
    let doc = app.practitioner(w.org).await;
    let t = app.token(w, Role::Secretary);
    let first = app
        .ok(
            BOOK,
            json!({ "i": slot(p1, doc, "2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z") }),
            &t,
        )
        .await;
    let overlapping = app
        .gql(
            BOOK,
            json!({ "i": slot(p2, doc, "2030-01-07T09:15:00Z", "2030-01-07T09:45:00Z") }),
            &t,
        )
        .await;
    assert_eq!(code(&overlapping), Some("CONFLICT"), "{overlapping}");
    // Back to back is fine; another practitioner at the same time is fine.
    app.ok(
        BOOK,
        json!({ "i": slot(p2, doc, "2030-01-07T09:30:00Z", "2030-01-07T10:00:00Z") }),
        &t,
    )
    .await;
    app.ok(
        BOOK,
        json!({ "i": slot(p2, app.practitioner(w.org).await, "2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z") }),
        &t,
    )
    .await;
    assert_eq!(app.count("select count(*) from medical.appointments").await, 3);
    // One event per booking, written with it: the refused one left none.
    assert_eq!(
        app.count("select count(*) from medical.event_outbox where type = 'medical.appointment.scheduled' and published_at is null")
            .await,
        3
    );

    app.ok(
        "mutation($id: ID!) { cancelAppointment(id: $id) { status } }",
        json!({ "id": first["scheduleAppointment"]["id"] }),
        &t,
    )
    .await;
    app.ok(
        BOOK,
        json!({ "i": slot(p2, doc, "2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z") }),
        &t,
    )
    .await;
}

#[tokio::test]
async fn the_same_idempotency_key_books_once_even_when_requests_race() {
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "M-1", "Un").await;
    let doc = app.practitioner(w.org).await;
    let t = app.token(w, Role::Secretary);
    let mut i = slot(p, doc, "2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z");
    i["idempotencyKey"] = json!("booking-42");
    let a = app.ok(BOOK, json!({ "i": i }), &t).await;
    let b = app.ok(BOOK, json!({ "i": i }), &t).await;
    assert_eq!(a, b, "a retry returns the first booking");

    let mut j = slot(p, doc, "2030-01-08T09:00:00Z", "2030-01-08T09:30:00Z");
    j["idempotencyKey"] = json!("booking-43");
    let (x, y, z) = tokio::join!(
        app.gql(BOOK, json!({ "i": j }), &t),
        app.gql(BOOK, json!({ "i": j }), &t),
        app.gql(BOOK, json!({ "i": j }), &t)
    );
    let ids: Vec<_> = [&x, &y, &z]
        .iter()
        .map(|r| r["data"]["scheduleAppointment"]["id"].clone())
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0] && id.is_string()), "{x} {y} {z}");
    assert_eq!(app.count("select count(*) from medical.appointments").await, 2);
    assert_eq!(
        app.count("select count(*) from medical.audit_log where action = 'appointment.schedule'")
            .await,
        2
    );
    assert_eq!(
        app.count("select count(*) from medical.event_outbox where type = 'medical.appointment.scheduled'")
            .await,
        2,
        "a replayed booking emits no second event"
    );

    let mut other = slot(p, doc, "2030-01-09T09:00:00Z", "2030-01-09T09:30:00Z");
    other["idempotencyKey"] = json!("booking-42");
    assert_eq!(
        code(&app.gql(BOOK, json!({ "i": other }), &t).await),
        Some("CONFLICT"),
        "same key, different booking"
    );
}

#[tokio::test]
async fn bad_bookings_are_refused_with_nothing_written() {
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "M-1", "Un").await;
    let doc = app.practitioner(w.org).await;
    let t = app.token(w, Role::Secretary);
    for (i, field) in [
        (slot(p, doc, "2030-01-07T10:00:00Z", "2030-01-07T09:00:00Z"), "endsAt"),
        (slot(p, doc, "2030-01-07T10:00:00Z", "2030-01-07T10:00:00Z"), "endsAt"),
        (slot(p, doc, "2030-01-07T08:00:00Z", "2030-01-08T09:00:00Z"), "endsAt"),
        (
            slot(Uuid::new_v4(), doc, "2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z"),
            "patientId",
        ),
        (
            json!({ "patientId": "nope", "practitionerId": doc, "startsAt": "2030-01-07T09:00:00Z", "endsAt": "2030-01-07T09:30:00Z" }),
            "patientId",
        ),
    ] {
        let body = app.gql(BOOK, json!({ "i": i }), &t).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{i}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("select count(*) from medical.appointments").await, 0);
    assert_eq!(
        app.count("select count(*) from medical.audit_log where action like 'appointment%'")
            .await,
        0
    );
}

#[tokio::test]
async fn appointments_follow_their_lifecycle() {
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "M-1", "Un").await;
    let booked = app.appointment(w.org, p, w.user, 9).await;
    let id = booked["data"]["scheduleAppointment"]["id"].clone();
    let (sec, doc) = (app.token(w, Role::Secretary), app.token(w, Role::Practitioner));
    let step = |m: &'static str| format!("mutation($id: ID!) {{ {m}(id: $id) {{ status }} }}");
    assert_eq!(
        code(&app.gql(&step("completeAppointment"), json!({ "id": id }), &doc).await),
        Some("CONFLICT"),
        "not checked in yet"
    );
    assert_eq!(
        code(&app.gql(&step("completeAppointment"), json!({ "id": id }), &sec).await),
        Some("FORBIDDEN"),
        "secretaries do not complete visits"
    );
    assert_eq!(
        app.ok(&step("checkInAppointment"), json!({ "id": id }), &sec).await["checkInAppointment"]["status"],
        "CHECKED_IN"
    );
    assert_eq!(
        app.ok(&step("completeAppointment"), json!({ "id": id }), &doc).await["completeAppointment"]["status"],
        "COMPLETED"
    );
    assert_eq!(
        code(&app.gql(&step("cancelAppointment"), json!({ "id": id }), &sec).await),
        Some("CONFLICT")
    );
    assert_eq!(
        code(
            &app.gql(&step("cancelAppointment"), json!({ "id": Uuid::new_v4() }), &sec)
                .await
        ),
        Some("NOT_FOUND")
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from medical.audit_log where entity_type = 'Appointment' order by created_at",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec![
            "appointment.schedule",
            "appointment.checked_in",
            "appointment.completed"
        ]
    );
    // Each step records the state it actually left, not the states it allowed.
    let moves: Vec<serde_json::Value> = sqlx::query_scalar(
        "select details from medical.audit_log where action in ('appointment.checked_in', 'appointment.completed') order by created_at",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(
        moves,
        vec![
            json!({ "from": "scheduled", "to": "checked_in" }),
            json!({ "from": "checked_in", "to": "completed" })
        ]
    );
}

#[tokio::test]
async fn a_users_schedule_lists_their_appointments_in_the_range() {
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "M-1", "Un").await;
    for h in [8, 10, 14] {
        app.appointment(w.org, p, w.user, h).await;
    }
    app.appointment(w.org, p, Uuid::new_v4(), 9).await;
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id schedule(from: \"2030-01-07T09:00:00Z\", to: \"2030-01-07T23:00:00Z\") { startsAt patient { familyName } } } } }";
    let d = app
        .ok(
            q,
            json!({ "r": [{ "__typename": "User", "id": w.user }] }),
            &app.token(w, Role::Practitioner),
        )
        .await;
    let starts: Vec<&str> = d["_entities"][0]["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["startsAt"].as_str().unwrap())
        .collect();
    assert_eq!(starts, vec!["2030-01-07T10:00:00+00:00", "2030-01-07T14:00:00+00:00"]);
    let bad = app
        .gql(
            q.replace("23:00", "08:00").as_str(),
            json!({ "r": [{ "__typename": "User", "id": w.user }] }),
            &app.token(w, Role::Practitioner),
        )
        .await;
    assert_eq!(code(&bad), Some("BAD_USER_INPUT"), "to before from");
}

#[tokio::test]
async fn a_status_the_code_does_not_know_is_an_error_never_a_valid_state() {
    let app = TestApp::spawn().await;
    let w = who();
    let p = app.patient(w.org, "M-1", "Un").await;
    let booked = app.appointment(w.org, p, w.user, 9).await;
    let id = booked["data"]["scheduleAppointment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A later migration (or a hand edit) writes a status this build does not know.
    sqlx::raw_sql(&format!(
        "alter table medical.appointments drop constraint appointments_status_check;
         update medical.appointments set status = 'teleported' where id = '{id}'"
    ))
    .execute(&app.admin)
    .await
    .unwrap();
    let body = app
        .gql(
            "query($id: ID!) { appointment(id: $id) { status } }",
            json!({ "id": id }),
            &app.token(w, Role::Secretary),
        )
        .await;
    assert_eq!(code(&body), Some("INTERNAL"), "{body}");
    assert!(!body.to_string().contains("teleported"), "{body}");
}
