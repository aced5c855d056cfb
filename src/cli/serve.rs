//! `serve`: the MCP server a host runs.

use std::{path::Path, process::ExitCode, sync::Arc};

use rmcp::ServiceExt;

use crate::{
    app::App,
    config::watch::ConfigWatch,
    dispatch::Caller,
    mcp::OrchestratorServer,
    registry::Registry,
    shutdown,
    tools::fast::Forwarder,
    transport::{control, http},
    wire::{HostTransport, stdio},
};

/// `serve` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not reload when the config file changes (SIGHUP and `reload` still work).
    #[arg(long)]
    no_watch: bool,
    /// Serve MCP over streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// With --http or --metrics: a Host header value to accept besides localhost (repeatable).
    #[arg(long, value_name = "HOST")]
    allow_host: Vec<String>,
    /// With --http: a browser Origin to accept (repeatable; e.g. http://localhost:5173).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allow_origin: Vec<String>,
    /// With stdio: also serve `/metrics` (Prometheus), the REST API and the health probes at
    /// http://ADDR (e.g. 127.0.0.1:9464; a non-loopback address needs --allow-host).
    #[arg(long, value_name = "ADDR", conflicts_with = "http")]
    metrics: Option<std::net::SocketAddr>,
    /// With --http or --metrics: the environment variable holding the bearer token clients must
    /// send.
    #[arg(long, value_name = "VAR", default_value = http::TOKEN_ENV)]
    token_env: String,
}

/// Serves on stdio (or HTTP) until the host closes stdin or a signal arrives; on a signal, drains
/// first (see [`App::drain_in_flight`]), then hands back leases and stops every child.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    tracing::info!(config = %path.display(), servers = config.servers.len(), "starting");
    let max = config.settings.max_message_bytes;
    let app = App::start(config).await?;
    start_reload_triggers(app.registry(), path, !args.no_watch);
    let control = control::listen(app.services(), path);
    let token = std::env::var(&args.token_env)
        .ok()
        .filter(|t| !t.is_empty())
        .map(crate::secrets::Secret::new);
    if let Some(addr) = args.metrics {
        let opts = http::HttpOptions {
            addr,
            allow_hosts: args.allow_host.clone(),
            allow_origins: Vec::new(),
            token: token.clone(),
            mcp: false,
            drain: app.drain().clone(),
        };
        let services = app.services().clone();
        app.registry().tracker().spawn(async move {
            let (bound, _) = tokio::sync::oneshot::channel();
            if let Err(e) = http::serve(services, opts, bound).await {
                tracing::error!(error = %e, "the metrics listener did not start");
            }
        });
    }
    let outcome = match args.http {
        Some(addr) => {
            let opts = http::HttpOptions {
                addr,
                allow_hosts: args.allow_host,
                allow_origins: args.allow_origin,
                token,
                mcp: true,
                drain: app.drain().clone(),
            };
            let (bound, _) = tokio::sync::oneshot::channel();
            // On the shutdown tree, so it keeps answering through the drain (readiness 503, the
            // calls in flight, refusals of new ones) and stops with the children.
            let services = app.services().clone();
            let mut server = app
                .registry()
                .tracker()
                .spawn(async move { http::serve(services, opts, bound).await });
            tokio::select! {
                r = &mut server => match r {
                    Ok(r) => r.map_err(anyhow::Error::from),
                    Err(e) => Err(anyhow::Error::from(e)),
                },
                () = shutdown::signal() => {
                    app.drain_in_flight().await;
                    Ok(())
                }
            }
        }
        None => {
            let (stdin, stdout) = stdio::host_stdio();
            let mut transport = HostTransport::new(stdin, stdout, max);
            if fast_path_enabled() {
                let services = app.services();
                transport = transport.with_fast_path(Arc::new(Forwarder::new(
                    services.sources.clone(),
                    services.registry.clone(),
                )));
            }
            transport = transport.with_drain(app.drain().clone());
            let server = OrchestratorServer::new(app.services().clone(), Caller::Host);
            let session = serve(server, transport);
            tokio::pin!(session);
            tokio::select! {
                r = &mut session => r,
                () = shutdown::signal() => {
                    // The session goes on through the drain: calls in flight are answered, new
                    // requests refused (the transport's drain gate); a host that leaves ends it.
                    tokio::select! {
                        _ = &mut session => {}
                        () = app.drain_in_flight() => {}
                    }
                    Ok(())
                }
            }
        }
    };
    drop(control);
    app.shutdown().await;
    tracing::info!("stopped");
    outcome.map(|()| ExitCode::SUCCESS)
}

/// The forwarding fast path is on unless `MCP_ORCHESTRATOR_FAST_PATH=off` (for A/B measurements,
/// and a way back to the typed path should it ever misbehave).
fn fast_path_enabled() -> bool {
    std::env::var(FAST_PATH_ENV).map_or(true, |v| !matches!(v.as_str(), "off" | "0" | "false"))
}

/// The variable that turns the forwarding fast path off.
pub const FAST_PATH_ENV: &str = "MCP_ORCHESTRATOR_FAST_PATH";

/// Reloads the config on each change of the file (unless `watch` is off) and on each SIGHUP.
fn start_reload_triggers(registry: &Arc<Registry>, path: &Path, watch: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut file = if watch {
        ConfigWatch::new(path)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "cannot watch the config file; edits need SIGHUP or `reload`");
            })
            .ok()
    } else {
        None
    };
    let mut hup = signal(SignalKind::hangup()).ok();
    let weak = Arc::downgrade(registry);
    let stop = registry.shutdown_token().clone();
    registry.tracker().spawn(async move {
        loop {
            let why = tokio::select! {
                () = stop.cancelled() => return,
                Some(()) = next_change(&mut file) => "config file changed",
                Some(()) = next_hup(&mut hup) => "SIGHUP",
            };
            let Some(registry) = weak.upgrade() else {
                return;
            };
            tracing::info!(trigger = why, "reloading the config");
            let _ = registry.reload_from_disk().await;
        }
    });
}

/// The next debounced file change; never, without a watch (or once it has ended).
async fn next_change(file: &mut Option<ConfigWatch>) -> Option<()> {
    match file {
        Some(w) => match w.next().await {
            Some(()) => Some(()),
            None => {
                *file = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// The next SIGHUP; never, without a handler.
async fn next_hup(hup: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match hup {
        Some(h) => h.recv().await,
        None => std::future::pending().await,
    }
}

async fn serve(
    server: OrchestratorServer,
    transport: HostTransport<stdio::HostRead, stdio::HostWrite>,
) -> anyhow::Result<()> {
    match server.serve(transport).await {
        Ok(running) => {
            let reason = running.waiting().await?;
            tracing::info!(?reason, "host session ended");
            Ok(())
        }
        // A host that closes stdin before `initialize` is done with us, not an error.
        Err(e) => {
            tracing::info!(error = %e, "host left before initializing");
            Ok(())
        }
    }
}
