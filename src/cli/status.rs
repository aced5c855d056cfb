//! `status`: every server's state.

use std::{path::Path, process::ExitCode};

use super::output;

/// `status` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the contract's JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Reports on the running instance for this config if there is one; otherwise starts the
/// servers, waits until each has settled, reports, and stops them.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(remote) = super::remote::Remote::connect(path).await {
        let value = remote.structured(crate::tools::own::STATUS).await;
        remote.close().await;
        let value = value?;
        if args.json {
            output::json(&value);
        } else {
            let report: crate::report::StatusReport = serde_json::from_value(value)?;
            output::out(&report.to_text());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = super::load(path)?;
    let app = super::start_and_settle(config).await?;
    let report = app.status().await;
    app.shutdown().await;
    if args.json {
        output::json(&report);
    } else {
        output::out(&report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
