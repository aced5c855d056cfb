//! The unified-tool commands use the client SDK: against the running instance when there is
//! one, otherwise against a `serve` started for the occasion.

use std::path::Path;

use super::Failure;
use crate::{
    client::{Client, ClientError, Routing},
    report::AttemptOutcome,
    transport::control,
};

/// A client for the config at `path`.
pub async fn connect(path: &Path) -> anyhow::Result<Client> {
    if let Some(session) = control::connect(path).await {
        return Ok(Client::from_service(session));
    }
    let mut serve = tokio::process::Command::new(std::env::current_exe()?);
    serve.arg("--config").arg(path).arg("serve");
    // The `serve` started for one command shares our stderr: it logs at our level (`warn`
    // unless the user asked for more), not at a host's `info`.
    if std::env::var_os(crate::telemetry::LOG_ENV).is_none()
        && std::env::var_os("RUST_LOG").is_none()
    {
        serve.env(crate::telemetry::LOG_ENV, "warn");
    }
    Ok(Client::from_command(serve).await?)
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
        .filter(|a| a.outcome != AttemptOutcome::Ok)
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
