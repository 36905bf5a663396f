//! Legal retention on the medical schema: a closed record's clinical content
//! goes once its period has passed, the patient row stays pseudonymized,
//! nothing younger is touched, and a second run finds nothing.

use chrono::Utc;
use platform::{kit::SubgraphApp, retention, Role};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{who, TestApp};

/// A patient with one signed note, deleted (its record closed).
async fn closed_record(app: &TestApp, org: Uuid, mrn: &str) -> Uuid {
    let w = crate::helpers::Who {
        org,
        user: Uuid::new_v4(),
    };
    let patient = app.patient(org, mrn, "Ancien").await;
    let author = app.token(w, Role::Practitioner);
    let note = app
        .ok(
            "mutation($p: ID!) { writeClinicalNote(input: { patientId: $p, body: \"Old history\" }) { id } }",
            json!({ "p": patient }),
            &author,
        )
        .await;
    app.ok(
        "mutation($id: ID!) { signClinicalNote(id: $id) { id } }",
        json!({ "id": note["writeClinicalNote"]["id"] }),
        &author,
    )
    .await;
    app.ok(
        "mutation($id: ID!) { deletePatient(id: $id) }",
        json!({ "id": patient }),
        &app.token(w, Role::OrgAdmin),
    )
    .await;
    patient
}

async fn run(app: &TestApp, dry_run: bool) -> Vec<retention::Outcome> {
    retention::run(
        &app.admin,
        "medical",
        medical::Medical::RETENTION,
        &app.settings.retention,
        Utc::now(),
        dry_run,
    )
    .await
    .expect("retention run")
}

fn rows(outcomes: &[retention::Outcome], what: &str) -> u64 {
    outcomes
        .iter()
        .find(|o| o.what == what)
        .unwrap_or_else(|| panic!("no rule `{what}`: {outcomes:?}"))
        .rows
}

#[tokio::test]
async fn a_run_deletes_only_what_expired_pseudonymizes_the_patient_and_is_safe_to_repeat() {
    let app = TestApp::spawn().await;
    let w = who();
    let expired = closed_record(&app, w.org, "RET-1").await;
    let recent = closed_record(&app, w.org, "RET-2").await;
    let open = app.patient(w.org, "RET-3", "Ouvert").await;
    // RET-1 closed 21 years ago: past the 20 years clinical records are kept.
    sqlx::query("update medical.patients set deleted_at = now() - interval '21 years' where id = $1")
        .bind(expired)
        .execute(&app.admin)
        .await
        .expect("backdate");
    let notes = |p: Uuid| format!("select count(*) from medical.clinical_notes where patient_id = '{p}'");

    let dry = run(&app, true).await;
    assert_eq!(rows(&dry, "clinical notes of closed records"), 1, "{dry:?}");
    assert_eq!(rows(&dry, "closed patient records"), 1);
    assert_eq!(
        dry.iter().find(|o| o.rows > 0).map(|o| o.action),
        Some("would be deleted")
    );
    assert_eq!(app.count(&notes(expired)).await, 1, "a dry run changes nothing");

    let done = run(&app, false).await;
    assert_eq!(rows(&done, "clinical notes of closed records"), 1);
    assert_eq!(rows(&done, "closed patient records"), 1);
    assert_eq!(
        app.count(&notes(expired)).await,
        0,
        "the signed note past retention is gone"
    );
    assert_eq!(
        app.count(&notes(recent)).await,
        1,
        "a record closed last minute keeps its notes"
    );

    let (mrn, family, contact): (String, String, Option<Vec<u8>>) =
        sqlx::query_as("select mrn, family_name, contact_enc from medical.patients where id = $1")
            .bind(expired)
            .fetch_one(&app.admin)
            .await
            .expect("the patient row stays for the invoices and the trail");
    assert!(
        mrn.starts_with("X-") && family == "X" && contact.is_none(),
        "{mrn} {family}"
    );
    for p in [recent, open] {
        let family: String = sqlx::query_scalar("select family_name from medical.patients where id = $1")
            .bind(p)
            .fetch_one(&app.admin)
            .await
            .expect("patient");
        assert_ne!(family, "X", "untouched");
    }

    let again = run(&app, false).await;
    assert!(again.iter().all(|o| o.rows == 0), "{again:?}");
    let mut conn = app.admin.acquire().await.expect("conn");
    let report = platform::audit::chain::verify(&mut conn, "medical", None)
        .await
        .expect("verify");
    assert!(
        report.broken.is_empty(),
        "retention leaves the trail intact: {:?}",
        report.broken
    );
}
