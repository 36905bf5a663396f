//! Appointment confirmations and cancellations, mailed to the address given
//! at booking in the language asked for (the file transport of development:
//! one `.eml` per message), by medical's own mail consumer.

use platform::Role;
use serde_json::json;

use crate::helpers::{who, TestApp};

/// (to, subject, text) of what medical mailed, by subject.
fn mails(app: &TestApp) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = testkit::mail::in_dir(&app.settings.mail.dir)
        .into_iter()
        .map(|m| (m.to, m.subject, m.text))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[tokio::test]
async fn a_booking_with_an_address_is_confirmed_and_its_cancellation_announced_once() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "P-1", "Un").await;
    let doc = app.practitioner(w.org).await;
    let sec = app.token(w, Role::Secretary);
    let book = "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }";
    let d = app
        .ok(
            book,
            json!({ "i": { "patientId": patient, "practitionerId": doc, "startsAt": "2030-06-03T08:30:00Z",
                           "endsAt": "2030-06-03T09:00:00Z", "notifyEmail": " Patient@Example.org ", "notifyLocale": "de" } }),
            &sec,
        )
        .await;
    let id = d["scheduleAppointment"]["id"].clone();
    // Without an address, nothing is mailed.
    app.ok(
        book,
        json!({ "i": { "patientId": patient, "practitionerId": doc, "startsAt": "2030-06-03T10:00:00Z", "endsAt": "2030-06-03T10:30:00Z" } }),
        &sec,
    )
    .await;
    let bad = app
        .gql(
            book,
            json!({ "i": { "patientId": patient, "practitionerId": doc, "startsAt": "2030-06-03T11:00:00Z",
                           "endsAt": "2030-06-03T11:30:00Z", "notifyEmail": "not-an-address" } }),
            &sec,
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "notifyEmail", "{bad}");
    // Stored sealed: the address is not readable at rest.
    assert_eq!(
        app.count("select count(*) from medical.appointments where notify_email_enc is not null")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from medical.appointments where position('example.org'::bytea in notify_email_enc) > 0"
        )
        .await,
        0
    );

    app.mail_all("medical.appointment.scheduled").await;
    app.mail_all("medical.appointment.scheduled").await;
    let got = mails(&app);
    assert_eq!(
        got.len(),
        1,
        "one confirmation, even when its event comes twice: {got:?}"
    );
    assert_eq!(got[0].0, "patient@example.org");
    assert_eq!(got[0].1, "Ihr Termin am 2030-06-03 bei Dr Test");
    assert!(got[0].2.contains("08:30–09:00 Uhr (UTC)"), "{}", got[0].2);

    app.ok(
        "mutation($id: ID!) { cancelAppointment(id: $id) { status } }",
        json!({ "id": id }),
        &sec,
    )
    .await;
    app.mail_all("medical.appointment.cancelled").await;
    let got = mails(&app);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1, "Termin abgesagt: 2030-06-03 bei Dr Test");
    let sent: i64 = app
        .count(
            "select count(*) from medical.mail_deliveries where status = 'sent' and recipient = 'patient@example.org'",
        )
        .await;
    assert_eq!(sent, 2);
}
