//! The FHIR R4 read API against the real service: what each role reads,
//! tenant isolation on read, search and `$everything`, partner scopes, the
//! audit trail of reads, paging, and errors as OperationOutcomes.

use platform::{Role, Vertical};
use serde_json::{json, Value};
use testkit::Caller;
use uuid::Uuid;

use crate::helpers::{who, TestApp, Who};

struct Fhir {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    body: Value,
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Fhir {
    let mut req = app.http.get(format!("{}/fhir/{path}", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.header("accept-language", "fr").send().await.expect("request");
    let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (content_type, www_authenticate) = (header("content-type").unwrap_or_default(), header("www-authenticate"));
    let status = resp.status().as_u16();
    Fhir {
        status,
        content_type,
        www_authenticate,
        body: resp.json().await.expect("json"),
    }
}

async fn ok(app: &TestApp, path: &str, token: &str) -> Value {
    let r = get(app, path, Some(token)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(r.content_type, "application/fhir+json; charset=utf-8");
    r.body
}

/// The OperationOutcome's issue type and our stable code.
fn issue(body: &Value) -> (&str, &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    (
        body["issue"][0]["code"].as_str().unwrap_or_default(),
        body["issue"][0]["details"]["coding"][0]["code"]
            .as_str()
            .unwrap_or_default(),
    )
}

/// One practice's patient with everything a record can hold.
struct Record {
    who: Who,
    patient: Uuid,
    appointment: String,
    procedure: String,
    allergy: String,
}

async fn record(app: &TestApp, mrn: &str, family: &str) -> Record {
    let w = who();
    let patient = app.patient(w.org, mrn, family).await;
    let doc = app.token(w, Role::Practitioner);
    app.enroll(w, &[Role::Practitioner]).await;
    let appointment = app.appointment(w.org, patient, w.user, 9).await["data"]["scheduleAppointment"]["id"]
        .as_str()
        .expect("appointment")
        .to_string();
    let procedure = app
        .ok(
            "mutation($i: RecordProcedureInput!) { recordProcedure(input: $i) { id } }",
            json!({ "i": { "patientId": patient, "code": "DEQP003", "performedAt": "2024-01-01T10:00:00Z", "notes": "ECG: sinus rhythm" } }),
            &doc,
        )
        .await["recordProcedure"]["id"]
        .as_str()
        .expect("procedure")
        .to_string();
    let allergy = app
        .ok(
            "mutation($p: ID!) { addAllergy(patientId: $p, input: { substance: \"Penicillin\", reaction: \"Hives\", severity: LIFE_THREATENING }) { id } }",
            json!({ "p": patient }),
            &doc,
        )
        .await["addAllergy"]["id"]
        .as_str()
        .expect("allergy")
        .to_string();
    app.ok(
        "mutation($p: ID!) { setBloodType(patientId: $p, bloodType: AB_NEG) { id } }",
        json!({ "p": patient }),
        &doc,
    )
    .await;
    Record {
        who: w,
        patient,
        appointment,
        procedure,
        allergy,
    }
}

impl Record {
    fn paths(&self) -> Vec<String> {
        vec![
            format!("Patient/{}", self.patient),
            format!("Observation/blood-group-{}", self.patient),
            format!("AllergyIntolerance/{}", self.allergy),
            format!("Appointment/{}", self.appointment),
            format!("Procedure/{}", self.procedure),
            format!("Practitioner/{}", self.who.user),
        ]
    }
}

#[tokio::test]
async fn a_nurse_reads_every_resource_mapped_to_fhir() {
    let app = TestApp::spawn().await;
    let r = record(&app, "MRN-7", "Bernard").await;
    let nurse = app.token(r.who, Role::Nurse);

    let p = ok(&app, &format!("Patient/{}", r.patient), &nurse).await;
    assert_eq!(p["resourceType"], "Patient");
    assert_eq!(p["id"], r.patient.to_string());
    assert_eq!(
        p["name"][0],
        json!({ "use": "official", "family": "Bernard", "given": ["Alex"] })
    );
    assert_eq!(p["gender"], "other");
    assert_eq!(p["birthDate"], "1980-05-17");
    let mrn = &p["identifier"][0];
    assert_eq!(mrn["type"]["coding"][0]["code"], "MR");
    assert_eq!(mrn["value"], "MRN-7");
    assert_eq!(
        mrn["system"],
        format!("http://127.0.0.1:4000/fhir/sid/{}/mrn", r.who.org),
        "MRN systems are per organization"
    );
    assert_eq!(
        p["identifier"][1]["value"], "1 80 05 69 123 456",
        "decrypted insurance number"
    );
    assert_eq!(
        p["telecom"][0],
        json!({ "system": "phone", "value": "+33 6 11 22 33 44" })
    );
    assert_eq!(p["address"][0]["text"], "1 rue Secrète");

    let o = ok(&app, &format!("Observation/blood-group-{}", r.patient), &nurse).await;
    assert_eq!(o["code"]["coding"][0]["code"], "882-1");
    assert_eq!(
        o["valueCodeableConcept"]["coding"][0]["code"], "278154007",
        "AB− in SNOMED CT"
    );
    assert_eq!(o["subject"]["reference"], format!("Patient/{}", r.patient));

    let a = ok(&app, &format!("AllergyIntolerance/{}", r.allergy), &nurse).await;
    assert_eq!(a["code"]["coding"][0]["code"], "764146007");
    assert_eq!(a["criticality"], "high");
    assert_eq!(a["reaction"][0]["severity"], "severe");
    assert_eq!(a["reaction"][0]["manifestation"][0]["text"], "Hives");

    let ap = ok(&app, &format!("Appointment/{}", r.appointment), &nurse).await;
    assert_eq!(ap["status"], "booked");
    assert_eq!(ap["start"], "2030-01-07T09:00:00Z");
    assert_eq!(ap["end"], "2030-01-07T09:30:00Z");
    assert_eq!(ap["minutesDuration"], 30);
    assert_eq!(
        ap["participant"][0]["actor"]["reference"],
        format!("Patient/{}", r.patient)
    );
    assert_eq!(ap["participant"][0]["status"], "accepted");
    assert_eq!(
        ap["participant"][1]["actor"]["reference"],
        format!("Practitioner/{}", r.who.user)
    );
    assert_eq!(ap["participant"][1]["actor"]["display"], "Dr Test");

    let pr = ok(&app, &format!("Procedure/{}", r.procedure), &nurse).await;
    assert_eq!(pr["status"], "completed");
    assert_eq!(pr["code"]["coding"][0]["system"], "urn:oid:1.2.250.1.213.2.5");
    assert_eq!(pr["note"][0]["text"], "ECG: sinus rhythm", "clinicians read the notes");

    let doc = ok(&app, &format!("Practitioner/{}", r.who.user), &nurse).await;
    assert_eq!(doc["name"][0]["text"], "Dr Test");

    let meta = get(&app, "metadata", None).await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["fhirVersion"], "4.0.1");
    let kinds: Vec<&str> = meta.body["rest"][0]["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Patient",
            "AllergyIntolerance",
            "Appointment",
            "Procedure",
            "Observation",
            "Practitioner"
        ]
    );
}

#[tokio::test]
async fn another_organizations_ids_are_404_exactly_like_missing_ones_on_read_search_and_everything() {
    let app = TestApp::spawn().await;
    let b = record(&app, "B-1", "Bravo").await;
    let a = record(&app, "A-1", "Alpha").await;
    let nurse_a = app.token(a.who, Role::Nurse);

    for path in b.paths() {
        let theirs = get(&app, &path, Some(&nurse_a)).await;
        let kind = path.split('/').next().unwrap_or_default();
        let missing_id = if kind == "Observation" {
            format!("blood-group-{}", Uuid::new_v4())
        } else {
            Uuid::new_v4().to_string()
        };
        let missing = get(&app, &format!("{kind}/{missing_id}"), Some(&nurse_a)).await;
        assert_eq!(theirs.status, 404, "{path}: {}", theirs.body);
        assert_eq!(theirs.body, missing.body, "{path}: a row of B answers as a missing one");
        assert_eq!(issue(&theirs.body), ("not-found", "NOT_FOUND"));
        assert_eq!(theirs.content_type, "application/fhir+json; charset=utf-8");
    }
    let bundle = ok(&app, &format!("Appointment?patient=Patient/{}", b.patient), &nurse_a).await;
    assert_eq!(
        (bundle["total"].clone(), bundle["entry"].clone()),
        (json!(0), json!([]))
    );
    for q in [
        format!("AllergyIntolerance?patient={}", b.patient),
        format!("Procedure?patient={}", b.patient),
        format!("Observation?patient={}", b.patient),
        "Patient?name=Bravo".to_string(),
        format!("Appointment?practitioner={}", b.who.user),
    ] {
        assert_eq!(ok(&app, &q, &nurse_a).await["total"], 0, "{q}");
    }
    // Tenant A's own searches see A only.
    let mine = ok(&app, "Patient", &nurse_a).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["entry"][0]["resource"]["id"], a.patient.to_string());

    let everything = get(&app, &format!("Patient/{}/$everything", b.patient), Some(&nurse_a)).await;
    assert_eq!(everything.status, 404, "{}", everything.body);
    let count = app
        .count(&format!(
            "select count(*) from medical.read_log where entity_id = '{}' and action like 'fhir.%'",
            b.patient
        ))
        .await;
    assert_eq!(count, 0, "nothing of B was read, nothing audited");
}

#[tokio::test]
async fn roles_read_what_they_read_in_graphql() {
    let app = TestApp::spawn().await;
    let r = record(&app, "MRN-2", "Petit").await;
    let as_role = |role| {
        app.token(
            Who {
                org: r.who.org,
                user: Uuid::new_v4(),
            },
            role,
        )
    };

    // A secretary: the administrative record, appointments and procedures
    // without their notes; nothing clinical.
    let secretary = as_role(Role::Secretary);
    assert_eq!(
        ok(&app, &format!("Patient/{}", r.patient), &secretary).await["birthDate"],
        "1980-05-17"
    );
    ok(&app, &format!("Appointment/{}", r.appointment), &secretary).await;
    let pr = ok(&app, &format!("Procedure/{}", r.procedure), &secretary).await;
    assert!(pr.get("note").is_none(), "{pr}");
    for path in [
        format!("AllergyIntolerance/{}", r.allergy),
        format!("Observation/blood-group-{}", r.patient),
        format!("AllergyIntolerance?patient={}", r.patient),
        format!("Patient/{}/$everything", r.patient),
    ] {
        let x = get(&app, &path, Some(&secretary)).await;
        assert_eq!((x.status, issue(&x.body)), (403, ("forbidden", "FORBIDDEN")), "{path}");
        assert_eq!(
            x.body["issue"][0]["diagnostics"], "Vous n'êtes pas autorisé à effectuer cette action.",
            "localized by Accept-Language"
        );
    }

    // A billing clerk: names only, and no finding patients by what it cannot read.
    let billing = as_role(Role::BillingClerk);
    let p = ok(&app, &format!("Patient/{}", r.patient), &billing).await;
    assert_eq!(p["name"][0]["family"], "Petit");
    for hidden in ["identifier", "birthDate", "gender", "telecom", "address"] {
        assert!(p.get(hidden).is_none(), "billing sees no {hidden}: {p}");
    }
    assert_eq!(ok(&app, "Patient?name=pet", &billing).await["total"], 1);
    assert_eq!(
        get(&app, "Patient?birthdate=1980-05-17", Some(&billing)).await.status,
        403
    );
    assert_eq!(
        get(&app, &format!("Appointment/{}", r.appointment), Some(&billing))
            .await
            .status,
        403
    );

    // Only clinicians export the whole record.
    let doc = app.token(r.who, Role::Practitioner);
    let all = ok(&app, &format!("Patient/{}/$everything", r.patient), &doc).await;
    let kinds: Vec<&str> = all["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Patient",
            "Observation",
            "AllergyIntolerance",
            "Appointment",
            "Procedure",
            "Practitioner"
        ]
    );
    assert_eq!(all["total"], 5, "the practitioner is included, not matched");
    assert_eq!(all["entry"][5]["search"]["mode"], "include");

    // An organization without the medical vertical reads nothing.
    let other = app.token_with(r.who, &[Role::Practitioner], &[Vertical::Public]);
    assert_eq!(
        get(&app, &format!("Patient/{}", r.patient), Some(&other)).await.status,
        403
    );
}

#[tokio::test]
async fn partners_need_medical_read_and_see_appointments_with_names_only() {
    let app = TestApp::spawn().await;
    let r = record(&app, "MRN-3", "Robert").await;
    let partner = |scopes: &[&str]| {
        app.kit.token(&Caller::partner(
            r.who.org,
            Uuid::new_v4(),
            &[Vertical::Medical],
            scopes,
        ))
    };
    let reader = partner(&["medical:read"]);
    let ap = ok(&app, &format!("Appointment?patient={}", r.patient), &reader).await;
    assert_eq!(ap["total"], 1);
    assert_eq!(
        ap["entry"][0]["resource"]["participant"][0]["actor"]["display"],
        "Alex Robert"
    );
    let p = ok(&app, &format!("Patient/{}", r.patient), &reader).await;
    assert!(p.get("birthDate").is_none() && p.get("identifier").is_none(), "{p}");
    for path in [
        format!("Procedure/{}", r.procedure),
        format!("AllergyIntolerance/{}", r.allergy),
        format!("Patient/{}/$everything", r.patient),
    ] {
        assert_eq!(get(&app, &path, Some(&reader)).await.status, 403, "{path}");
    }
    let billing_only = partner(&["medical:billing"]);
    assert_eq!(
        get(&app, &format!("Appointment/{}", r.appointment), Some(&billing_only))
            .await
            .status,
        403
    );
    let audited = app
        .count("select count(*) from medical.read_log where action = 'fhir.search' and actor_client_id is not null")
        .await;
    assert_eq!(audited, 1, "a partner's reads are audited under its client id");
}

#[tokio::test]
async fn without_a_valid_token_the_answer_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let r = record(&app, "MRN-4", "Richard").await;
    let path = format!("Patient/{}", r.patient);
    for token in [None, Some("not-a-jwt")] {
        let x = get(&app, &path, token).await;
        assert_eq!(x.status, 401, "{token:?}");
        assert_eq!(issue(&x.body), ("login", "UNAUTHENTICATED"));
        assert_eq!(x.www_authenticate.as_deref(), Some("Bearer"));
    }
}

#[tokio::test]
async fn every_read_is_audited_with_who_read_which_patient() {
    let app = TestApp::spawn().await;
    let r = record(&app, "MRN-5", "Durand").await;
    let other = app.patient(r.who.org, "MRN-6", "Moreau").await;
    let nurse = Who {
        org: r.who.org,
        user: Uuid::new_v4(),
    };
    let token = app.token(nurse, Role::Nurse);
    ok(&app, &format!("AllergyIntolerance/{}", r.allergy), &token).await;
    ok(&app, "Patient?_count=10", &token).await;
    ok(&app, &format!("Patient/{}/$everything", r.patient), &token).await;

    let rows: Vec<(String, String, Uuid, Option<Uuid>)> = sqlx::query_as(
        "select action, entity_type, entity_id, actor_user_id from medical.read_log
          where action like 'fhir.%' order by seq, action, entity_id",
    )
    .fetch_all(&app.admin)
    .await
    .expect("audit rows");
    let mut searched = [r.patient, other];
    searched.sort();
    let expected = vec![
        (
            "fhir.read".to_string(),
            "Patient".to_string(),
            r.patient,
            Some(nurse.user),
        ),
        ("fhir.search".into(), "Patient".into(), searched[0], Some(nurse.user)),
        ("fhir.search".into(), "Patient".into(), searched[1], Some(nurse.user)),
        ("fhir.everything".into(), "Patient".into(), r.patient, Some(nurse.user)),
    ];
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn searches_page_with_next_links_and_count_the_total() {
    let app = TestApp::spawn().await;
    let w = who();
    let mut ids = vec![];
    for (i, family) in ["Adam", "Blanc", "Caron", "Dupont", "Petit"].iter().enumerate() {
        ids.push(app.patient(w.org, &format!("P-{i}"), family).await.to_string());
    }
    let token = app.token(w, Role::Secretary);
    let mut url = "Patient?_count=2".to_string();
    let (mut seen, mut pages) = (vec![], 0);
    loop {
        let page = ok(&app, &url, &token).await;
        pages += 1;
        assert_eq!(page["type"], "searchset");
        assert_eq!(page["total"], 5);
        for e in page["entry"].as_array().expect("entries") {
            let id = e["resource"]["id"].as_str().expect("id").to_string();
            assert_eq!(e["fullUrl"], format!("http://127.0.0.1:4000/fhir/Patient/{id}"));
            assert_eq!(e["search"]["mode"], "match");
            seen.push(id);
        }
        let links = page["link"].as_array().expect("links");
        assert_eq!(links[0]["relation"], "self");
        match links.iter().find(|l| l["relation"] == "next") {
            Some(next) => {
                let next = next["url"].as_str().expect("url");
                url = next
                    .strip_prefix("http://127.0.0.1:4000/fhir/")
                    .expect("absolute next link")
                    .to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "alphabetical by family name, each patient once");

    // Filters: name prefix, birthdate, gender; appointments by date and status.
    assert_eq!(ok(&app, "Patient?name=du", &token).await["total"], 1);
    assert_eq!(ok(&app, "Patient?birthdate=1980", &token).await["total"], 5);
    assert_eq!(ok(&app, "Patient?birthdate=lt1980-05-17", &token).await["total"], 0);
    assert_eq!(
        ok(&app, "Patient?gender=other&identifier=P-3", &token).await["total"],
        1
    );
    let foreign = "Patient?identifier=https://elsewhere.example/mrn|P-3";
    assert_eq!(
        ok(&app, foreign, &token).await["total"],
        0,
        "another system's identifier"
    );
    let patient: Uuid = ids[0].parse().expect("uuid");
    app.appointment(w.org, patient, w.user, 9).await;
    for (q, n) in [
        ("Appointment?date=2030-01-07", 1),
        ("Appointment?date=ge2030-01-07T09:00:00Z&date=lt2030-01-07T09:00:01Z", 1),
        ("Appointment?date=gt2030-01-07", 0),
        ("Appointment?status=booked,cancelled", 1),
        ("Appointment?status=noshow", 0),
    ] {
        assert_eq!(ok(&app, q, &token).await["total"], n, "{q}");
    }
}

#[tokio::test]
async fn bad_searches_and_unknown_paths_get_outcomes_with_the_right_status() {
    let app = TestApp::spawn().await;
    let w = who();
    let patient = app.patient(w.org, "MRN-9", "Lefebvre").await;
    let token = app.token(w, Role::Secretary);
    for (path, status, code, field) in [
        ("Patient?colour=blue", 400, "invalid", Some("colour")),
        ("Patient?name:exact=Lefebvre", 400, "invalid", Some("name:exact")),
        ("Patient?birthdate=17/03/1984", 400, "invalid", Some("birthdate")),
        ("Patient?_count=500", 400, "invalid", Some("_count")),
        ("Patient?_cursor=forged", 400, "invalid", Some("_cursor")),
        ("Appointment?status=scheduled", 400, "invalid", Some("status")),
        ("Appointment?patient=Practitioner/x", 400, "invalid", Some("patient")),
        ("Medication/1", 404, "not-supported", None),
        ("Patient/not-a-uuid", 404, "not-found", None),
    ] {
        let x = get(&app, path, Some(&token)).await;
        assert_eq!((x.status, issue(&x.body).0), (status, code), "{path}: {}", x.body);
        assert_eq!(x.body["issue"][0]["expression"][0].as_str(), field, "{path}");
    }
    app.ok(
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": patient }),
        &token,
    )
    .await;
    let gone = get(&app, &format!("Patient/{patient}"), Some(&token)).await;
    assert_eq!((gone.status, issue(&gone.body)), (410, ("deleted", "GONE")));
    assert_eq!(gone.body["issue"][0]["diagnostics"], "Patient a été supprimé.");
    assert_eq!(
        ok(&app, "Patient", &token).await["total"],
        0,
        "deleted records are not found by search"
    );
}

#[tokio::test]
async fn everything_is_paged_with_next_links_and_the_pages_add_up_to_the_record() {
    let app = TestApp::spawn().await;
    let r = record(&app, "E-PAGE", "Pages").await;
    let doc = app.token(r.who, Role::Practitioner);
    // More of each section than one small page holds.
    for (i, substance) in ["Latex", "Pollen", "Peanut"].iter().enumerate() {
        app.ok(
            "mutation($p: ID!, $s: String!) { addAllergy(patientId: $p, input: { substance: $s, severity: MILD }) { id } }",
            json!({ "p": r.patient, "s": substance }),
            &doc,
        )
        .await;
        app.appointment(r.who.org, r.patient, r.who.user, 10 + i as u32).await;
    }
    let whole = ok(&app, &format!("Patient/{}/$everything?_count=100", r.patient), &doc).await;
    let matched = |b: &Value| -> Vec<String> {
        b["entry"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| e["fullUrl"].as_str().expect("url").to_string())
            .collect()
    };
    let all = matched(&whole);
    assert_eq!(all.len(), 1 + 1 + 4 + 4 + 1, "{whole}");
    assert_eq!(whole["total"], all.len());
    assert!(whole["link"]
        .as_array()
        .expect("links")
        .iter()
        .all(|l| l["relation"] != "next"));

    let mut url = format!("Patient/{}/$everything?_count=3", r.patient);
    let (mut paged, mut pages) = (vec![], 0);
    loop {
        let page = ok(&app, &url, &doc).await;
        pages += 1;
        assert_eq!(page["total"], all.len());
        let here = matched(&page);
        assert!(here.len() <= 3 || pages == 1, "a page holds at most _count: {here:?}");
        // Every practitioner a page names is included on that page.
        for e in page["entry"].as_array().expect("entries") {
            if let Some(actor) = e["resource"]["participant"][1]["actor"]["reference"].as_str() {
                assert!(
                    page["entry"].as_array().is_some_and(|es| es
                        .iter()
                        .any(|x| x["fullUrl"].as_str().is_some_and(|u| u.ends_with(actor)))),
                    "{actor} not included"
                );
            }
        }
        paged.extend(here);
        match page["link"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
        {
            Some(next) => {
                let next = next["url"].as_str().expect("url");
                assert!(!next.contains("Pages"), "the cursor names no one: {next}");
                url = next
                    .strip_prefix("http://127.0.0.1:4000/fhir/")
                    .expect("absolute")
                    .to_string();
            }
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(paged, all, "the pages add up to the record, each resource once");
    // A cursor of this patient's export does not page another's.
    let other = record(&app, "E-OTHER", "Other").await;
    let cursor = url.split("_cursor=").nth(1).unwrap_or_default().to_string();
    if !cursor.is_empty() {
        let foreign = get(
            &app,
            &format!("Patient/{}/$everything?_cursor={cursor}", other.patient),
            Some(&app.token(other.who, Role::Practitioner)),
        )
        .await;
        assert_eq!(foreign.status, 400, "{}", foreign.body);
    }
}
