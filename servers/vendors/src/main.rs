//! `mcp-vendor <provider>`: one vendor MCP server on stdio.
//!
//! Providers: openai, groq, open_meteo, openweathermap, brave, tavily, searxng. Each reads its
//! key and base URL from the environment (see servers/README.md). A configuration problem is
//! printed to stderr and ends the process with status 2 before any MCP traffic.

mod groq;
mod llm;
mod openai;
mod search;
mod weather;

use std::process::ExitCode;

use mcp_server_kit::{HttpSettings, ToolServer, env::ConfigError, init_logging, serve_stdio};

const PROVIDERS: &str = "openai, groq, open_meteo, openweathermap, brave, tavily, searxng";

fn build(provider: &str, http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    match provider {
        "openai" => openai::server(http),
        "groq" => groq::server(http),
        "open_meteo" => weather::open_meteo::server(http),
        "openweathermap" => weather::openweathermap::server(http),
        "brave" => search::brave::server(http),
        "tavily" => search::tavily::server(http),
        "searxng" => search::searxng::server(http),
        other => Err(ConfigError::Invalid {
            name: "provider",
            reason: format!("unknown provider '{other}' (expected one of: {PROVIDERS})"),
        }),
    }
}

fn main() -> ExitCode {
    init_logging();
    let Some(provider) = std::env::args().nth(1) else {
        eprintln!("usage: mcp-vendor <provider>   (provider: {PROVIDERS})");
        return ExitCode::from(2);
    };
    let server = match HttpSettings::from_env().and_then(|http| build(&provider, &http)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mcp-vendor {provider}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-vendor {provider}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_stdio(server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-vendor {provider}: {e}");
            ExitCode::FAILURE
        }
    }
}
