//! Prometheus metrics of one service instance (own registry, so several
//! instances can run in one test process).

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub graphql_duration: HistogramVec,
    pub graphql_errors: IntCounterVec,
    /// Events written to the outbox and not yet in Redis (read at scrape time).
    pub event_outbox_backlog: IntGauge,
    /// Per consumer group: entries not yet delivered (read at scrape time).
    pub event_consumer_lag: IntGaugeVec,
    /// Per consumer group: delivered, not yet acknowledged (read at scrape time).
    pub event_consumer_pending: IntGaugeVec,
    /// Events this instance's consumers applied, skipped (redelivered), failed.
    pub events_consumed: IntCounterVec,
    /// Events this instance's consumers moved to the dead-letter stream.
    pub event_dead_letters: IntCounterVec,
    /// Entries in the shared dead-letter stream (read at scrape time).
    pub event_dead_letter_backlog: IntGauge,
    /// Scheduled retention passes of this instance, by outcome (ok, failed).
    pub retention_runs: IntCounterVec,
    /// Rows the scheduled passes deleted or pseudonymized, per category and table.
    pub retention_rows: IntCounterVec,
    /// When this instance's last retention pass succeeded (Unix seconds; 0: none yet).
    pub retention_last_success: IntGauge,
    /// Sealer passes of this instance, by outcome (ok, failed).
    pub audit_seal_runs: IntCounterVec,
    /// Health-data reads this instance sealed into the audit chains.
    pub audit_reads_sealed: IntCounter,
    /// Reads of the schema not sealed yet, and the oldest one's age (read at scrape time).
    pub audit_reads_unsealed: IntGauge,
    pub audit_oldest_unsealed_read_age: Gauge,
}

impl Metrics {
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let registry = Registry::new_custom(
            Some("hub".into()),
            Some([("service".to_string(), service.to_string())].into()),
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )?;
        let graphql_duration = HistogramVec::new(
            HistogramOpts::new("graphql_request_duration_seconds", "GraphQL request latency")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["operation_type"],
        )?;
        let graphql_errors = IntCounterVec::new(
            Opts::new("graphql_errors_total", "GraphQL errors by extensions.code"),
            &["code"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(graphql_duration.clone()))?;
        let event_outbox_backlog = IntGauge::new(
            "event_outbox_backlog",
            "Domain events written but not yet relayed to Redis Streams",
        )?;
        registry.register(Box::new(graphql_errors.clone()))?;
        registry.register(Box::new(event_outbox_backlog.clone()))?;
        let event_consumer_lag = IntGaugeVec::new(
            Opts::new(
                "event_consumer_lag",
                "Stream entries not yet delivered to the consumer group",
            ),
            &["group", "family"],
        )?;
        let event_consumer_pending = IntGaugeVec::new(
            Opts::new(
                "event_consumer_pending",
                "Stream entries delivered to the consumer group and not yet acknowledged",
            ),
            &["group", "family"],
        )?;
        let events_consumed = IntCounterVec::new(
            Opts::new(
                "events_consumed_total",
                "Events handled by this instance's consumers, by outcome (applied, skipped, failed)",
            ),
            &["group", "outcome"],
        )?;
        let event_dead_letters = IntCounterVec::new(
            Opts::new(
                "event_dead_letters_total",
                "Events this instance moved to the dead-letter stream after their last attempt",
            ),
            &["group"],
        )?;
        let event_dead_letter_backlog = IntGauge::new(
            "event_dead_letter_backlog",
            "Entries in the dead-letter stream (every family and group)",
        )?;
        registry.register(Box::new(event_consumer_lag.clone()))?;
        registry.register(Box::new(event_consumer_pending.clone()))?;
        registry.register(Box::new(events_consumed.clone()))?;
        registry.register(Box::new(event_dead_letters.clone()))?;
        registry.register(Box::new(event_dead_letter_backlog.clone()))?;
        let retention_runs = IntCounterVec::new(
            Opts::new(
                "retention_runs_total",
                "Scheduled retention passes by outcome (ok, failed)",
            ),
            &["outcome"],
        )?;
        let retention_rows = IntCounterVec::new(
            Opts::new(
                "retention_rows_total",
                "Rows deleted or pseudonymized by scheduled retention passes",
            ),
            &["category", "table", "action"],
        )?;
        let retention_last_success = IntGauge::new(
            "retention_last_success_timestamp_seconds",
            "When the last scheduled retention pass succeeded (Unix time; 0 before the first)",
        )?;
        registry.register(Box::new(retention_runs.clone()))?;
        registry.register(Box::new(retention_rows.clone()))?;
        registry.register(Box::new(retention_last_success.clone()))?;
        let audit_seal_runs = IntCounterVec::new(
            Opts::new(
                "audit_seal_runs_total",
                "Passes sealing health-data reads into the audit chains, by outcome (ok, failed)",
            ),
            &["outcome"],
        )?;
        let audit_reads_sealed = IntCounter::new(
            "audit_reads_sealed_total",
            "Health-data reads this instance sealed into the audit chains",
        )?;
        let audit_reads_unsealed = IntGauge::new(
            "audit_reads_unsealed",
            "Health-data reads logged and not sealed into the audit chains yet",
        )?;
        let audit_oldest_unsealed_read_age = Gauge::new(
            "audit_oldest_unsealed_read_age_seconds",
            "Age of the oldest health-data read not sealed yet (0 when none); above a few seal intervals, nothing seals",
        )?;
        registry.register(Box::new(audit_seal_runs.clone()))?;
        registry.register(Box::new(audit_reads_sealed.clone()))?;
        registry.register(Box::new(audit_reads_unsealed.clone()))?;
        registry.register(Box::new(audit_oldest_unsealed_read_age.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            graphql_duration,
            graphql_errors,
            event_outbox_backlog,
            event_consumer_lag,
            event_consumer_pending,
            events_consumed,
            event_dead_letters,
            event_dead_letter_backlog,
            retention_runs,
            retention_rows,
            retention_last_success,
            audit_seal_runs,
            audit_reads_sealed,
            audit_reads_unsealed,
            audit_oldest_unsealed_read_age,
        })
    }

    /// Adds collectors kept elsewhere (the read pools' counters).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) -> anyhow::Result<()> {
        Ok(self.registry.register(collector)?)
    }

    /// A successful scheduled retention pass.
    /// `rows`: (category, table, action, rows) per rule applied.
    pub fn count_retention<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str, u64)>,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        for (category, table, action, n) in rows.into_iter().filter(|r| r.3 > 0) {
            self.retention_rows
                .with_label_values(&[category, table, action])
                .inc_by(n);
        }
        self.retention_runs.with_label_values(&["ok"]).inc();
        self.retention_last_success.set(at.timestamp());
    }

    /// One sealer pass: the reads it sealed, or `None` when it failed.
    pub fn count_seal(&self, sealed: Option<i64>) {
        match sealed {
            Some(n) => {
                self.audit_seal_runs.with_label_values(&["ok"]).inc();
                self.audit_reads_sealed.inc_by(u64::try_from(n).unwrap_or(0));
            }
            None => self.audit_seal_runs.with_label_values(&["failed"]).inc(),
        }
    }

    /// One consumer pass of `group`: entries per outcome, and those moved to
    /// the dead letters.
    pub fn count_events(&self, group: &str, outcomes: [(&str, usize); 3], dead: usize) {
        for (outcome, n) in outcomes {
            if n > 0 {
                self.events_consumed
                    .with_label_values(&[group, outcome])
                    .inc_by(n as u64);
            }
        }
        if dead > 0 {
            self.event_dead_letters.with_label_values(&[group]).inc_by(dead as u64);
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
