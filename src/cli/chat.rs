//! `chat MESSAGE`: the unified `chat` tool from a shell.

use std::{path::Path, process::ExitCode};

use super::{output, sdk};
use crate::client::ChatRequest;

/// `chat` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The message.
    message: String,
    /// Vendor to use first.
    #[arg(long)]
    vendor: Option<String>,
    /// Model.
    #[arg(long)]
    model: Option<String>,
    /// System prompt.
    #[arg(long)]
    system: Option<String>,
    /// Sampling temperature.
    #[arg(long)]
    temperature: Option<f64>,
    /// Most tokens to generate.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Print the whole answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Sends one chat request and prints the reply.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let mut req = ChatRequest::new(args.message);
    if let Some(v) = args.vendor {
        req = req.vendor(v);
    }
    if let Some(m) = args.model {
        req = req.model(m);
    }
    if let Some(s) = args.system {
        req = req.system(s);
    }
    if let Some(t) = args.temperature {
        req = req.temperature(t);
    }
    if let Some(n) = args.max_tokens {
        req = req.max_tokens(n);
    }
    let client = sdk::connect(path).await?;
    let answer = client.chat(req).await;
    client.close().await;
    let answer = answer.map_err(sdk::failure)?;
    if args.json {
        output::json(&serde_json::json!({
            "message": answer.message, "model": answer.model, "vendor": answer.vendor,
            "usage": answer.usage, "finish_reason": answer.finish_reason, "routing": answer.routing,
        }));
    } else {
        output::out(&answer.message);
        output::note(&sdk::served_by(&answer.routing));
    }
    Ok(ExitCode::SUCCESS)
}
