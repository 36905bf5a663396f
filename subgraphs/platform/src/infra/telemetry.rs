//! Logging and traces. Logs: JSON lines in production (for log shippers),
//! readable text in development; `RUST_LOG` overrides the default `info`
//! filter. Traces: with `HUB_OTEL__ENDPOINT` set, spans are exported over
//! OTLP/HTTP, continuing the trace the router started (W3C `traceparent`)
//! and carried on through domain events; off by default.

use std::{io::IsTerminal, time::Duration};

use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
    Context,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    runtime,
    trace::{span_processor_with_async_runtime::BatchSpanProcessor, Sampler, SdkTracerProvider},
    Resource,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::foundation::config::{Environment, OtelSettings};

/// What `init_with` started: flushed by [`Telemetry::shutdown`].
#[must_use = "dropping the guard keeps exporting; call shutdown() to flush at exit"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (at exit).
    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown() {
                eprintln!("trace export at shutdown failed: {e}");
            }
        }
    }
}

/// Logs only (the CLI, tests).
pub fn init(env: Environment) {
    install(env, None);
}

/// Logs, and traces when `otel.endpoint` is set, for service `service`.
pub fn init_with(env: Environment, service: &str, otel: &OtelSettings) -> anyhow::Result<Telemetry> {
    let Some(endpoint) = otel.endpoint() else {
        install(env, None);
        return Ok(Telemetry { provider: None });
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter, runtime::Tokio).build())
        // The router decides for the requests it traces; work a subgraph
        // starts itself (jobs, consumers without a parent) is sampled here.
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            otel.sample_ratio.clamp(0.0, 1.0),
        ))))
        .with_resource(Resource::builder().with_service_name(format!("hub-{service}")).build())
        .build();
    install(env, Some(provider.clone()));
    tracing::info!(endpoint = %endpoint, sample_ratio = otel.sample_ratio, "exporting traces over OTLP/HTTP");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

fn install(env: Environment, provider: Option<SdkTracerProvider>) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let otel = provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("hub"))
            .with_location(false)
            .with_threads(false)
    });
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    // try_init: a second call (tests, embedded use) is harmless.
    let _ = match env {
        Environment::Production => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
        _ => registry
            .with(fmt::layer().compact().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
}

fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The W3C trace context in `headers` (the router's `traceparent`).
pub fn extract(headers: &axum::http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span` continue the trace in `parent` and records the ids on it
/// (`trace_id`, `span_id` fields, which every log line inside carries).
/// Without an exporter the span has no ids of its own: the trace id is the
/// caller's, so a log line still leads to the router's trace.
pub fn continue_trace(span: &tracing::Span, parent: Context) {
    let remote = parent.span().span_context().clone();
    let _ = span.set_parent(parent);
    let own = span.context().span().span_context().clone();
    if own.is_valid() {
        span.record("trace_id", own.trace_id().to_string());
        span.record("span_id", own.span_id().to_string());
    } else if remote.is_valid() {
        span.record("trace_id", remote.trace_id().to_string());
    }
}

/// The current span's W3C `traceparent` (for an event envelope), if traced.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = TraceParent(None);
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.0
}

/// The context a `traceparent` carries (empty if malformed or absent).
pub fn from_traceparent(traceparent: &str) -> Context {
    TraceContextPropagator::new().extract(&TraceParentExtractor(traceparent))
}

/// Adds the current span's trace context to an outgoing request's headers.
pub fn inject(headers: &mut axum::http::HeaderMap) {
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut HeaderInjector(headers));
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut axum::http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(key.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Only `traceparent` is kept: `tracestate` is vendor data we do not carry.
struct TraceParent(Option<String>);

impl Injector for TraceParent {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = Some(value);
        }
    }
}

struct TraceParentExtractor<'a>(&'a str);

impl Extractor for TraceParentExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent" && !self.0.is_empty()).then_some(self.0)
    }
    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}
