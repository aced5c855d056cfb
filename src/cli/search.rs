//! `search QUERY`: the unified `search_web` tool from a shell.

use std::{path::Path, process::ExitCode};

use super::{output, sdk};
use crate::client::SearchRequest;

/// `search` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to search for.
    query: String,
    /// How many results.
    #[arg(short = 'n', long, default_value_t = 5)]
    num_results: u32,
    /// Vendor to use first.
    #[arg(long)]
    vendor: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Searches and prints the results.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let mut req = SearchRequest::new(args.query).num_results(args.num_results);
    if let Some(v) = args.vendor {
        req = req.vendor(v);
    }
    let client = sdk::connect(path).await?;
    let answer = client.search_web(req).await;
    client.close().await;
    let answer = answer.map_err(sdk::failure)?;
    if args.json {
        output::json(
            &serde_json::json!({"results": answer.results, "provider": answer.provider, "routing": answer.routing}),
        );
    } else {
        for (i, r) in answer.results.iter().enumerate() {
            output::out(&format!(
                "{}. {}\n   {}\n   {}",
                i + 1,
                r.title,
                r.url,
                r.snippet
            ));
        }
        output::note(&sdk::served_by(&answer.routing));
    }
    Ok(ExitCode::SUCCESS)
}
