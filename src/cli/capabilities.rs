//! `capabilities`: every tool the host would see.

use std::{fmt::Write as _, path::Path, process::ExitCode};

use super::output;
use crate::{report::CapabilitiesReport, tools::own};

/// `capabilities` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Starts the servers, waits until each has settled, lists their tools, stops them.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(remote) = super::remote::Remote::connect(path).await {
        let value = remote.structured(own::CAPABILITIES).await;
        remote.close().await;
        let value = value?;
        if args.json {
            output::json(&value);
        } else {
            output::out(&to_text(&serde_json::from_value(value)?));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = super::load(path)?;
    let app = super::start_and_settle(config).await?;
    let report = own::capabilities(app.registry());
    app.shutdown().await;
    if args.json {
        output::json(&report);
    } else {
        output::out(&to_text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn to_text(r: &CapabilitiesReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "orchestrator: {}", r.orchestrator.join(", "));
    for (id, server) in &r.servers {
        let era = server
            .era
            .as_deref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default();
        let extensions = if server.extensions.is_empty() {
            String::new()
        } else {
            format!(", extensions: {}", server.extensions.join(", "))
        };
        let _ = writeln!(
            s,
            "\n{id} ({}{era}{extensions}): {} tools",
            server.state,
            server.tools.len()
        );
        for t in &server.tools {
            let desc = t
                .description
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let _ = writeln!(s, "  {:40} {desc}", t.name);
        }
        if !server.prompts.is_empty() {
            let _ = writeln!(s, "  prompts: {}", server.prompts.join(", "));
        }
        if !server.resources.is_empty() {
            let _ = writeln!(s, "  resources: {}", server.resources.len());
        }
    }
    if !r.unified.is_empty() {
        let _ = writeln!(s, "\nunified tools:");
        for (tool, chain) in &r.unified {
            let _ = writeln!(s, "  {tool}: {}", chain.join(" → "));
        }
    }
    s
}
