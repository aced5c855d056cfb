//! Print the state of every server in a config, through the SDK.
//!
//! `cargo run --example status -- config/mcp_servers.json`

#![expect(clippy::print_stdout, reason = "an example prints its result")]

use mcp_orchestrator::client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "config/mcp_servers.json".into());
    let client = Client::spawn(&config).await?;
    let status = client.wait_ready(std::time::Duration::from_secs(60)).await;
    let tools = client.tool_names().await;
    client.close().await;
    let status = status?;
    for (id, s) in &status.servers {
        let missing = if s.missing_env.is_empty() {
            String::new()
        } else {
            format!(" (missing {})", s.missing_env.join(", "))
        };
        println!("{id:16} {}{missing}", s.state);
    }
    println!("{} tools offered", tools?.len());
    Ok(())
}
