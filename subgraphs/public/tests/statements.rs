//! Loaders keep the number of SQL statements per request constant: 100
//! tenders with their buyers, lots, bid counts, bids and awards cost what 10
//! do, and under concurrent load exactly as much per request. Its own test
//! binary, because it counts every statement the process logs.

#[path = "api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

use std::sync::Arc;

use platform::Role;
use serde_json::json;
use testkit::statements::Statements;

use helpers::{TestApp, Who};

const CONCURRENCY: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_list_costs_the_same_statements_at_any_length_and_under_load() {
    let statements = Statements::install();
    let app = Arc::new(TestApp::spawn().await);
    let (buyer, acme) = (Who::new(), Who::new());
    app.supplier(acme, "Acme", 200).await;
    for i in 0..100 {
        let tender = app.tender(buyer, &format!("S-{i:03}"), 2).await;
        let lots = app.lots(tender).await;
        app.bid(acme, tender, Some(lots[0]), 1_000 + i).await;
    }
    let officer = app.token(buyer, Role::ProcurementOfficer);
    let supplier = app.token(acme, Role::SupplierUser);
    let lists = [
        (
            "tenders with buyers, lots, bid counts, bids and awards",
            "query($n: Int) { tenders(first: $n) { nodes { reference buyer { id } lots { number estimatedValue { amount } } bidCount bids { id } awards { id } amendments { rationale } } } }",
            &officer,
            [10, 100],
        ),
        (
            "a supplier's bids with their tenders and lots",
            "query($n: Int) { myBids(first: $n) { nodes { amount { amount } supplier { legalName } tender { reference bidCount lots { number } } } } }",
            &supplier,
            [10, 100],
        ),
        (
            "suppliers with their compliance",
            "query($n: Int) { suppliers(first: $n) { nodes { legalName organization { id } complianceStatus complianceDocuments { title } taxId } } }",
            &supplier,
            [1, 1],
        ),
    ];
    for (what, q, token, lengths) in lists {
        let (app, token, q) = (app.clone(), token.clone(), q.to_string());
        statements
            .assert_constant(what, lengths, CONCURRENCY, move |n| {
                let (app, token, q) = (app.clone(), token.clone(), q.clone());
                async move {
                    app.ok(&q, json!({ "n": n }), &token).await;
                }
            })
            .await;
    }
}
