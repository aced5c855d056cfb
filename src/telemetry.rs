//! Logging to stderr only (stdout carries JSON-RPC), and, when configured, the OpenTelemetry
//! layer beside it.

use std::{
    io::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

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
/// shows them, whatever the filter. With `buffered`, lines collect in memory and reach stderr
/// every [`FLUSH_EVERY`] (or sooner when [`BUFFER_MAX`] bytes wait), so a request never waits on
/// a write to stderr; dropping the returned guard writes what is left.
pub fn init(
    format: LogFormat,
    default_level: &str,
    pipeline: Option<&Pipeline>,
    buffered: bool,
) -> Option<LogGuard> {
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
    let (writer, guard) = if buffered {
        let (writer, guard) = Buffered::start();
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

/// How long a log line may wait in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Bytes of waiting lines that are written at once, without waiting for the flush.
pub const BUFFER_MAX: usize = 64 * 1024;

/// Log lines in memory, written to stderr in batches: a line is written at once when the last
/// write was at least [`FLUSH_EVERY`] ago (a quiet log stays prompt), else it waits for the next
/// batch (a busy one costs one write per interval, not one per line).
///
/// Measured against tracing-appender's non-blocking writer (a channel to a writer thread woken
/// per line), which cost the forwarding path more CPU than the write it saved (the writer
/// thread's wake-ups and spinning) and 5 MiB of memory for its queue: here a line is a copy
/// under an uncontended lock, and one thread writes ten times a second.
#[derive(Clone)]
struct Buffered {
    lines: Arc<Mutex<Vec<u8>>>,
    last_write: Arc<Mutex<Instant>>,
}

impl Buffered {
    fn start() -> (Self, LogGuard) {
        let lines: Arc<Mutex<Vec<u8>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, stop) = (lines.clone(), stop.clone());
            std::thread::Builder::new()
                .name("log-flush".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        std::thread::park_timeout(FLUSH_EVERY);
                        write_out(&lines);
                    }
                })
                .ok()
        };
        let guard = LogGuard {
            lines: lines.clone(),
            stop,
            thread,
        };
        let last_write = Arc::new(Mutex::new(Instant::now()));
        (Self { lines, last_write }, guard)
    }
}

fn write_out(lines: &Mutex<Vec<u8>>) {
    let batch = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    if !batch.is_empty() {
        let _ = std::io::stderr().lock().write_all(&batch);
    }
}

impl std::io::Write for Buffered {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.extend_from_slice(bytes);
        let quiet = {
            let mut last = self.last_write.lock().unwrap_or_else(|p| p.into_inner());
            let quiet = last.elapsed() >= FLUSH_EVERY;
            if quiet {
                *last = Instant::now();
            }
            quiet
        };
        if quiet || lines.len() >= BUFFER_MAX {
            let batch = std::mem::take(&mut *lines);
            drop(lines);
            std::io::stderr().lock().write_all(&batch)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffered {
    type Writer = Buffered;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes the log lines still in memory when dropped (the end of `serve`).
pub struct LogGuard {
    lines: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        write_out(&self.lines);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn lines_wait_in_memory_until_the_buffer_fills_or_the_guard_goes() {
        // No flushing thread here: what the test sees is the writer's own rule.
        // A write "just now" (an hour ahead): the next lines are batched, whatever the clock.
        let mut w = Buffered {
            lines: Arc::default(),
            last_write: Arc::new(Mutex::new(Instant::now() + Duration::from_secs(3600))),
        };
        let guard = LogGuard {
            lines: w.lines.clone(),
            stop: Arc::default(),
            thread: None,
        };
        w.write_all(b"one\n").unwrap();
        assert_eq!(
            &*w.lines.lock().unwrap(),
            b"one\n",
            "kept, not written per line"
        );
        w.write_all(&vec![b'x'; BUFFER_MAX]).unwrap();
        assert!(
            w.lines.lock().unwrap().is_empty(),
            "a full buffer is written at once"
        );
        w.write_all(b"last\n").unwrap();
        drop(guard);
        assert!(
            w.lines.lock().unwrap().is_empty(),
            "the guard writes what is left"
        );
    }
}
