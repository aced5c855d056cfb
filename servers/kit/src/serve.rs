//! Serving a [`ToolServer`] on stdin/stdout, with logs on stderr.

use rmcp::ServiceExt;
use tracing_subscriber::EnvFilter;

use crate::ToolServer;

/// Sends `tracing` output to stderr (stdout carries JSON-RPC only), filtered by `RUST_LOG`
/// (default `info`, with rmcp's per-message chatter at `warn`).
pub fn init_logging() {
    init_logging_with("info,rmcp=warn");
}

/// Like [`init_logging`], with `defaults` as the filter when `RUST_LOG` is unset.
pub fn init_logging_with(defaults: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(defaults));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Serves `server` on stdio until the client closes stdin.
pub async fn serve_stdio(server: ToolServer) -> Result<(), rmcp::RmcpError> {
    let name = server.name().to_owned();
    tracing::info!(server = %name, "serving on stdio");
    let running = server.serve(rmcp::transport::stdio()).await?;
    let reason = running.waiting().await;
    tracing::info!(server = %name, ?reason, "stopped");
    Ok(())
}
