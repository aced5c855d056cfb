//! `restart SERVER`, `approve SERVER` and `reload`: steering the running instance.

use std::{path::Path, process::ExitCode};

use serde_json::{Map, Value};

use super::{output, remote};
use crate::tools::own;

/// `restart` and `approve` arguments.
#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// The server id.
    server: String,
}

/// Restarts one server of the running instance (also revives a failed one).
pub async fn restart(path: &Path, args: RestartArgs) -> anyhow::Result<ExitCode> {
    on_server(path, "restart", own::RESTART, args.server).await
}

/// Approves one server's changed tool definitions in the running instance (re-pins them).
pub async fn approve(path: &Path, args: RestartArgs) -> anyhow::Result<ExitCode> {
    on_server(path, "approve", own::APPROVE, args.server).await
}

/// Calls the admin tool `tool` with `{"server": server}` on the running instance.
async fn on_server(
    path: &Path,
    verb: &str,
    tool: &str,
    server: String,
) -> anyhow::Result<ExitCode> {
    let remote = remote::require(path, verb).await?;
    let mut a = Map::new();
    a.insert("server".into(), Value::String(server));
    let r = remote.call(tool, a).await;
    remote.close().await;
    print_result(r?)
}

/// Reloads the running instance's config file.
pub async fn reload(path: &Path) -> anyhow::Result<ExitCode> {
    let remote = remote::require(path, "reload").await?;
    let r = remote.call(own::RELOAD, Map::new()).await;
    remote.close().await;
    print_result(r?)
}

fn print_result(r: rmcp::model::CallToolResult) -> anyhow::Result<ExitCode> {
    for block in &r.content {
        if let Some(t) = block.as_text() {
            if r.is_error == Some(true) {
                output::error(&t.text);
            } else {
                output::out(&t.text);
            }
        }
    }
    Ok(if r.is_error == Some(true) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
