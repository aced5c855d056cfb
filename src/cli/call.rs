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
    let result = call_anywhere(path, &args.tool, arguments).await?;
    print(result, args.json)
}

/// Calls a tool on the running instance for `path` if there is one, else on servers started for
/// this call (and stopped after).
pub async fn call_anywhere(
    path: &Path,
    tool: &str,
    arguments: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<rmcp::model::CallToolResult> {
    if let Some(remote) = super::remote::Remote::connect(path).await {
        let result = remote.call(tool, arguments).await;
        remote.close().await;
        return result;
    }
    let config = super::load(path)?;
    let app = super::start_and_settle(config).await?;
    let (host_side, our_side) = tokio::io::duplex(1 << 20);
    let server = OrchestratorServer::new(app.services().clone(), Caller::Host);
    let served = app.registry().tracker().spawn(async move {
        if let Ok(running) = server.serve(our_side).await {
            let _ = running.waiting().await;
        }
    });
    let outcome = async {
        let client = ().serve(host_side).await?;
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let result = client.call_tool(params).await;
        let _ = client.cancel().await;
        anyhow::Ok(result)
    }
    .await;
    app.shutdown().await;
    served.abort();
    Ok(outcome?.map_err(|e| Failure {
        code: 1,
        message: format!("{tool} failed: {e}"),
    })?)
}

pub(super) fn print(result: rmcp::model::CallToolResult, json: bool) -> anyhow::Result<ExitCode> {
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
