//! `erasePatient`: one call answers a patient's erasure request; the report
//! says what went and what the law keeps until when; nobody finds the
//! patient by name afterwards; the trail still verifies; retention later
//! deletes what was kept.

use chrono::{DateTime, Duration, Utc};
use platform::{kit::SubgraphApp, Role};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, who, TestApp, Who};

const ERASE: &str =
    "mutation($p: ID!, $r: String!, $m: String!) { erasePatient(patientId: $p, reason: $r, confirmMrn: $m) {
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
    // One invoice paid, one still open.
    let clerk = app.token(w, Role::BillingClerk);
    for pay in [true, false] {
        let id = app
            .ok(
                "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { id } }",
                json!({ "i": { "patientId": patient, "lines": [{ "code": "GS", "description": "Consultation", "quantity": 1, "unitPriceCents": 3000 }] } }),
                &clerk,
            )
            .await["createInvoice"]["id"]
            .clone();
        app.ok(
            "mutation($id: ID!) { issueInvoice(id: $id) { id } }",
            json!({ "id": id }),
            &clerk,
        )
        .await;
        if pay {
            app.ok(
                "mutation($id: ID!) { markInvoicePaid(id: $id) { id } }",
                json!({ "id": id }),
                &clerk,
            )
            .await;
        }
    }
    let addressed = "select count(*) from medical.mail_deliveries where recipient ilike '%example.org%'";
    assert_eq!(app.count(addressed).await, 1);
    let admin = app.token(w, Role::OrgAdmin);

    // Only the practice's administrators erase; a bad request changes nothing.
    let denied = app
        .gql(
            ERASE,
            json!({ "p": patient, "r": "asked", "m": "E-1" }),
            &app.token(doctor, Role::Practitioner),
        )
        .await;
    assert_eq!(code(&denied), Some("FORBIDDEN"));
    let blank = app
        .gql(ERASE, json!({ "p": patient, "r": "  ", "m": "E-1" }), &admin)
        .await;
    assert_eq!(code(&blank), Some("BAD_USER_INPUT"), "{blank}");
    let other = app
        .gql(
            ERASE,
            json!({ "p": patient, "r": "asked", "m": "E-1" }),
            &app.token(who(), Role::OrgAdmin),
        )
        .await;
    assert_eq!(code(&other), Some("NOT_FOUND"), "another organization's admin: {other}");
    // The id of one patient with the MRN of another: refused, nothing changes.
    let misdirected = app
        .gql(ERASE, json!({ "p": patient, "r": "asked", "m": "E-2" }), &admin)
        .await;
    assert_eq!(code(&misdirected), Some("BAD_USER_INPUT"), "{misdirected}");
    assert_eq!(misdirected["errors"][0]["extensions"]["field"], "confirmMrn");
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
            json!({ "p": patient, "r": "RGPD art. 17 request of 2026-12-01", "m": "E-1" }),
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
    // Invoices run on their own clock: the paid one ten years from its
    // payment, the open one from a payment still to come (no date promised).
    let paid = find(&report["retained"], "settled invoices");
    let paid_until: DateTime<Utc> = paid["until"].as_str().expect("until").parse().expect("date");
    assert_eq!((paid_until - Utc::now()).num_days() / 365, 10, "{paid}");
    let open = find(&report["retained"], "open invoices");
    assert!(open["until"].is_null(), "{open}");
    assert!(open["rule"].as_str().is_some_and(|r| r.contains("payment")), "{open}");

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
    let again = app
        .gql(ERASE, json!({ "p": patient, "r": "twice", "m": "E-1" }), &admin)
        .await;
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
    // Every row the report kept "until" that date is gone.
    for item in report["retained"].as_array().expect("retained") {
        let table = match item["what"].as_str().unwrap_or_default() {
            w if w.starts_with("clinical notes") => "clinical_notes",
            w if w.starts_with("allergies") => "allergies",
            w if w.starts_with("procedures") => "procedures",
            w if w.starts_with("appointments") => "appointments",
            _ => continue,
        };
        assert_eq!(
            app.count(&format!(
                "select count(*) from medical.{table} where patient_id = '{patient}'"
            ))
            .await,
            0,
            "{item} outlived its retention"
        );
    }
    assert!(
        report["retained"].as_array().is_some_and(|r| r
            .iter()
            .any(|i| i["what"].as_str().is_some_and(|w| w.starts_with("appointments")))),
        "{report}"
    );
    let sealed: Option<Vec<u8>> = sqlx::query_scalar("select sealed_identity_enc from medical.patients where id = $1")
        .bind(patient)
        .fetch_one(&app.admin)
        .await
        .expect("row");
    assert!(sealed.is_none(), "the sealed identity goes with the record");
}

/// Every value of `table.column` (as text) that holds one of `needles`.
async fn holding(app: &TestApp, table: &str, column: &str, needles: &[&str]) -> Vec<String> {
    let patterns: Vec<String> = needles.iter().map(|n| format!("%{n}%")).collect();
    // Dynamic on purpose: the tables of the whole schema, searched alike.
    sqlx::query_scalar(&format!(
        "select {column}::text from medical.{table} where {column}::text ilike any($1)"
    ))
    .bind(&patterns)
    .fetch_all(&app.admin)
    .await
    .expect("search")
}

#[tokio::test]
async fn after_erasure_no_trail_read_log_or_event_holds_what_identified_the_patient() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-77310", "Zarkowski").await;
    let doctor = Who {
        org: w.org,
        user: Uuid::new_v4(),
    };
    let doc = app.token(doctor, Role::Practitioner);
    // Reads that are audited: a GraphQL read of the birth date and contact,
    // FHIR searches by name, birth date and identifier.
    app.ok(
        "query($p: ID!) { patient(id: $p) { birthDate contact { email } } }",
        json!({ "p": patient }),
        &doc,
    )
    .await;
    for query in [
        "name=Zarkowski",
        "birthdate=1980-05-17",
        "identifier=MRN-77310",
        "name=zark&_count=1",
    ] {
        let r = app
            .http
            .get(format!("{}/fhir/Patient?{query}", app.url))
            .bearer_auth(&doc)
            .send()
            .await
            .expect("fhir");
        assert_eq!(r.status().as_u16(), 200, "{query}");
    }
    // A change, an appointment with a reason about them and a confirmation address.
    app.ok(
        "mutation($p: ID!) { updatePatient(id: $p, input: { givenName: \"Alexis\" }) { id } }",
        json!({ "p": patient }),
        &app.token(w, Role::Secretary),
    )
    .await;
    let practitioner = app.practitioner(w.org).await;
    app.ok(
        "mutation($i: ScheduleAppointmentInput!) { scheduleAppointment(input: $i) { id } }",
        json!({ "i": { "patientId": patient, "practitionerId": practitioner, "startsAt": "2030-06-04T08:30:00Z",
                       "endsAt": "2030-06-04T09:00:00Z", "reason": "Zarkowski: follow-up",
                       "notifyEmail": "alex@patient.example" } }),
        &app.token(w, Role::Secretary),
    )
    .await;

    let report = app
        .ok(
            ERASE,
            json!({ "p": patient, "r": "RGPD art. 17 request", "m": "MRN-77310" }),
            &app.token(w, Role::OrgAdmin),
        )
        .await["erasePatient"]
        .clone();
    assert_eq!(find(&report["erased"], "appointment reasons")["count"], 1, "{report}");
    sqlx::query_scalar::<_, i32>("select medical.read_log_seal(10000)")
        .fetch_one(&app.admin)
        .await
        .expect("seal");

    let needles = ["Zarkowski", "MRN-77310", "1980-05-17", "alex@patient.example"];
    for (table, column) in [
        ("audit_log", "details"),
        ("audit_log", "canonical"),
        ("read_log", "details"),
        ("event_outbox", "payload"),
        ("appointments", "reason"),
        ("patients", "erasure_reason"),
        ("mail_deliveries", "recipient"),
    ] {
        let found = holding(&app, table, column, &needles).await;
        assert!(found.is_empty(), "{table}.{column} still holds the patient: {found:?}");
    }
    // Nor any event stream, dead letters included.
    for (stream, text) in testkit::event_streams(&app.settings.redis.events_prefix).await {
        for n in needles {
            assert!(!text.contains(n), "{stream} holds {n}");
        }
    }
    // What the trail keeps is what happened, by id.
    let actions: Vec<String> =
        sqlx::query_scalar("select action from medical.audit_log where entity_id = $1 order by chain_seq")
            .bind(patient)
            .fetch_all(&app.admin)
            .await
            .expect("trail");
    assert!(
        actions.contains(&"patient.create".to_string()) && actions.contains(&"patient.erase".to_string()),
        "{actions:?}"
    );
    let searched: Vec<serde_json::Value> =
        sqlx::query_scalar("select details from medical.read_log where action = 'fhir.search' order by seq")
            .fetch_all(&app.admin)
            .await
            .expect("reads");
    assert!(
        searched.iter().any(|d| d["parameters"] == json!(["birthdate"])),
        "the auditor still sees what a search was on: {searched:?}"
    );
}
