//! Logging to stderr only (stdout carries JSON-RPC), and, when configured, the OpenTelemetry
//! layer beside it.

use tracing_subscriber::{
    EnvFilter, Layer, filter::Targets, fmt, fmt::writer::BoxMakeWriter, layer::SubscriberExt as _,
    util::SubscriberInitExt as _,
};

use crate::otel::{self, Pipeline};

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The variable that overrides the log filter (`RUST_LOG` syntax); `RUST_LOG` works too.
pub const LOG_ENV: &str = "MCP_ORCHESTRATOR_LOG";

/// Installs the global subscriber. `default_level` applies when neither variable is set. With a
/// pipeline whose traces are on, spans under [`otel::TARGET`] go to it; the log output never
/// shows them, whatever the filter. With `background`, lines are written by a thread of their
/// own (a request never waits on stderr), until the returned guard is dropped, which writes
/// what is left.
pub fn init(
    format: LogFormat,
    default_level: &str,
    pipeline: Option<&Pipeline>,
    background: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = std::env::var(LOG_ENV)
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_level))
        .add_directive(
            format!("{}=off", otel::TARGET)
                .parse()
                .expect("a valid directive"),
        );
    let (writer, guard) = if background {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("log-writer")
            .finish(std::io::stderr());
        (BoxMakeWriter::new(writer), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let lines = fmt::layer().with_writer(writer).with_ansi(false);
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let spans = pipeline
        .and_then(|p| p.layer())
        .map(|l| l.with_filter(Targets::new().with_target(otel::TARGET, tracing::Level::TRACE)));
    let subscriber = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(spans);
    // `try_init` also routes the `log` crate's records (from dependencies) into the same output.
    let _ = subscriber.try_init();
    guard
}
