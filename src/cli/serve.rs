//! `serve`: the MCP server a host runs.

use std::{path::Path, process::ExitCode};

use rmcp::{ServiceExt, transport::async_rw::AsyncRwTransport};

use crate::{orchestrator::Orchestrator, server::OrchestratorServer, shutdown};

/// `serve` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Serves on stdio until the host closes stdin or a signal arrives, then stops every child.
pub async fn execute(path: &Path, _args: Args) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    tracing::info!(config = %path.display(), servers = config.servers.len(), "starting");
    let max = config.settings.max_message_bytes;
    let orch = Orchestrator::start(config);
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(max);
    let server = OrchestratorServer::new(orch.clone());
    let outcome = tokio::select! {
        r = serve(server, transport) => r,
        () = shutdown::signal() => Ok(()),
    };
    orch.shutdown().await;
    tracing::info!("stopped");
    outcome.map(|()| ExitCode::SUCCESS)
}

async fn serve(
    server: OrchestratorServer,
    transport: AsyncRwTransport<rmcp::RoleServer, tokio::io::Stdin, tokio::io::Stdout>,
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
