//! Upload and download through the signed URLs, on the local store.

use chrono::Utc;
use content::signing::Grant;
use platform::Role::*;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn an_upload_streams_in_and_downloads_with_checksum_etag_and_ranges() {
    let app = TestApp::spawn().await;
    let clinic = Who::new();
    let doctor = app.medical(clinic, Practitioner);
    let bytes = pdf_of(300_000);
    let id = app
        .uploaded(&doctor, ("PATIENT", Uuid::new_v4()), "CLINICAL", bytes.clone())
        .await;

    let d = app.versions(&doctor, &id).await;
    let v = &d["versions"][0];
    assert_eq!(v["status"], "AVAILABLE");
    assert_eq!(v["byteSize"], 300_000);
    assert_eq!(v["contentType"], "application/pdf");
    assert_eq!(v["sha256"], sha256_hex(&bytes));
    assert_eq!(d["currentVersion"]["number"], 1);
    // Buyers, practices and notifications hear of it: one event, with the upload.
    let (kind, payload): (String, serde_json::Value) =
        sqlx::query_as("select type, payload from content.event_outbox where entity_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(kind, "content.document.available");
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["classification"], "clinical");
    assert_eq!(payload["byteSize"], 300_000);

    let url = app.local(v["downloadUrl"].as_str().expect("download url"));
    let r = app.kit.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], format!("\"{}\"", sha256_hex(&bytes)).as_str());
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("CLINICAL report (v1).pdf"),
        "{disposition}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let r = app
        .kit
        .http
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/300000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..200]);
    let r = app
        .kit
        .http
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[bytes.len() - 10..]);
    let r = app
        .kit
        .http
        .get(&url)
        .header("range", "bytes=400000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let r = app
        .kit
        .http
        .get(&url)
        .header("if-none-match", format!("\"{}\"", sha256_hex(&bytes)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The audit trail records the upload with its checksum.
    let audited = app
        .count(&format!(
            "select count(*) from content.audit_log where action = 'document.version.upload' and entity_id = '{id}'
               and details->>'sha256' = '{}'",
            sha256_hex(&bytes)
        ))
        .await;
    assert_eq!(audited, 1);
    // A used upload URL cannot overwrite the version.
    let again = app.versions(&doctor, &id).await;
    assert_eq!(again["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn oversize_and_disguised_files_are_refused_and_nothing_stays() {
    let app = TestApp::spawn().await;
    let clinic = Who::new();
    let doctor = app.medical(clinic, Practitioner);
    let patient = ("PATIENT", Uuid::new_v4());

    // Announced 1000 bytes, sent 5000: refused from the Content-Length,
    // before a byte is read; the URL stays usable for the right file.
    let (big, url) = app.create(&doctor, patient, "CLINICAL", "application/pdf", 1000).await;
    let (status, body) = app.put(&url, pdf_of(5000), "application/pdf").await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(app.versions(&doctor, &big).await["versions"][0]["status"], "PENDING");
    // Streamed without a length, it is cut at the limit and the version refused.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(pdf_of(800)), Ok(vec![b'x'; 800])];
    let r = app
        .kit
        .http
        .put(&url)
        .header("content-type", "application/pdf")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let d = app.versions(&doctor, &big).await;
    assert_eq!(d["versions"][0]["status"], "REJECTED");
    assert!(d["currentVersion"].is_null());

    // A Windows executable announced (and sent) as a PDF.
    let exe = [b"MZ\x90\x00\x03\x00\x00\x00".as_slice(), &[0u8; 600]].concat();
    let (fake, url) = app
        .create(&doctor, patient, "CLINICAL", "application/pdf", exe.len())
        .await;
    let (status, body) = app.put(&url, exe, "application/pdf").await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    let d = app.versions(&doctor, &fake).await;
    assert_eq!(d["versions"][0]["status"], "REJECTED");
    assert!(d["versions"][0]["rejectionReason"]
        .as_str()
        .unwrap()
        .contains("not application/pdf"));
    assert!(d["versions"][0]["downloadUrl"].is_null());

    // A PNG announced as a PDF: the bytes decide.
    let png = [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice(), &[0u8; 100]].concat();
    let (_, url) = app
        .create(&doctor, patient, "CLINICAL", "application/pdf", png.len())
        .await;
    let (status, body) = app.put(&url, png, "application/pdf").await;
    assert_eq!(status, 415);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("image/png"),
        "{body}"
    );

    // A type outside the allow-list is refused when announced.
    let r = app
        .gql(
            UPLOAD,
            json!({ "i": { "ownerType": "PATIENT", "ownerId": Uuid::new_v4(), "title": "x", "classification": "CLINICAL",
                           "contentType": "application/x-msdownload", "byteSize": 10 } }),
            &doctor,
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert!(
        app.stored_files().is_empty(),
        "refused bytes stayed: {:?}",
        app.stored_files()
    );
}

#[tokio::test]
async fn a_broken_upload_leaves_nothing_available_and_can_be_sent_again() {
    let app = TestApp::spawn().await;
    let doctor = app.medical(Who::new(), Practitioner);
    let bytes = pdf_of(3 * 1024 * 1024);
    let (id, url) = app
        .create(
            &doctor,
            ("PATIENT", Uuid::new_v4()),
            "CLINICAL",
            "application/pdf",
            bytes.len(),
        )
        .await;
    // The client dies after 1 MiB: the body stream fails.
    let first = bytes[..1024 * 1024].to_vec();
    let stream = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(first),
        Err(std::io::Error::other("client went away")),
    ]);
    let sent = app
        .kit
        .http
        .put(&url)
        .header("content-type", "application/pdf")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(r) = sent {
        assert!(!r.status().is_success());
    }
    // The server notices the broken body asynchronously.
    let mut status = String::new();
    for _ in 0..50 {
        status = app.versions(&doctor, &id).await["versions"][0]["status"]
            .as_str()
            .unwrap()
            .to_string();
        if status == "PENDING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "PENDING");
    let finished: Vec<_> = app
        .stored_files()
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains('#'))
        .collect();
    assert!(finished.is_empty(), "a partial object became visible: {finished:?}");
    assert!(app.versions(&doctor, &id).await["currentVersion"].is_null());

    // The version may read PENDING before the server even took the broken
    // upload (the client failed first); until the server drops it, a resend
    // is refused as "being uploaded now" — a client retries, as here.
    let (mut status, mut body) = app.put(&url, bytes.clone(), "application/pdf").await;
    for _ in 0..50 {
        if status != 409 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        (status, body) = app.put(&url, bytes.clone(), "application/pdf").await;
    }
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sha256"], sha256_hex(&bytes));
}

#[tokio::test]
async fn expired_tampered_and_foreign_urls_give_no_bytes() {
    let app = TestApp::spawn().await;
    let doctor = app.medical(Who::new(), Practitioner);
    let id = app
        .uploaded(&doctor, ("PATIENT", Uuid::new_v4()), "CLINICAL", PDF.to_vec())
        .await;
    let url = app.local(
        app.versions(&doctor, &id).await["versions"][0]["downloadUrl"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(app.kit.http.get(&url).send().await.unwrap().status(), 200);

    // One character of the grant changed.
    let (base, token) = url.rsplit_once('/').unwrap();
    let mut chars: Vec<char> = token.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{base}/{}", chars.into_iter().collect::<String>());
    let r = app.kit.http.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "FORBIDDEN"
    );

    // Expired: a grant signed by the service itself, a second ago.
    let expired = app
        .state
        .signer
        .sign(&Grant::Download {
            org: Uuid::new_v4(),
            version: Uuid::new_v4(),
            key: "x".into(),
            sha256: "0".repeat(64),
            size: 1,
            content_type: "application/pdf".into(),
            filename: "x.pdf".into(),
            exp: Utc::now().timestamp() - 1,
            audited: None,
        })
        .unwrap();
    let r = app.kit.http.get(format!("{base}/{expired}")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("expired"));

    // A forged signature.
    let other = [&token[..token.len() - 4], "AAAA"].concat();
    assert_eq!(
        app.kit
            .http
            .get(format!("{base}/{other}"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // A download URL does not upload.
    let (status, _) = app.put(&url, PDF.to_vec(), "application/pdf").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn versions_are_kept_and_restoring_makes_a_new_one() {
    let app = TestApp::spawn().await;
    let doctor = app.medical(Who::new(), Practitioner);
    let first = pdf_of(2000);
    let id = app
        .uploaded(&doctor, ("PATIENT", Uuid::new_v4()), "CLINICAL", first.clone())
        .await;
    let d = app
        .ok(
            "mutation($i: CreateDocumentVersionInput!) { createDocumentVersion(input: $i) { uploadUrl version { number } } }",
            json!({ "i": { "documentId": id, "contentType": "text/plain", "byteSize": 100 } }),
            &doctor,
        )
        .await;
    assert_eq!(d["createDocumentVersion"]["version"]["number"], 2);
    // Until v2 arrives, v1 stays current.
    assert_eq!(app.versions(&doctor, &id).await["currentVersion"]["number"], 1);
    let url = app.local(d["createDocumentVersion"]["uploadUrl"].as_str().unwrap());
    let (status, body) = app.put(&url, b"Compte rendu corrige.\n".to_vec(), "text/plain").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.versions(&doctor, &id).await["currentVersion"]["number"], 2);

    let d = app
        .ok(
            "mutation($id: ID!) { restoreDocumentVersion(documentId: $id, number: 1) { currentVersion { number sha256 } } }",
            json!({ "id": id }),
            &doctor,
        )
        .await;
    assert_eq!(d["restoreDocumentVersion"]["currentVersion"]["number"], 3);
    assert_eq!(
        d["restoreDocumentVersion"]["currentVersion"]["sha256"],
        sha256_hex(&first)
    );
    let d = app.versions(&doctor, &id).await;
    let numbers: Vec<_> = d["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].clone())
        .collect();
    assert_eq!(numbers, vec![json!(3), json!(2), json!(1)]);
    assert_eq!(d["versions"][0]["restoredFrom"], 1);
    let url = app.local(d["versions"][0]["downloadUrl"].as_str().unwrap());
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
        first.as_slice()
    );

    // Not a version one can restore.
    let r = app
        .gql(
            "mutation($id: ID!) { restoreDocumentVersion(documentId: $id, number: 9) { id } }",
            json!({ "id": id }),
            &doctor,
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    // Versions are immutable at the database too.
    let edited = sqlx::query("update content.document_versions set sha256 = repeat('0', 64) where number = 1")
        .execute(&app.admin)
        .await;
    assert!(edited.is_err(), "an available version changed");
}

#[tokio::test]
async fn the_scanner_must_approve_a_version() {
    let app =
        TestApp::spawn_with(|f| f.merge(("content.scanner", vec!["sh", "-c", "! grep -q EICAR-HUB-TEST-MARKER"])))
            .await;
    let doctor = app.medical(Who::new(), Practitioner);
    let patient = ("PATIENT", Uuid::new_v4());
    let clean = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(5000)).await;
    assert_eq!(
        app.versions(&doctor, &clean).await["versions"][0]["status"],
        "AVAILABLE"
    );

    let mut infected = pdf_of(5000);
    infected.extend_from_slice(b"EICAR-HUB-TEST-MARKER");
    let (id, url) = app
        .create(&doctor, patient, "CLINICAL", "application/pdf", infected.len())
        .await;
    let (status, body) = app.put(&url, infected, "application/pdf").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "MALWARE_DETECTED");
    assert_eq!(app.versions(&doctor, &id).await["versions"][0]["status"], "REJECTED");
    assert_eq!(app.stored_files().len(), 1, "only the clean file is stored");
}

#[tokio::test]
async fn the_sweep_removes_what_expired_uploads_left() {
    let app = TestApp::spawn().await;
    let doctor = app.medical(Who::new(), Practitioner);
    let patient = ("PATIENT", Uuid::new_v4());
    let kept = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(1000)).await;
    let (_, _url) = app.create(&doctor, patient, "CLINICAL", "application/pdf", 1000).await;
    // A crash after the bytes were stored but before the version was marked:
    // the bytes sit at the pending version's key, its URL long expired.
    let key: String = sqlx::query_scalar(
        "update content.document_versions set upload_expires_at = now() - interval '1 hour'
          where status = 'pending' returning storage_key",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    let orphan = app.store_dir.join(&key);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"left behind").unwrap();

    assert_eq!(content::transfer::sweep(&app.state).await.unwrap(), 1);
    assert!(!orphan.exists());
    assert_eq!(
        app.count("select count(*) from content.document_versions where status = 'pending'")
            .await,
        0
    );
    assert_eq!(app.stored_files().len(), 1);
    assert_eq!(app.versions(&doctor, &kept).await["versions"][0]["status"], "AVAILABLE");
    assert_eq!(content::transfer::sweep(&app.state).await.unwrap(), 0, "idempotent");
}
