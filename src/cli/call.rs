//! `call`: one tool call through the orchestrator, the same path a host's call takes.

use std::{path::Path, process::ExitCode};

use rmcp::{ServiceExt, model::CallToolRequestParams};

use super::{Failure, output};
use crate::{dispatch::Caller, mcp::OrchestratorServer};

/// `call` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tool name: `<server>__<tool>` or an orchestrator tool.
    tool: String,
    /// Arguments as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Print the whole result as JSON.
    #[arg(long)]
    json: bool,
}

/// Starts the servers, calls the tool over an in-memory MCP session, prints the result.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let arguments: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&args.args)
        .map_err(|e| Failure {
            code: 2,
            message: format!("--args must be a JSON object: {e}"),
        })?;
    if let Some(remote) = super::remote::Remote::connect(path).await {
        let result = remote.call(&args.tool, arguments).await;
        remote.close().await;
        return print(result?, args.json);
    }
    let config = super::load(path)?;
    let app = super::start_and_settle(config).await;
    let (host_side, our_side) = tokio::io::duplex(1 << 20);
    let server = OrchestratorServer::new(app.services().clone(), Caller::Host);
    let served = app.registry().tracker().spawn(async move {
        if let Ok(running) = server.serve(our_side).await {
            let _ = running.waiting().await;
        }
    });
    let outcome = async {
        let client = ().serve(host_side).await?;
        let params = CallToolRequestParams::new(args.tool.clone()).with_arguments(arguments);
        let result = client.call_tool(params).await;
        let _ = client.cancel().await;
        anyhow::Ok(result)
    }
    .await;
    app.shutdown().await;
    served.abort();
    let result = outcome?.map_err(|e| Failure {
        code: 1,
        message: format!("{} failed: {e}", args.tool),
    })?;
    print(result, args.json)
}

fn print(result: rmcp::model::CallToolResult, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        output::json(&result);
    } else {
        for block in &result.content {
            match block.as_text() {
                Some(t) => output::out(&t.text),
                None => output::json(block),
            }
        }
        if result.content.is_empty()
            && let Some(v) = &result.structured_content
        {
            output::json(v);
        }
    }
    Ok(if result.is_error == Some(true) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
