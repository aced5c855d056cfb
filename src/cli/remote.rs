//! Talking to a running `serve` through its control socket.

use std::path::Path;

use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
};
use serde_json::{Map, Value};

use super::Failure;
use crate::transport::control;

/// A session with the running instance for a config.
pub struct Remote {
    client: RunningService<RoleClient, ()>,
}

impl Remote {
    /// Connects to the instance serving `config`, if one is running.
    pub async fn connect(config: &Path) -> Option<Self> {
        let client = control::connect(config).await?;
        tracing::debug!("using the running instance's control socket");
        Some(Self { client })
    }

    /// Calls a tool on the running instance.
    pub async fn call(
        &self,
        tool: &str,
        args: Map<String, Value>,
    ) -> anyhow::Result<CallToolResult> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
        self.client.call_tool(params).await.map_err(|e| {
            Failure {
                code: 1,
                message: format!("{tool} failed on the running instance: {e}"),
            }
            .into()
        })
    }

    /// Calls one of the orchestrator's own tools and returns its structured content.
    pub async fn structured(&self, tool: &str) -> anyhow::Result<Value> {
        let r = self.call(tool, Map::new()).await?;
        r.structured_content.ok_or_else(|| {
            Failure {
                code: 1,
                message: format!("{tool} returned no structured content"),
            }
            .into()
        })
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.cancel().await;
    }
}

/// The control socket of a running instance, or an error saying there is none.
pub async fn require(config: &Path, command: &str) -> anyhow::Result<Remote> {
    Remote::connect(config).await.ok_or_else(|| {
        Failure {
            code: 1,
            message: format!(
                "`{command}` needs a running `mcp-orchestrator serve` for {} (none found at {})",
                config.display(),
                crate::paths::socket_path(config).display()
            ),
        }
        .into()
    })
}

/// A tool's error result as the command's failure: its text, exit code 1.
pub fn refused(result: &CallToolResult) -> anyhow::Error {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    Failure {
        code: 1,
        message: text.join("\n"),
    }
    .into()
}
