//! Prometheus metrics of one service instance (own registry, so several
//! instances can run in one test process).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub graphql_duration: HistogramVec,
    pub graphql_errors: IntCounterVec,
    /// Events written to the outbox and not yet in Redis (read at scrape time).
    pub event_outbox_backlog: IntGauge,
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
        Ok(Metrics {
            registry,
            http_requests,
            graphql_duration,
            graphql_errors,
            event_outbox_backlog,
        })
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
