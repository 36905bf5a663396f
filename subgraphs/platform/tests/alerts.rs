//! The alerting rules the Helm chart ships (deploy/chart/hub/files/alerts.yaml)
//! watch metrics the services really export: an alert on a renamed or
//! removed metric would never fire, so it fails here instead.

use std::collections::BTreeSet;

use platform::metrics::Metrics;

const ALERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/chart/hub/files/alerts.yaml");

/// Every metric family a service exports, each observed once so that
/// labelled families show in the text format.
fn exported() -> BTreeSet<String> {
    let m = Metrics::new("alerts-test").expect("metrics");
    m.http_requests.with_label_values(&["/graphql", "200"]).inc();
    m.graphql_duration.with_label_values(&["query"]).observe(0.01);
    m.graphql_errors.with_label_values(&["INTERNAL"]).inc();
    m.event_outbox_backlog.set(1);
    m.event_consumer_lag.with_label_values(&["g", "f"]).set(1);
    m.event_consumer_pending.with_label_values(&["g", "f"]).set(1);
    m.count_events("g", [("applied", 1), ("skipped", 1), ("failed", 1)], 1);
    m.event_dead_letter_backlog.set(1);
    m.count_retention([("sessions", "sessions", "delete", 1)], chrono::Utc::now());
    m.retention_runs.with_label_values(&["failed"]).inc();
    m.count_seal(Some(1));
    m.audit_reads_unsealed.set(1);
    m.audit_oldest_unsealed_read_age.set(1.0);
    m.render()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_metric_an_alert_watches_is_exported() {
    let rules = std::fs::read_to_string(ALERTS).expect("the chart's alert rules");
    let used: BTreeSet<String> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("hub_"))
        .map(str::to_string)
        .collect();
    assert!(used.len() >= 6, "the rules name the metrics they watch: {used:?}");
    let exported = exported();
    let missing: Vec<&String> = used.iter().filter(|m| !exported.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "alerts on metrics nobody exports: {missing:?}\nexported: {exported:?}"
    );
}
