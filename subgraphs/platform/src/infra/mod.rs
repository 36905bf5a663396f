//! The process's links to the outside that carry no domain: metrics (plain
//! numbers in, Prometheus text out), tracing, and — from `platform-base`, shared
//! with the router — the Redis client and rate limiter.

pub use platform_base::{kv, rate_limit};

pub mod metrics;
pub mod telemetry;
