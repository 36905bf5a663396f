//! Who sees which document: roles by classification, tenants at both walls,
//! and other organizations only where the router vouched for the owner.

use platform::{Role::*, Vertical};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

fn titles(entities: &serde_json::Value, i: usize) -> Vec<String> {
    entities[i]["documents"]["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n["classification"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn each_medical_role_sees_its_classifications() {
    let app = TestApp::spawn().await;
    let clinic = Who::new();
    let patient = Uuid::new_v4();
    let doctor = app.medical(clinic, Practitioner);
    let clinical = app
        .uploaded(&doctor, ("PATIENT", patient), "CLINICAL", PDF.to_vec())
        .await;
    let secretary = app.medical(
        Who {
            user: Uuid::new_v4(),
            ..clinic
        },
        Secretary,
    );
    app.uploaded(&secretary, ("PATIENT", patient), "ADMINISTRATIVE", PDF.to_vec())
        .await;
    let rep = json!([{ "__typename": "Patient", "id": patient }]);

    let nurse = app.medical(
        Who {
            user: Uuid::new_v4(),
            ..clinic
        },
        Nurse,
    );
    assert_eq!(
        titles(&app.owner_documents(&nurse, rep.clone()).await, 0),
        ["CLINICAL", "ADMINISTRATIVE"]
    );
    assert_eq!(
        titles(&app.owner_documents(&secretary, rep.clone()).await, 0),
        ["ADMINISTRATIVE"]
    );
    let billing = app.medical(
        Who {
            user: Uuid::new_v4(),
            ..clinic
        },
        BillingClerk,
    );
    assert_eq!(
        titles(&app.owner_documents(&billing, rep.clone()).await, 0),
        ["ADMINISTRATIVE"]
    );
    // The secretary can neither read the clinical report by id nor write one.
    assert!(app
        .ok(
            "query($id: ID!) { document(id: $id) { id } }",
            json!({ "id": clinical }),
            &secretary
        )
        .await["document"]
        .is_null());
    let r = app
        .gql(
            UPLOAD,
            json!({ "i": { "ownerType": "PATIENT", "ownerId": patient, "title": "x", "classification": "CLINICAL",
                           "contentType": "application/pdf", "byteSize": 10 } }),
            &secretary,
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    // A procurement officer of the same organization has no medical role.
    let officer = app.token(clinic, &[ProcurementOfficer], &[Vertical::Medical, Vertical::Public]);
    let r = app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Patient { documents { nodes { id } } } } }",
            json!({ "r": rep }),
            &officer,
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    // A clinical document cannot hang on a tender.
    let r = app
        .gql(
            UPLOAD,
            json!({ "i": { "ownerType": "TENDER", "ownerId": patient, "title": "x", "classification": "CLINICAL",
                           "contentType": "application/pdf", "byteSize": 10 } }),
            &doctor,
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn another_tenant_sees_nothing_on_any_path_nor_at_the_database() {
    let app = TestApp::spawn().await;
    let (a, b) = (Who::new(), Who::new());
    let patient = Uuid::new_v4();
    let doc_a = app
        .uploaded(
            &app.medical(a, Practitioner),
            ("PATIENT", patient),
            "CLINICAL",
            PDF.to_vec(),
        )
        .await;
    let tb = app.medical(b, Practitioner);

    // Root field, entity, nested field.
    assert!(app
        .ok(
            "query($id: ID!) { document(id: $id) { id } }",
            json!({ "id": doc_a }),
            &tb
        )
        .await["document"]
        .is_null());
    let e = app
        .ok(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Document { id } } }",
            json!({ "r": [{ "__typename": "Document", "id": doc_a }] }),
            &tb,
        )
        .await;
    assert!(e["_entities"][0].is_null());
    let e = app
        .owner_documents(&tb, json!([{ "__typename": "Patient", "id": patient }]))
        .await;
    assert!(titles(&e, 0).is_empty());
    // Writes on A's document.
    for (q, vars) in [
        (
            "mutation($i: CreateDocumentVersionInput!) { createDocumentVersion(input: $i) { uploadUrl } }",
            json!({ "i": { "documentId": doc_a, "contentType": "application/pdf", "byteSize": 10 } }),
        ),
        (
            "mutation($id: ID!) { restoreDocumentVersion(documentId: $id, number: 1) { id } }",
            json!({ "id": doc_a }),
        ),
        (
            "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
            json!({ "id": doc_a }),
        ),
    ] {
        assert_eq!(code(&app.gql(q, vars, &tb).await), Some("NOT_FOUND"), "{q}");
    }
    // The database alone, as the service role with B's full scope.
    let mut tx = app.admin.begin().await.unwrap();
    sqlx::raw_sql(&format!(
        "set local role {}; select set_config('app.organization_id', '{}', true),
           set_config('app.roles', 'practitioner,nurse', true), set_config('app.verticals', 'medical', true)",
        app.settings.database.role, b.org
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let seen: i64 = sqlx::query_scalar(
        "select (select count(*) from content.documents) + (select count(*) from content.document_versions)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(seen, 0);
    // Even claiming the router vouched for the patient: vouching opens public documents only.
    sqlx::raw_sql(&format!(
        "select set_config('app.vouched_owners', '{}:{patient}', true)",
        a.org
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from content.documents")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn public_documents_of_a_published_tender_reach_other_organizations_of_the_vertical() {
    let app = TestApp::spawn().await;
    let (buyer, supplier, intruder) = (Who::new(), Who::new(), Who::new());
    let tender = Uuid::new_v4();
    let officer = app.public(buyer, ProcurementOfficer);
    app.uploaded(&officer, ("TENDER", tender), "PROCUREMENT_PUBLIC", PDF.to_vec())
        .await;
    app.uploaded(&officer, ("TENDER", tender), "PROCUREMENT_INTERNAL", PDF.to_vec())
        .await;
    // Another organization attaches its own "public" document to the buyer's tender id.
    app.uploaded(
        &app.public(intruder, ProcurementOfficer),
        ("TENDER", tender),
        "PROCUREMENT_PUBLIC",
        PDF.to_vec(),
    )
    .await;

    let published = |buyer_org: Uuid| json!([{ "__typename": "Tender", "id": tender, "publishedAt": "2026-11-01T10:00:00Z", "buyer": { "id": buyer_org } }]);
    let draft = json!([{ "__typename": "Tender", "id": tender, "publishedAt": null, "buyer": { "id": buyer.org } }]);

    // The buyer's staff: both of its own.
    assert_eq!(
        titles(&app.owner_documents(&officer, draft.clone()).await, 0),
        ["PROCUREMENT_PUBLIC", "PROCUREMENT_INTERNAL"]
    );
    let ts = app.public(supplier, SupplierUser);
    // A supplier: the public one, once published, and only the buyer's.
    assert_eq!(
        titles(&app.owner_documents(&ts, published(buyer.org)).await, 0),
        ["PROCUREMENT_PUBLIC"]
    );
    assert!(titles(&app.owner_documents(&ts, draft).await, 0).is_empty());
    // Vouching for the wrong organization shows nothing of the buyer's.
    let wrong = app.owner_documents(&ts, published(supplier.org)).await;
    assert!(titles(&wrong, 0).is_empty());
    // Its download URL works for the supplier.
    let d = app
        .ok(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tender { documents { nodes { currentVersion { downloadUrl } } } } } }",
            json!({ "r": published(buyer.org) }),
            &ts,
        )
        .await;
    let url = app.local(
        d["_entities"][0]["documents"]["nodes"][0]["currentVersion"]["downloadUrl"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        app.kit
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        PDF
    );
    // An organization without the public vertical sees nothing.
    let medical = app.medical(supplier, Practitioner);
    let r = app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Tender { documents { nodes { id } } } } }",
            json!({ "r": published(buyer.org) }),
            &medical,
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
}

#[tokio::test]
async fn compliance_documents_reach_the_supplier_and_buyers_officers_only() {
    let app = TestApp::spawn().await;
    let (supplier, buyer, rival) = (Who::new(), Who::new(), Who::new());
    let profile = Uuid::new_v4();
    let admin = app.public(supplier, SupplierAdmin);
    app.uploaded(&admin, ("SUPPLIER", profile), "COMPLIANCE", PDF.to_vec())
        .await;
    let rep = json!([{ "__typename": "Supplier", "id": profile, "organization": { "id": supplier.org } }]);

    assert_eq!(
        titles(&app.owner_documents(&admin, rep.clone()).await, 0),
        ["COMPLIANCE"]
    );
    let colleague = app.public(
        Who {
            user: Uuid::new_v4(),
            ..supplier
        },
        SupplierUser,
    );
    assert_eq!(
        titles(&app.owner_documents(&colleague, rep.clone()).await, 0),
        ["COMPLIANCE"]
    );
    let officer = app.public(buyer, ProcurementOfficer);
    assert_eq!(
        titles(&app.owner_documents(&officer, rep.clone()).await, 0),
        ["COMPLIANCE"]
    );
    // Another supplier's staff do not read a rival's certificates.
    let r = app.owner_documents(&app.public(rival, SupplierAdmin), rep).await;
    assert!(titles(&r, 0).is_empty());
    // Only a supplier admin adds them.
    let r = app
        .gql(
            UPLOAD,
            json!({ "i": { "ownerType": "SUPPLIER", "ownerId": profile, "title": "x", "classification": "COMPLIANCE",
                           "contentType": "application/pdf", "byteSize": 10 } }),
            &colleague,
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
}

#[tokio::test]
async fn contract_files_are_the_buyers_and_deleted_documents_leave_lists() {
    let app = TestApp::spawn().await;
    let (buyer, supplier) = (Who::new(), Who::new());
    let contract = Uuid::new_v4();
    let officer = app.public(buyer, ProcurementOfficer);
    let id = app
        .uploaded(&officer, ("CONTRACT", contract), "PROCUREMENT_INTERNAL", PDF.to_vec())
        .await;
    let rep = json!([{ "__typename": "Contract", "id": contract }]);
    let viewer = app.public(
        Who {
            user: Uuid::new_v4(),
            ..buyer
        },
        ProcurementViewer,
    );
    assert_eq!(
        titles(&app.owner_documents(&viewer, rep.clone()).await, 0),
        ["PROCUREMENT_INTERNAL"]
    );
    let r = app
        .gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Contract { documents { nodes { id } } } } }",
            json!({ "r": rep.clone() }),
            &app.public(supplier, SupplierAdmin),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    app.ok(
        "mutation($id: ID!) { deleteDocument(id: $id) { deletedAt } }",
        json!({ "id": id }),
        &officer,
    )
    .await;
    assert!(titles(&app.owner_documents(&viewer, rep).await, 0).is_empty());
}

const WITH_HISTORY: &str =
    "query($id: ID!) { document(id: $id) { title history(first: 5) { nodes { action actorId } } } }";

#[tokio::test]
async fn administrators_and_auditors_read_the_files_they_answer_for_and_their_history_clinicians_keep_theirs() {
    let app = TestApp::spawn().await;
    let buyer = Who::new();
    let officer = app.public(buyer, ProcurementOfficer);
    let internal = app
        .uploaded(
            &officer,
            ("CONTRACT", Uuid::new_v4()),
            "PROCUREMENT_INTERNAL",
            PDF.to_vec(),
        )
        .await;
    for role in [OrgAdmin, Auditor] {
        let colleague = Who {
            org: buyer.org,
            user: Uuid::new_v4(),
        };
        let body = app
            .ok(WITH_HISTORY, json!({ "id": internal }), &app.public(colleague, role))
            .await;
        let nodes = &body["document"]["history"]["nodes"];
        assert_eq!(nodes[1]["action"], "document.create", "{role}: {body}");
        assert_eq!(nodes[1]["actorId"], buyer.user.to_string());
    }
    // The buyer's viewer reads the file, not its trail; another organization's auditor neither.
    let viewer = app.public(
        Who {
            org: buyer.org,
            user: Uuid::new_v4(),
        },
        ProcurementViewer,
    );
    assert_eq!(
        code(&app.gql(WITH_HISTORY, json!({ "id": internal }), &viewer).await),
        Some("FORBIDDEN")
    );
    let outsider = app
        .ok(
            WITH_HISTORY,
            json!({ "id": internal }),
            &app.public(Who::new(), Auditor),
        )
        .await;
    assert!(outsider["document"].is_null(), "{outsider}");

    // Clinical documents stay with clinicians: a practitioner reads their history, an auditor not even the file.
    let practice = Who::new();
    let doctor = app.medical(practice, Practitioner);
    let report = app
        .uploaded(&doctor, ("PATIENT", Uuid::new_v4()), "CLINICAL", PDF.to_vec())
        .await;
    let colleague = Who {
        org: practice.org,
        user: Uuid::new_v4(),
    };
    let seen = app
        .ok(
            WITH_HISTORY,
            json!({ "id": report }),
            &app.medical(colleague, Practitioner),
        )
        .await;
    assert_eq!(
        seen["document"]["history"]["nodes"][1]["action"], "document.create",
        "{seen}"
    );
    let nurse = app
        .gql(WITH_HISTORY, json!({ "id": report }), &app.medical(colleague, Nurse))
        .await;
    assert_eq!(code(&nurse), Some("FORBIDDEN"), "{nurse}");
    let auditor = app
        .ok(WITH_HISTORY, json!({ "id": report }), &app.medical(colleague, Auditor))
        .await;
    assert!(auditor["document"].is_null(), "{auditor}");
    // RLS alone says the same.
    let sql = format!("select count(*) from content.documents where id = '{report}'");
    assert_eq!(app.count_as(colleague, "auditor", &sql).await, 0);
    let sql = format!("select count(*) from content.documents where id = '{internal}'");
    assert_eq!(
        app.count_as(
            Who {
                org: buyer.org,
                user: Uuid::new_v4()
            },
            "auditor",
            &sql
        )
        .await,
        1
    );
}

#[tokio::test]
async fn writes_refuse_a_session_whose_revocation_cannot_be_checked_and_change_nothing() {
    let app = TestApp::spawn().await;
    let clinic = Who::new();
    let patient = Uuid::new_v4();
    let doctor = app.medical(clinic, Practitioner);
    let id = app
        .uploaded(&doctor, ("PATIENT", patient), "CLINICAL", PDF.to_vec())
        .await;
    // The same service and database, but no revocation list to ask: a
    // logged-out session cannot be told from a live one.
    let blind = app
        .kit
        .replica(|f| {
            f.merge(("redis.url", "redis://127.0.0.1:1"))
                .merge(("content.store.dir", app.store_dir.display().to_string()))
        })
        .await;
    let token = blind.token(&testkit::Caller::user(
        clinic.org,
        clinic.user,
        &[Practitioner],
        &[Vertical::Medical],
    ));
    // Reads still answer.
    let read = blind
        .gql(
            "query($id: ID!) { document(id: $id) { id } }",
            json!({ "id": id }),
            Some(&token),
        )
        .await;
    assert_eq!(read["data"]["document"]["id"], id, "{read}");
    for (what, query, vars) in [
        ("delete", "mutation($id: ID!) { deleteDocument(id: $id) { id } }", json!({ "id": id })),
        (
            "restore",
            "mutation($id: ID!) { restoreDocumentVersion(documentId: $id, number: 1) { id } }",
            json!({ "id": id }),
        ),
        (
            "upload",
            UPLOAD,
            json!({ "i": { "ownerType": "PATIENT", "ownerId": patient, "title": "scan", "classification": "CLINICAL",
                           "contentType": "application/pdf", "byteSize": 100 } }),
        ),
        (
            "new version",
            "mutation($id: ID!) { createDocumentVersion(input: { documentId: $id, contentType: \"application/pdf\", byteSize: 100 }) { uploadUrl } }",
            json!({ "id": id }),
        ),
        ("patient export", "mutation($p: ID!) { exportPatientData(patientId: $p) { files { name } } }", json!({ "p": patient })),
        ("own export", "mutation { requestDataExport { downloadUrl } }", json!({})),
    ] {
        let r = blind.gql(query, vars, Some(&token)).await;
        assert_eq!(code(&r), Some("UNAVAILABLE"), "{what}: {r}");
    }
    assert_eq!(
        app.count(&format!(
            "select count(*) from content.documents where id = '{id}' and deleted_at is null"
        ))
        .await,
        1
    );
    assert_eq!(app.count("select count(*) from content.documents").await, 1);
    assert_eq!(app.count("select count(*) from content.document_versions").await, 1);
}

#[tokio::test]
async fn reading_a_patients_clinical_document_is_a_health_data_read_in_the_read_log() {
    let app = TestApp::spawn().await;
    let clinic = Who::new();
    let patient = Uuid::new_v4();
    let doctor = app.medical(clinic, Practitioner);
    let clinical = app
        .uploaded(&doctor, ("PATIENT", patient), "CLINICAL", PDF.to_vec())
        .await;
    let secretary = app.medical(
        Who {
            user: Uuid::new_v4(),
            ..clinic
        },
        Secretary,
    );
    let paperwork = app
        .uploaded(&secretary, ("PATIENT", patient), "ADMINISTRATIVE", PDF.to_vec())
        .await;
    let reads = |action: &str| {
        format!(
            "select count(*) from content.read_log where action = '{action}' and entity_type = 'Patient'
               and entity_id = '{patient}' and actor_user_id = '{}'",
            clinic.user
        )
    };
    assert_eq!(app.count(&reads("graphql.read")).await, 0, "uploading is not reading");

    // Minting the link is a read of the record, written before the answer.
    let versions = app.versions(&doctor, &clinical).await;
    let link = app.local(versions["versions"][0]["downloadUrl"].as_str().expect("link"));
    assert_eq!(app.count(&reads("graphql.read")).await, 1);
    // Downloading is another, by the same caller, though the link carries no token.
    let got = app.kit.http.get(&link).send().await.expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), PDF);
    assert_eq!(app.count(&reads("file.download")).await, 1);
    let doc_reads =
        format!("select count(*) from content.read_log where entity_type = 'Document' and entity_id = '{clinical}'");
    assert_eq!(app.count(&doc_reads).await, 2, "the document is named too");

    // A practice's paperwork is not health data: no read records.
    let before = app.count("select count(*) from content.read_log").await;
    let versions = app.versions(&secretary, &paperwork).await;
    let link = app.local(versions["versions"][0]["downloadUrl"].as_str().expect("link"));
    assert_eq!(
        app.kit
            .http
            .get(&link)
            .send()
            .await
            .expect("download")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(app.count("select count(*) from content.read_log").await, before);

    // The reads seal into the organization's chain like every other read.
    let sealed: i32 = sqlx::query_scalar("select content.read_log_seal(1000)")
        .fetch_one(&app.admin)
        .await
        .expect("seal");
    assert_eq!(sealed, 4);
}
