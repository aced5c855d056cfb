//! `metrics history`: the children's and the orchestrator's resource history (CPU, memory,
//! threads, fds) from the running instance, which keeps it in memory.

use std::{path::Path, process::ExitCode};

use serde_json::{Map, Value};

use super::{output, remote};
use crate::{report::HistoryPoint, tools::own::HISTORY};

/// `metrics` arguments.
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
    /// Resource use over time, one point per `resource_history_step` (mean CPU, peak memory).
    History {
        /// How far back, seconds.
        #[arg(long, default_value_t = 3600.0)]
        since: f64,
        /// Only this server (or `orchestrator`).
        #[arg(long)]
        server: Option<String>,
    },
}

/// Runs one verb.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let Verb::History { since, server } = args.verb;
    let remote = remote::require(path, "metrics history").await?;
    let mut a = Map::new();
    a.insert("since_seconds".into(), since.into());
    let result = remote.call(HISTORY, a).await;
    remote.close().await;
    let result = result?;
    let mut value = result.structured_content.unwrap_or(Value::Null);
    if let (Some(s), Some(series)) = (&server, value["series"].as_object_mut()) {
        series.retain(|k, _| k == s);
    }
    if args.json {
        output::json(&value);
        return Ok(ExitCode::SUCCESS);
    }
    let series: std::collections::BTreeMap<String, Vec<HistoryPoint>> =
        serde_json::from_value(value["series"].clone()).unwrap_or_default();
    for (name, points) in &series {
        output::out(&format!("{name}:"));
        output::out(&format!(
            "  {:24}  {:>6}  {:>10}  {:>7}  {:>5}",
            "AT (UTC)", "CPU %", "RSS MiB", "THREADS", "FDS"
        ));
        for p in points {
            let at = chrono::DateTime::from_timestamp_millis(p.at)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            output::out(&format!(
                "  {at:24}  {:>6.1}  {:>10.1}  {:>7}  {:>5}",
                p.cpu_percent,
                p.rss_bytes as f64 / 1_048_576.0,
                p.threads,
                p.open_fds
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
