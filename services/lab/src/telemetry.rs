//! Logging: tracing to stderr, filtered by `RUST_LOG` (default `info`, with the web framework's own messages
//! at `warn`; one line per request at `debug`), as text coloured only on a terminal, or as JSON lines
//! (`--log-format json`). Seeds and keys are never
//! logged: the types that hold them redact their `Debug`, and handlers log message types and outcomes only.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`), for log collectors.
    Json,
}

/// Installs the process-wide subscriber, writing text; later calls are no-ops.
pub fn init() {
    init_with(LogFormat::Text);
}

/// Installs the process-wide subscriber in `format`; later calls are no-ops.
pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,actix_web=warn"));
    // A closed stderr must not take a worker down: tracing-subscriber reports its own write errors with
    // `eprintln!`, which panics when stderr is gone.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// For tests: logs only when `TEST_LOG` is set, so test output stays quiet by default.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init();
    }
}
