//! Identity's lists cost the same SQL statements at any length and under
//! concurrent load (see `testkit::statements`). Its own test binary, because
//! it counts every statement the process runs.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::sync::Arc;

use serde_json::json;
use testkit::statements::Statements;

use helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_member_list_costs_the_same_statements_at_any_length_and_under_load() {
    let statements = Statements::install();
    let app = Arc::new(TestApp::spawn().await);
    let org = app.org("big-clinic", &["medical"]).await;
    app.member(org, "admin@big.example", &["org_admin"]).await;
    for i in 0..60 {
        let role = ["practitioner", "nurse", "secretary"][i % 3];
        app.member(org, &format!("member{i}@big.example"), &[role]).await;
    }
    let admin = app.token("big-clinic", "admin@big.example").await;
    let q = "query($n: Int) { currentOrganization { name members(first: $n) { edges { node { roles user { id displayName email } } } } } }";
    statements
        .assert_constant("members with their users", [5, 60], 16, move |n| {
            let (app, admin) = (app.clone(), admin.clone());
            async move {
                let r = app.gql(q, json!({ "n": n }), Some(&admin)).await;
                assert!(r["errors"].is_null(), "{r}");
                assert_eq!(
                    r["data"]["currentOrganization"]["members"]["edges"]
                        .as_array()
                        .map(Vec::len),
                    Some(n)
                );
            }
        })
        .await;
}
