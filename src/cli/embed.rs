//! `embed TEXT...`: the unified `embed` tool from a shell.

use std::{path::Path, process::ExitCode};

use super::{output, sdk};
use crate::client::EmbedRequest;

/// `embed` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Texts to embed.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Vendor to use first.
    #[arg(long)]
    vendor: Option<String>,
    /// Print the vectors as JSON.
    #[arg(long)]
    json: bool,
}

/// Embeds the texts and prints a summary (or the vectors with `--json`).
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let mut req = EmbedRequest::new(args.texts.clone());
    if let Some(v) = args.vendor {
        req = req.vendor(v);
    }
    let client = sdk::connect(path).await?;
    let answer = client.embed(req).await;
    client.close().await;
    let answer = answer.map_err(sdk::failure)?;
    if args.json {
        output::json(&serde_json::json!({
            "embeddings": answer.embeddings, "model": answer.model, "dimensions": answer.dimensions,
            "vendor": answer.vendor, "routing": answer.routing,
        }));
    } else {
        for (text, v) in args.texts.iter().zip(&answer.embeddings) {
            let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:.4}")).collect();
            output::out(&format!(
                "{text:?}: {} dims [{}, …]",
                v.len(),
                head.join(", ")
            ));
        }
        output::note(&sdk::served_by(&answer.routing));
    }
    Ok(ExitCode::SUCCESS)
}
