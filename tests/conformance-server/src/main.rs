//! `mcp-conformance-server`: a downstream MCP server that implements the server scenarios of the
//! official MCP conformance suite (`@modelcontextprotocol/conformance`), so the suite can be run
//! against it directly (HTTP mode) or through the orchestrator (stdio mode, as a child).
//!
//! ```text
//! mcp-conformance-server [stdio]        # default: MCP over stdin/stdout
//! mcp-conformance-server http ADDR      # Streamable HTTP on a loopback ADDR, e.g. 127.0.0.1:3001
//! ```
//!
//! Logs go to stderr (`RUST_LOG`, default `warn`); stdout carries only the stdio transport.

mod http;
mod server;

use std::{net::SocketAddr, process::ExitCode};

use rmcp::ServiceExt;

use crate::server::ConformanceServer;

const USAGE: &str = "usage: mcp-conformance-server [stdio | http ADDR]
  stdio       serve MCP over stdin/stdout (default)
  http ADDR   serve MCP over Streamable HTTP on loopback ADDR (e.g. 127.0.0.1:3001; port 0 picks one);
              the endpoint is http://ADDR/mcp (every path is accepted)";

enum Mode {
    Stdio,
    Http(SocketAddr),
}

fn parse_args(args: &[String]) -> Result<Option<Mode>, String> {
    match args {
        [] => Ok(Some(Mode::Stdio)),
        [mode] if mode == "stdio" => Ok(Some(Mode::Stdio)),
        [flag] if flag == "-h" || flag == "--help" => Ok(None),
        [mode, addr] if mode == "http" => addr
            .parse()
            .map(|addr| Some(Mode::Http(addr)))
            .map_err(|e| format!("invalid ADDR {addr:?}: {e}")),
        _ => Err(format!("unexpected arguments: {args:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(Some(mode)) => mode,
        Ok(None) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("mcp-conformance-server: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mcp-conformance-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match mode {
            Mode::Stdio => serve_stdio().await,
            Mode::Http(addr) => http::serve(addr).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mcp-conformance-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_stdio() -> std::io::Result<()> {
    let running = ConformanceServer::new(None)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn modes() {
        assert!(matches!(parse_args(&args(&[])), Ok(Some(Mode::Stdio))));
        assert!(matches!(
            parse_args(&args(&["stdio"])),
            Ok(Some(Mode::Stdio))
        ));
        assert!(matches!(
            parse_args(&args(&["http", "127.0.0.1:0"])),
            Ok(Some(Mode::Http(_)))
        ));
        assert!(matches!(parse_args(&args(&["--help"])), Ok(None)));
        assert!(parse_args(&args(&["http"])).is_err());
        assert!(parse_args(&args(&["http", "nope"])).is_err());
    }
}
