//! `services list`: the configured job types, what each runs, and each external service's health
//! (checked now, `GET {service_url}/health`).

use std::{path::Path, process::ExitCode};

use serde_json::json;

use super::output;
use crate::{
    config::JobTarget,
    engine::clock::{Clock, SystemClock},
    jobs::{self, service},
};

/// `services` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// The job types with their targets and health.
    List,
}

/// Runs one verb.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let Verb::List = args.verb;
    let config = super::load(path)?;
    let client = reqwest::Client::new();
    let mut reports = Vec::new();
    for (name, t) in &config.jobs.types {
        let check = match &t.target {
            JobTarget::Service(url) => Some(service::health(&client, url).await),
            _ => None,
        };
        let at = SystemClock.now_ms();
        reports.push(jobs::service_report(
            name,
            t,
            check.as_ref().map(|c| (c, at)),
        ));
    }
    if args.json {
        output::json(&json!({"services": reports}));
        return Ok(ExitCode::SUCCESS);
    }
    if reports.is_empty() {
        output::out(&format!(
            "no job types in {} (add a `jobs.types` section)",
            path.display()
        ));
    }
    for r in &reports {
        output::out(&format!(
            "{:20}  {:8}  {:40}  {}",
            r.job_type,
            r.kind.as_str(),
            r.target,
            r.health.as_deref().unwrap_or("-")
        ));
        if let Some(d) = &r.detail {
            output::out(&format!("  {d}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
