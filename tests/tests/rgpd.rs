//! RGPD rights across subgraphs, as a practice meets them through the
//! router on the demo data: one call exports a patient's data (their FHIR
//! record from medical, their documents from content, in one archive), one
//! call erases a patient and one a user everywhere they live.

use std::io::{Cursor, Read};

use hub_e2e::{wait_for, Platform, Router, RouterOptions};
use platform::crypto::hex;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use testkit::code;

const CLINIC: &str = "clinique-saint-paul";
const DEMO: &str = "hub-demo-password";

const EXPORT: &str = "mutation($p: ID!) { exportPatientData(patientId: $p) {
    files { name byteSize sha256 }
    document { title classification currentVersion { downloadUrl byteSize sha256 } } } }";

/// A demo login of the clinic (or `org`), through the router.
async fn demo(p: &Platform, router: &Router, org: &str, email: &str) -> String {
    p.login_with(router, org, email, DEMO).await
}

/// One GraphQL request (`{ query, variables }`) through the router; the answer.
async fn gql(p: &Platform, router: &Router, request: Value, token: &str) -> Value {
    p.post(router, request, Some(token)).await.1
}

/// The archive's files by name.
fn unzip(archive: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive.to_vec())).expect("a ZIP archive");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let name = f.name().expect("entry name").to_string();
        let mut bytes = vec![];
        f.read_to_end(&mut bytes).expect("read entry");
        files.insert(name, bytes);
    }
    files
}

/// Every `Patient/<id>` the JSON refers to.
fn patient_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("Patient/") => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| patient_references(i, out)),
        Value::Object(map) => map.values().for_each(|i| patient_references(i, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_practice_exports_a_patients_data_in_one_archive_then_erases_them_and_a_user_everywhere() {
    // Content purges every second here, so erased exports go within the test.
    let p = Platform::start_with(&[("HUB_CONTENT__SWEEP_INTERVAL_SECS", "1".into())]).await;
    p.seed_demo().await;
    let router = p.router(RouterOptions::default()).await;
    let doctor = demo(&p, &router, CLINIC, "dr.martin@clinique-saint-paul.example").await;
    let found = gql(
        &p,
        &router,
        json!({ "query": "{ patients(search: \"Bernard\") { nodes { id mrn documents { nodes { title } } } } }" }),
        &doctor,
    )
    .await;
    let camille = &found["data"]["patients"]["nodes"][0];
    let patient = camille["id"].as_str().expect("the seeded Camille Bernard").to_string();
    let mrn = camille["mrn"].as_str().expect("her MRN").to_string();
    let her = gql(
        &p,
        &router,
        json!({ "query": "query($id: ID!) { patient(id: $id) { birthDate contact { email } } }", "variables": { "id": patient } }),
        &doctor,
    )
    .await;
    let birth = her["data"]["patient"]["birthDate"]
        .as_str()
        .expect("birth date")
        .to_string();
    let email = her["data"]["patient"]["contact"]["email"]
        .as_str()
        .unwrap_or("camille.bernard@")
        .to_string();
    let her_documents = camille["documents"]["nodes"].as_array().map_or(0, Vec::len);
    assert!(her_documents > 0, "the seed attaches documents: {found}");

    // Access: one call, one archive.
    let exported = gql(
        &p,
        &router,
        json!({ "query": EXPORT, "variables": { "p": patient } }),
        &doctor,
    )
    .await;
    assert!(exported["errors"].is_null(), "{exported}");
    let export = &exported["data"]["exportPatientData"];
    assert_eq!(export["document"]["classification"], "CLINICAL");
    let url = export["document"]["currentVersion"]["downloadUrl"]
        .as_str()
        .expect("a signed download link");
    let first_url = url.to_string();
    let archive = p
        .http
        .get(url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(
        export["document"]["currentVersion"]["sha256"].as_str(),
        Some(hex(&Sha256::digest(&archive)).as_str())
    );
    // The link is a bearer secret: the content service's log never holds it.
    let grant = url.rsplit('/').next().expect("grant");
    let mut log = String::new();
    for _ in 0..50 {
        log = std::fs::read_to_string(&p.subgraph("content").proc.log).expect("content log");
        if log.contains("/files/{token}") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("/files/{token}"),
        "the download is in the access log:\n{log}"
    );
    assert!(!log.contains(grant), "the signed link is in content's log:\n{log}");
    let files = unzip(&archive);
    let bundle: Value = serde_json::from_slice(&files["patient.fhir.json"]).expect("FHIR JSON");
    assert_eq!(bundle["resourceType"], "Bundle");
    let mut refs = vec![];
    patient_references(&bundle, &mut refs);
    assert!(!refs.is_empty(), "the record refers to its patient");
    assert!(
        refs.iter().all(|r| *r == format!("Patient/{patient}")),
        "nothing of anyone else: {refs:?}"
    );
    let docs: Vec<&String> = files.keys().filter(|n| n.starts_with("documents/")).collect();
    assert_eq!(docs.len(), her_documents, "{docs:?}");
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    for f in manifest["files"].as_array().expect("files") {
        let name = f["name"].as_str().expect("name");
        assert_eq!(
            f["sha256"].as_str(),
            Some(hex(&Sha256::digest(&files[name])).as_str()),
            "{name}"
        );
    }
    let read =
        format!("select count(*) from medical.read_log where action = 'fhir.everything' and entity_id = '{patient}'");
    assert_eq!(
        sqlx::query_scalar::<_, i64>(&read)
            .fetch_one(&p.admin)
            .await
            .expect("count"),
        1,
        "medical audited the read"
    );
    let audited = "select count(*) from content.audit_log where action = 'patient.export'";
    assert_eq!(
        sqlx::query_scalar::<_, i64>(audited)
            .fetch_one(&p.admin)
            .await
            .expect("count"),
        1
    );

    // A user's own export: every subgraph's part, nothing of anyone else.
    let mine = gql(
        &p,
        &router,
        json!({ "query": "mutation { requestDataExport { downloadUrl expiresAt files { name sha256 } } }" }),
        &doctor,
    )
    .await;
    assert!(
        mine["errors"].is_null(),
        "{mine}\n{}",
        p.subgraph("content").proc.log_tail()
    );
    let url = mine["data"]["requestDataExport"]["downloadUrl"].as_str().expect("link");
    let parts = unzip(
        &p.http
            .get(url)
            .send()
            .await
            .expect("download")
            .bytes()
            .await
            .expect("bytes"),
    );
    let names: Vec<&str> = parts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "content.json",
            "identity.json",
            "manifest.json",
            "medical.json",
            "public.json"
        ]
    );
    let identity: Value = serde_json::from_slice(&parts["identity.json"]).expect("json");
    assert_eq!(
        identity["records"]["account"]["email"],
        "dr.martin@clinique-saint-paul.example"
    );
    assert!(!identity["records"]["sessions"].as_array().expect("sessions").is_empty());
    let medical: Value = serde_json::from_slice(&parts["medical.json"]).expect("json");
    assert!(
        !medical["records"]["clinicalNotesAuthored"]
            .as_array()
            .expect("notes")
            .is_empty(),
        "the seeded notes are dr. Martin's: {medical}"
    );
    for (name, bytes) in &parts {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("nurse.leroy"), "{name} holds someone else's data");
    }
    let audited = "select count(*) from content.audit_log where action = 'user.export'";
    assert_eq!(
        sqlx::query_scalar::<_, i64>(audited)
            .fetch_one(&p.admin)
            .await
            .expect("count"),
        1
    );

    // Another practice's practitioner, and a secretary, get nothing.
    let elsewhere = demo(&p, &router, "hopital-nord", "dr.bernard@hopital-nord.example").await;
    let other = gql(
        &p,
        &router,
        json!({ "query": EXPORT, "variables": { "p": patient } }),
        &elsewhere,
    )
    .await;
    assert_eq!(code(&other), Some("NOT_FOUND"), "{other}");
    let secretary = demo(&p, &router, CLINIC, "secretary.dupont@clinique-saint-paul.example").await;
    let denied = gql(
        &p,
        &router,
        json!({ "query": EXPORT, "variables": { "p": patient } }),
        &secretary,
    )
    .await;
    assert_eq!(code(&denied), Some("FORBIDDEN"), "{denied}");

    // A second export in the same minute: its own archive, with the
    // patient's documents once each and never the earlier export.
    let again = gql(
        &p,
        &router,
        json!({ "query": EXPORT, "variables": { "p": patient } }),
        &doctor,
    )
    .await;
    assert!(again["errors"].is_null(), "{again}");
    let second_url = again["data"]["exportPatientData"]["document"]["currentVersion"]["downloadUrl"]
        .as_str()
        .expect("link")
        .to_string();
    let second = unzip(
        &p.http
            .get(&second_url)
            .send()
            .await
            .expect("download")
            .bytes()
            .await
            .expect("bytes"),
    );
    let docs: Vec<&String> = second.keys().filter(|n| n.starts_with("documents/")).collect();
    assert_eq!(
        docs.len(),
        her_documents,
        "the earlier export is not in this one: {docs:?}"
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>(&format!(
            "select count(*) from content.documents where owner_id = '{patient}' and expires_at is not null"
        ))
        .fetch_one(&p.admin)
        .await
        .expect("count"),
        2,
        "two export archives"
    );

    // Erasure: one call in medical; content follows by the event.
    let admin = demo(&p, &router, CLINIC, "admin@clinique-saint-paul.example").await;
    let erased = gql(&p, &router, json!({ "query": "mutation($p: ID!, $m: String!) { erasePatient(patientId: $p, reason: \"RGPD art. 17\", confirmMrn: $m) { retained { category until } } }",
                    "variables": { "p": patient, "m": mrn } }), &admin).await;
    assert!(erased["errors"].is_null(), "{erased}");
    // Content hears of it: no document title names her any more (her
    // administrative documents are deleted, and purged, the clinical ones
    // kept under a generic title).
    wait_for(
        &p.admin,
        &format!(
            "select (count(*) filter (where title not in ('Clinical document', 'Administrative document')) = 0
                     and count(*) filter (where title = 'Clinical document') > 0)::int::bigint
               from content.documents where owner_id = '{patient}' and expires_at is null"
        ),
        1,
    )
    .await;
    // The export archives (her whole record, copies of her documents) are
    // derived copies, not what the law keeps: rows and bytes go.
    wait_for(
        &p.admin,
        &format!(
            "select (count(*) = 0)::int::bigint from content.documents where owner_id = '{patient}' and expires_at is not null"
        ),
        1,
    )
    .await;
    // Nothing that identified her is left in any subgraph's trail, read
    // log, outbox or documents.
    for schema in ["medical", "content"] {
        for (table, column) in [
            ("audit_log", "canonical"),
            ("read_log", "details::text"),
            ("event_outbox", "payload::text"),
        ] {
            let sql = format!("select count(*) from {schema}.{table} where {column} ilike any($1)");
            let patterns: Vec<String> = [mrn.as_str(), "Bernard", birth.as_str(), email.as_str()]
                .iter()
                .map(|n| format!("%{n}%"))
                .collect();
            let n: i64 = sqlx::query_scalar(&sql)
                .bind(&patterns)
                .fetch_one(&p.admin)
                .await
                .expect("search");
            assert_eq!(n, 0, "{schema}.{table} still names her");
        }
    }
    let titled: i64 = sqlx::query_scalar(&format!(
        "select count(*) from content.documents where owner_id = '{patient}' and (title ilike '%Bernard%' or title ilike '%Camille%')"
    ))
    .fetch_one(&p.admin)
    .await
    .expect("titles");
    assert_eq!(titled, 0);
    for link in [first_url.as_str(), second_url.as_str()] {
        let status = p.http.get(link).send().await.expect("download").status().as_u16();
        assert_eq!(
            status,
            404,
            "an erased patient's export still downloads ({status}): {link}\n{}",
            p.subgraph("content").proc.log_tail()
        );
    }
    let search = gql(
        &p,
        &router,
        json!({ "query": "{ patients(search: \"Bernard\") { nodes { id } } }" }),
        &doctor,
    )
    .await;
    assert!(!search.to_string().contains(&patient), "not found by name: {search}");

    // A user erases themself: medical's copy of the name goes too.
    let nurse = demo(&p, &router, CLINIC, "nurse.leroy@clinique-saint-paul.example").await;
    let gone = gql(
        &p,
        &router,
        json!({ "query": "mutation($pw: String!) { eraseUser(currentPassword: $pw) { subjectId } }", "variables": { "pw": DEMO } }),
        &nurse,
    )
    .await;
    assert!(gone["errors"].is_null(), "{gone}");
    let nurse_id = gone["data"]["eraseUser"]["subjectId"].as_str().expect("id").to_string();
    wait_for(
        &p.admin,
        &format!(
            "select count(*) from medical.practitioners where user_id = '{nurse_id}'
              and display_name = 'Erased user' and not active"
        ),
        1,
    )
    .await;
    for (schema, sql) in [
        (
            "identity",
            "select count(*) from identity.users where display_name = 'Julien Leroy' or email like 'nurse.leroy%'",
        ),
        (
            "medical",
            "select count(*) from medical.practitioners where display_name = 'Julien Leroy'",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&p.admin).await.expect("count");
        assert_eq!(n, 0, "{schema} still knows the name");
    }
}
