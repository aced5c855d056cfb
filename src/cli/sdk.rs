//! The unified-tool commands use the client SDK: against the running instance when there is
//! one, otherwise against a `serve` started for the occasion.

use std::path::Path;

use super::Failure;
use crate::{
    client::{Client, ClientError, Routing},
    control,
};

/// A client for the config at `path`.
pub async fn connect(path: &Path) -> anyhow::Result<Client> {
    if let Some(session) = control::connect(path).await {
        return Ok(Client::from_service(session));
    }
    let me = std::env::current_exe()?;
    Ok(Client::spawn_with(me, path).await?)
}

/// Turns an SDK error into a CLI failure: exit 2 for bad arguments, 1 otherwise.
pub fn failure(e: ClientError) -> anyhow::Error {
    let code = match &e {
        ClientError::Rpc {
            source: rmcp::ServiceError::McpError(err),
            ..
        } if err.code == rmcp::model::ErrorCode::INVALID_PARAMS => 2,
        _ => 1,
    };
    Failure {
        code,
        message: e.to_string(),
    }
    .into()
}

/// One line on how a request was served, for stderr.
pub fn served_by(r: &Routing) -> String {
    let vendor = r.vendor.as_deref().unwrap_or("?");
    let fallbacks: Vec<String> = r
        .attempts
        .iter()
        .filter(|a| a.outcome != "ok")
        .map(|a| {
            format!(
                "{} {} ({})",
                a.vendor,
                a.outcome,
                a.error.as_deref().unwrap_or("")
            )
        })
        .collect();
    let cached = if r.cached { ", cached" } else { "" };
    if fallbacks.is_empty() {
        format!("served by {vendor} in {:.0} ms{cached}", r.total_ms)
    } else {
        format!(
            "served by {vendor} in {:.0} ms{cached} after: {}",
            r.total_ms,
            fallbacks.join("; ")
        )
    }
}
