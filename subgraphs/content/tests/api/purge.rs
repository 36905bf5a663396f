//! The purge: a deleted document's bytes and rows go once its retention
//! date has passed (at once without one); a document made to expire (an
//! export archive) goes at its time; a user's export archive goes once its
//! link has expired. Nothing else is touched, and a second run finds nothing.

use chrono::{Duration, Utc};
use content::transfer::{purge, Purged};
use object_store::{path::Path, ObjectStore};
use platform::Role::*;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{pdf_of, TestApp, Who};

const DELETE: &str = "mutation($id: ID!) { deleteDocument(id: $id) { deletedAt } }";

async fn keys_of(app: &TestApp, doc: &str) -> Vec<String> {
    sqlx::query_scalar("select storage_key from content.document_versions where document_id = $1::uuid")
        .bind(doc)
        .fetch_all(&app.admin)
        .await
        .expect("keys")
}

#[tokio::test]
async fn purge_deletes_only_what_may_go_and_is_safe_to_repeat() {
    let app = TestApp::spawn().await;
    let doctor = app.medical(Who::new(), Practitioner);
    let patient = ("PATIENT", Uuid::new_v4());
    let gone = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(1000)).await;
    let kept_by_law = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(1100)).await;
    let live = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(1200)).await;
    let expiring = app.uploaded(&doctor, patient, "CLINICAL", pdf_of(1300)).await;
    let in_ten_days = (Utc::now() + Duration::days(10)).date_naive();
    sqlx::query("update content.documents set retention_until = $2 where id = $1::uuid")
        .bind(&kept_by_law)
        .bind(in_ten_days)
        .execute(&app.admin)
        .await
        .expect("retention date");
    sqlx::query("update content.documents set expires_at = now() + interval '5 days' where id = $1::uuid")
        .bind(&expiring)
        .execute(&app.admin)
        .await
        .expect("expiry");
    for doc in [&gone, &kept_by_law] {
        app.ok(DELETE, json!({ "id": doc }), &doctor).await;
    }
    let gone_keys = keys_of(&app, &gone).await;
    assert_eq!(app.stored_files().len(), 4);

    // Now: only the deleted document without a retention date goes.
    assert_eq!(
        purge(&app.state, Utc::now()).await.expect("purge"),
        Purged {
            documents: 1,
            exports: 0
        }
    );
    for key in &gone_keys {
        assert!(!app.store_dir.join(key).exists(), "its bytes are gone");
    }
    assert_eq!(app.stored_files().len(), 3);
    let rows = |doc: &str| format!("select count(*) from content.documents where id = '{doc}'");
    assert_eq!(app.count(&rows(&gone)).await, 0);
    assert_eq!(
        app.count(&format!(
            "select count(*) from content.document_versions where document_id = '{gone}'"
        ))
        .await,
        0
    );
    assert_eq!(app.count(&rows(&kept_by_law)).await, 1, "kept until its retention date");
    assert_eq!(app.versions(&doctor, &live).await["versions"][0]["status"], "AVAILABLE");
    assert_eq!(
        app.count(&format!(
            "select count(*) from content.audit_log where entity_id = '{gone}' and action = 'document.delete'"
        ))
        .await,
        1,
        "the trail remembers it"
    );
    assert_eq!(purge(&app.state, Utc::now()).await.expect("again"), Purged::default());

    // A week on, the expiring one goes, deleted or not; in eleven days, the one kept by law.
    let week = purge(&app.state, Utc::now() + Duration::days(7))
        .await
        .expect("a week on");
    assert_eq!(week.documents, 1);
    assert_eq!(app.count(&rows(&expiring)).await, 0);
    let later = purge(&app.state, Utc::now() + Duration::days(11)).await.expect("later");
    assert_eq!(later.documents, 1);
    assert_eq!(app.count(&rows(&kept_by_law)).await, 0);
    assert_eq!(app.stored_files().len(), 1, "only the live document's bytes remain");
    assert_eq!(app.versions(&doctor, &live).await["versions"][0]["status"], "AVAILABLE");
}

#[tokio::test]
async fn user_export_archives_go_once_their_link_expired() {
    let app = TestApp::spawn().await;
    let key = Path::from(format!(
        "{}/{}/{}/{}.zip",
        content::export::USER_EXPORTS,
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4()
    ));
    let other = Path::from(format!("{}/elsewhere.bin", Uuid::new_v4()));
    for k in [&key, &other] {
        app.state.store.put(k, b"zip".to_vec().into()).await.expect("put");
    }
    let ttl = i64::try_from(app.state.content.download_url_ttl_secs).expect("ttl");
    // Still downloadable: kept.
    assert_eq!(purge(&app.state, Utc::now()).await.expect("purge").exports, 0);
    let after = Utc::now() + Duration::seconds(ttl) + Duration::minutes(16);
    assert_eq!(purge(&app.state, after).await.expect("purge").exports, 1);
    assert!(app.state.store.head(&key).await.is_err(), "the archive is gone");
    assert!(app.state.store.head(&other).await.is_ok(), "nothing else is touched");
    assert_eq!(purge(&app.state, after).await.expect("again").exports, 0);
}
