//! Retention on identity's data: sessions ended more than 90 days ago go
//! with their refresh tokens, old notifications go, live sessions and
//! recent notifications stay, and a second run finds nothing.

use chrono::Utc;
use platform::{kit::SubgraphApp, retention};

use crate::helpers::TestApp;
use testkit::metric;

/// One notification of `user` per age (an interval: `400 days`).
async fn notifications(app: &TestApp, org: uuid::Uuid, user: uuid::Uuid, ages: &[&str]) {
    for age in ages {
        sqlx::query(
            "insert into identity.notifications (organization_id, user_id, kind, subject_type, subject_id, event_id, created_at)
             values ($1, $2, 'invitation', 'Organization', $1, gen_random_uuid(), now() - $3::interval)",
        )
        .bind(org)
        .bind(user)
        .bind(age)
        .execute(&app.admin)
        .await
        .expect("notification");
    }
}

async fn run(app: &TestApp) -> Vec<retention::Outcome> {
    retention::run(
        &app.admin,
        "identity",
        identity::Identity::RETENTION,
        &app.settings.retention,
        Utc::now(),
        false,
    )
    .await
    .expect("retention")
}

#[tokio::test]
async fn ended_sessions_and_old_notifications_go_after_their_period_and_nothing_else() {
    let app = TestApp::spawn().await;
    let org = app.org("keep", &["medical"]).await;
    let old = app.member(org, "old@keep.test", &["nurse"]).await;
    let live = app.member(org, "live@keep.test", &["nurse"]).await;
    app.login("keep", "old@keep.test").await;
    app.login("keep", "live@keep.test").await;
    let sql = |q: String| {
        let admin = app.admin.clone();
        async move { sqlx::raw_sql(&q).execute(&admin).await.expect("sql") }
    };
    sql(format!(
        "update identity.sessions set revoked_at = now() - interval '100 days' where user_id = '{old}'"
    ))
    .await;
    notifications(&app, org, old, &["400 days"]).await;
    notifications(&app, org, live, &["0 days"]).await;
    let sessions = |u| format!("select count(*) from identity.sessions where user_id = '{u}'");
    let refresh = |u| {
        format!("select count(*) from identity.refresh_tokens where session_id in (select id from identity.sessions where user_id = '{u}')")
    };
    assert!(app.count(&refresh(old)).await > 0);

    let done = run(&app).await;
    let rows = |what: &str| done.iter().find(|o| o.what == what).map(|o| o.rows);
    assert_eq!(rows("ended sessions"), Some(1), "{done:?}");
    assert_eq!(rows("notifications"), Some(1));
    assert_eq!(app.count(&sessions(old)).await, 0);
    assert_eq!(app.count(&sessions(live)).await, 1, "a live session stays");
    assert_eq!(
        app.count("select count(*) from identity.notifications").await,
        1,
        "the recent notification stays"
    );
    let again = run(&app).await;
    assert!(again.iter().all(|o| o.rows == 0), "{again:?}");
}

#[tokio::test]
async fn a_service_applies_retention_on_its_own_schedule_and_shows_it_on_its_metrics() {
    let app = TestApp::spawn().await;
    let org = app.org("sched", &["medical"]).await;
    let user = app.member(org, "old@sched.test", &["nurse"]).await;
    notifications(&app, org, user, &["400 days", "0 days"]).await;

    // A serving replica with background jobs holds no retention
    // credentials, so it runs no retention.
    let serving = app
        .replica(|f| {
            f.merge(("server.background_jobs", true))
                .merge(("retention.first_pass_after_secs", 0))
        })
        .await;
    // A worker: background jobs only, with the retention job's own
    // credentials, its first pass at once; nobody calls `hub retention run`.
    let admin_url = app.admin_url().to_string();
    let worker = app
        .replica(|f| {
            f.merge(("server.background_jobs", true))
                .merge(("server.mode", "worker"))
                .merge(("retention.database_url", admin_url))
                .merge(("retention.first_pass_after_secs", 0))
        })
        .await;
    let answered = worker
        .http
        .post(format!("{}/graphql", worker.url))
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("worker");
    assert_eq!(answered.status().as_u16(), 404, "a worker serves no GraphQL");
    let page = worker.metrics_when("retention_runs_total", "outcome=\"ok\"", 1.0).await;
    assert_eq!(
        metric(&page, "retention_runs_total", "outcome=\"ok\""),
        Some(1.0),
        "no scheduled pass: {page}"
    );
    assert_eq!(
        metric(&page, "retention_rows_total", "table=\"notifications\""),
        Some(1.0),
        "{page}"
    );
    assert!(metric(&page, "retention_last_success_timestamp_seconds", "").is_some_and(|t| t > 0.0));
    assert_eq!(
        app.count("select count(*) from identity.notifications").await,
        1,
        "the old notification went, the recent one stays"
    );
    let page = serving.get_text("/metrics").await;
    assert_eq!(
        metric(&page, "retention_runs_total", "outcome=\"ok\"").unwrap_or(0.0),
        0.0,
        "a serving process ran retention: {page}"
    );
}

#[tokio::test]
async fn two_workers_with_retention_credentials_pass_once_per_period_between_them() {
    let app = TestApp::spawn().await;
    let org = app.org("twice", &["medical"]).await;
    let user = app.member(org, "old@twice.test", &["nurse"]).await;
    notifications(&app, org, user, &["400 days"]).await;
    let admin_url = app.admin_url().to_string();
    let worker = || {
        let url = admin_url.clone();
        move |f: figment::Figment| {
            f.merge(("server.background_jobs", true))
                .merge(("server.mode", "worker"))
                .merge(("retention.database_url", url))
                .merge(("retention.first_pass_after_secs", 0))
        }
    };
    let (one, two) = tokio::join!(app.replica(worker()), app.replica(worker()));
    let mut outcomes = vec![];
    for w in [&one, &two] {
        let mut page = String::new();
        for _ in 0..100 {
            page = w.get_text("/metrics").await;
            if metric(&page, "retention_runs_total", "outcome=").is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        outcomes.push((
            metric(&page, "retention_runs_total", "outcome=\"ok\"").unwrap_or(0.0),
            metric(&page, "retention_runs_total", "outcome=\"skipped\"").unwrap_or(0.0),
        ));
    }
    outcomes.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    assert_eq!(
        outcomes,
        vec![(0.0, 1.0), (1.0, 0.0)],
        "one worker passes, the other skips the period: {outcomes:?}"
    );
    assert_eq!(app.count("select count(*) from identity.retention_passes").await, 1);
    assert_eq!(app.count("select count(*) from identity.notifications").await, 0);
}
