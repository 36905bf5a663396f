//! `erasePatient`: one call answers a patient's erasure request; the report
//! says what went and what the law keeps until when; nobody finds the
//! patient by name afterwards; the trail still verifies; retention later
//! deletes what was kept.

use chrono::{DateTime, Duration, Utc};
use platform::{kit::SubgraphApp, Role};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, who, TestApp, Who};

const ERASE: &str = "mutation($p: ID!, $r: String!) { erasePatient(patientId: $p, reason: $r) {
    subjectId erasedAt erased { what count } retained { what count category until rule } } }";

fn find<'a>(list: &'a Value, what: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| {
            l.iter()
                .find(|x| x["what"].as_str().is_some_and(|w| w.starts_with(what)))
        })
        .unwrap_or_else(|| panic!("no `{what}` in {list}"))
}

#[tokio::test]
async fn one_call_erases_a_patient_reports_what_is_kept_and_retention_later_deletes_it() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "E-1", "Dupont").await;
    let keep = app.patient(w.org, "E-2", "Dupontel").await;
    let doctor = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    app.ok(
        "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"Seen for a cough\" }) { id } }",
        json!({ "p": patient }),
        &app.token(doctor, Role::Practitioner),
    )
    .await;
    let booked = app.appointment(w.org, patient, Uuid::new_v4(), 9).await;
    assert_eq!(booked["data"]["scheduleAppointment"]["status"], "SCHEDULED", "{booked}");
    // A confirmation went to the patient's address: the mail record keeps it.
    let doc = app.practitioner(w.org).await;
    app.ok(
        "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
        json!({ "i": { "patientId": patient, "practitionerId": doc, "startsAt": "2030-06-03T08:30:00Z",
                       "endsAt": "2030-06-03T09:00:00Z", "notifyEmail": "Dupont.Home@Example.org" } }),
        &app.token(w, Role::Secretary),
    )
    .await;
    app.mail_all("medical.appointment.scheduled").await;
    let addressed = "select count(*) from medical.mail_deliveries where recipient ilike '%example.org%'";
    assert_eq!(app.count(addressed).await, 1);
    let admin = app.token(w, Role::OrgAdmin);

    // Only the practice's administrators erase; a bad request changes nothing.
    let denied = app
        .gql(
            ERASE,
            json!({ "p": patient, "r": "asked" }),
            &app.token(doctor, Role::Practitioner),
        )
        .await;
    assert_eq!(code(&denied), Some("FORBIDDEN"));
    let blank = app.gql(ERASE, json!({ "p": patient, "r": "  " }), &admin).await;
    assert_eq!(code(&blank), Some("BAD_USER_INPUT"), "{blank}");
    let other = app
        .gql(
            ERASE,
            json!({ "p": patient, "r": "asked" }),
            &app.token(who(), Role::OrgAdmin),
        )
        .await;
    assert_eq!(code(&other), Some("NOT_FOUND"), "another organization's admin: {other}");
    let name = "select family_name from medical.patients where id = $1";
    let family: String = sqlx::query_scalar(name)
        .bind(patient)
        .fetch_one(&app.admin)
        .await
        .expect("row");
    assert_eq!(family, "Dupont", "nothing changed yet");

    let report = app
        .ok(
            ERASE,
            json!({ "p": patient, "r": "RGPD art. 17 request of 2026-12-01" }),
            &admin,
        )
        .await["erasePatient"]
        .clone();
    assert_eq!(report["subjectId"], patient.to_string());
    assert_eq!(find(&report["erased"], "name")["count"], 1);
    assert_eq!(find(&report["erased"], "future appointments")["count"], 2);
    assert_eq!(find(&report["erased"], "addresses in mail records")["count"], 1);
    assert_eq!(
        app.count(addressed).await,
        0,
        "the address is gone from the mail records"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from medical.mail_deliveries where organization_id = '{}'",
            w.org
        ))
        .await,
        1,
        "the record that a mail went out stays"
    );
    let notes = find(&report["retained"], "clinical notes");
    assert_eq!(
        (notes["count"].as_i64(), notes["category"].as_str()),
        (Some(1), Some("clinical_records"))
    );
    let until: DateTime<Utc> = notes["until"].as_str().expect("until").parse().expect("date");
    let years = (until - Utc::now()).num_days() / 365;
    assert_eq!(years, 20, "kept 20 years from the record's closing: {until}");
    assert_eq!(find(&report["retained"], "audit trail")["category"], "audit_trail");

    // Nobody finds the patient by name any more; the other Dupont is still there.
    let found = app
        .ok(
            "{ patients(search: \"Dupont\", first: 10) { nodes { id familyName } } }",
            json!({}),
            &admin,
        )
        .await;
    let ids: Vec<&str> = found["patients"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, [keep.to_string().as_str()], "{found}");
    let (family, sealed): (String, Option<Vec<u8>>) =
        sqlx::query_as("select family_name, sealed_identity_enc from medical.patients where id = $1")
            .bind(patient)
            .fetch_one(&app.admin)
            .await
            .expect("row");
    assert_eq!(family, "X");
    let sealed = sealed.expect("the identity the record needs is sealed");
    assert!(
        !String::from_utf8_lossy(&sealed).contains("Dupont"),
        "sealed, not readable"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from medical.appointments where patient_id = '{patient}' and status = 'cancelled'"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count(&format!("select count(*) from medical.event_outbox where type = 'medical.patient.erased' and entity_id = '{patient}'")).await,
        1,
        "content hears of it"
    );
    let again = app.gql(ERASE, json!({ "p": patient, "r": "twice" }), &admin).await;
    assert_eq!(code(&again), Some("CONFLICT"));
    let mut conn = app.admin.acquire().await.expect("conn");
    let trail = platform::audit::chain::verify(&mut conn, "medical", None)
        .await
        .expect("verify");
    assert!(trail.broken.is_empty(), "{:?}", trail.broken);

    // When the record's retention ends, the retention job deletes what was kept.
    sqlx::query("update medical.patients set deleted_at = deleted_at - interval '21 years' where id = $1")
        .bind(patient)
        .execute(&app.admin)
        .await
        .expect("backdate");
    platform::retention::run(
        &app.admin,
        "medical",
        medical::Medical::RETENTION,
        &app.settings.retention,
        Utc::now() + Duration::seconds(1),
        false,
    )
    .await
    .expect("retention");
    assert_eq!(
        app.count(&format!(
            "select count(*) from medical.clinical_notes where patient_id = '{patient}'"
        ))
        .await,
        0
    );
    let sealed: Option<Vec<u8>> = sqlx::query_scalar("select sealed_identity_enc from medical.patients where id = $1")
        .bind(patient)
        .fetch_one(&app.admin)
        .await
        .expect("row");
    assert!(sealed.is_none(), "the sealed identity goes with the record");
}
