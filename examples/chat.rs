//! Ask the unified `chat` tool a question and show which vendor answered.
//!
//! `cargo run --example chat -- config/mcp_servers.json "Name a colour."`
//! (set OPENAI_API_KEY, GROQ_API_KEY or MODEL_PATH so that some vendor can answer).

#![expect(clippy::print_stdout, reason = "an example prints its result")]

use mcp_orchestrator::client::{ChatRequest, Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let config = args
        .next()
        .unwrap_or_else(|| "config/mcp_servers.json".into());
    let question = args.next().unwrap_or_else(|| "Name a colour.".into());
    let client = Client::spawn(&config).await?;
    let answer = client
        .chat(ChatRequest::new(question).temperature(0.0).max_tokens(64))
        .await;
    client.close().await;
    let answer = answer?;
    println!("{}", answer.message);
    println!("-- served by {:?}", answer.routing.vendor);
    for a in &answer.routing.attempts {
        println!(
            "   {} {} {:.0} ms {}",
            a.vendor,
            a.outcome,
            a.ms,
            a.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
