//! Logging: JSON lines in production (for log shippers), readable text in
//! development; `RUST_LOG` overrides the default `info` filter.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::foundation::config::Environment;

pub fn init(env: Environment) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: a second call (tests, embedded use) is harmless.
    let _ = match env {
        Environment::Production => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
        _ => registry
            .with(fmt::layer().compact().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
}
