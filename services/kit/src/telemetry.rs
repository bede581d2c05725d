//! Logging: `tracing` with a human format for local runs and JSON lines for
//! production (`LOG_FORMAT=json`). `RUST_LOG` filters as usual (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (e.g. from tests that start
/// several services in one process) are ignored.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.compact().try_init()
    };
    if installed.is_ok() {
        tracing::info!(service, "logging started");
    }
}
