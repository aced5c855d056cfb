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

/// Starts the servers, waits until each has settled, reports, stops them.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    let orch = super::start_and_settle(config).await;
    let report = orch.status();
    orch.shutdown().await;
    if args.json {
        output::json(&report);
    } else {
        output::out(&report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
