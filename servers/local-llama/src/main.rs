//! `mcp-local-llama`: an MCP server running the GGUF model at `MODEL_PATH` in-process with
//! llama.cpp (chat, embed, list_models).
//!
//! The model is loaded once, before the MCP session starts: a missing or unreadable model ends
//! the process with a message naming the path (status 1; status 2 for a configuration error),
//! so the router shows it as the server's last error instead of a hanging session.

mod config;
mod engine;
mod tools;

use std::process::ExitCode;

use mcp_server_kit::{init_logging_with, serve_stdio};

fn main() -> ExitCode {
    // llama.cpp logs every tensor at info level; keep its warnings only unless RUST_LOG says more.
    init_logging_with("info,rmcp=warn,llama-cpp-2=warn");
    let config = match config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mcp-local-llama: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = match engine::Engine::start(&config) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("mcp-local-llama: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcp-local-llama: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_stdio(tools::server(
        engine,
        config.default_max_tokens,
    ))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-local-llama: {e}");
            ExitCode::FAILURE
        }
    }
}
