//! Logging: tracing to stderr, filtered by `RUST_LOG` (default `info`, with the web framework's own messages
//! at `warn`; one line per request at `debug`), coloured only on a terminal. Seeds and keys are never
//! logged: the types that hold them redact their `Debug`, and handlers log message types and outcomes only.

use tracing_subscriber::EnvFilter;

/// Installs the process-wide subscriber; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,actix_web=warn"));
    // A closed stderr must not take a worker down: tracing-subscriber reports its own write errors with
    // `eprintln!`, which panics when stderr is gone.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .try_init();
}

/// For tests: logs only when `TEST_LOG` is set, so test output stays quiet by default.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init();
    }
}
