//! `mcp-conformance-server`: a downstream MCP server that implements the server scenarios of the
//! official MCP conformance suite (`@modelcontextprotocol/conformance`), so the suite can be run
//! against it directly (HTTP mode) or through the orchestrator (stdio mode, as a child).
//!
//! ```text
//! mcp-conformance-server [--legacy] [stdio]     # default: MCP over stdin/stdout
//! mcp-conformance-server [--legacy] http ADDR   # Streamable HTTP on a loopback ADDR, e.g. 127.0.0.1:3001
//! ```
//!
//! By default the server is dual-era ("modern"): it answers `initialize` (protocol 2025-11-25
//! and older) and `server/discover` (2026-07-28), and passes the scored scenarios of both
//! revisions. `--legacy` (or `MCP_CONFORMANCE_ERA=legacy` in the environment) makes it look
//! legacy-only: `server/discover` fails with -32601 and only the 2025-11-25 tools, prompts and
//! resources exist, so a dual-era client must fall back to `initialize`. The flag wins over the
//! variable; `MCP_CONFORMANCE_ERA=modern` is the default spelled out.
//!
//! Logs go to stderr (`RUST_LOG`, default `warn`); stdout carries only the stdio transport.

mod http;
mod listen;
mod mrtr;
mod server;
mod tasks;

use std::{net::SocketAddr, process::ExitCode, sync::Arc};

use rmcp::ServiceExt;

use crate::server::{ConformanceServer, Era, Shared};

const USAGE: &str = "usage: mcp-conformance-server [--legacy] [stdio | http ADDR]
  stdio       serve MCP over stdin/stdout (default)
  http ADDR   serve MCP over Streamable HTTP on loopback ADDR (e.g. 127.0.0.1:3001; port 0 picks one);
              the endpoint is http://ADDR/mcp (every path is accepted)
  --legacy    legacy-only server: server/discover answers -32601 (method not found) and only the
              2025-11-25 scenarios exist; without it the server is dual-era (initialize and
              server/discover, 2025-11-25 and 2026-07-28 scenarios)
environment:
  MCP_CONFORMANCE_ERA=legacy|modern   same as --legacy / the default (the flag wins)
  RUST_LOG                            log filter for stderr (default warn)";

/// The env var that selects the era when `--legacy` is not given.
const ERA_VAR: &str = "MCP_CONFORMANCE_ERA";

enum Mode {
    Stdio,
    Http(SocketAddr),
}

/// Parsed command line: `None` mode means "print the usage".
struct Args {
    legacy: bool,
    mode: Option<Mode>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (legacy, rest) = match args {
        [flag, rest @ ..] if flag == "--legacy" => (true, rest),
        rest => (false, rest),
    };
    let mode = match rest {
        [] => Some(Mode::Stdio),
        [mode] if mode == "stdio" => Some(Mode::Stdio),
        [flag] if flag == "-h" || flag == "--help" => None,
        [mode, addr] if mode == "http" => Some(Mode::Http(
            addr.parse()
                .map_err(|e| format!("invalid ADDR {addr:?}: {e}"))?,
        )),
        _ => return Err(format!("unexpected arguments: {args:?}")),
    };
    Ok(Args { legacy, mode })
}

/// `--legacy` wins; otherwise [`ERA_VAR`] decides, modern when unset.
fn era(legacy_flag: bool, var: Option<&str>) -> Result<Era, String> {
    if legacy_flag {
        return Ok(Era::Legacy);
    }
    match var.map(str::trim) {
        None | Some("" | "modern") => Ok(Era::Modern),
        Some("legacy") => Ok(Era::Legacy),
        Some(other) => Err(format!(
            "{ERA_VAR}={other:?}: expected \"legacy\" or \"modern\""
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let var = std::env::var(ERA_VAR).ok();
    let parsed = parse_args(&args).and_then(|args| Ok((era(args.legacy, var.as_deref())?, args)));
    let (era, mode) = match parsed {
        Ok((
            era,
            Args {
                mode: Some(mode), ..
            },
        )) => (era, mode),
        Ok((_, Args { mode: None, .. })) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("mcp-conformance-server: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let shared = match Shared::new(era) {
        Ok(shared) => shared,
        Err(error) => {
            eprintln!("mcp-conformance-server: {error}");
            return ExitCode::FAILURE;
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
            Mode::Stdio => serve_stdio(shared).await,
            Mode::Http(addr) => http::serve(addr, shared).await,
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

async fn serve_stdio(shared: Arc<Shared>) -> std::io::Result<()> {
    let running = ConformanceServer::new(shared, None)
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

    fn mode(list: &[&str]) -> Result<(bool, Option<Mode>), String> {
        parse_args(&args(list)).map(|args| (args.legacy, args.mode))
    }

    #[test]
    fn modes() {
        assert!(matches!(mode(&[]), Ok((false, Some(Mode::Stdio)))));
        assert!(matches!(mode(&["stdio"]), Ok((false, Some(Mode::Stdio)))));
        assert!(matches!(
            mode(&["http", "127.0.0.1:0"]),
            Ok((false, Some(Mode::Http(_))))
        ));
        assert!(matches!(mode(&["--help"]), Ok((false, None))));
        assert!(mode(&["http"]).is_err());
        assert!(mode(&["http", "nope"]).is_err());
    }

    #[test]
    fn legacy_flag() {
        assert!(matches!(mode(&["--legacy"]), Ok((true, Some(Mode::Stdio)))));
        assert!(matches!(
            mode(&["--legacy", "stdio"]),
            Ok((true, Some(Mode::Stdio)))
        ));
        assert!(matches!(
            mode(&["--legacy", "http", "127.0.0.1:0"]),
            Ok((true, Some(Mode::Http(_))))
        ));
        assert!(mode(&["stdio", "--legacy"]).is_err());
    }

    #[test]
    fn era_from_flag_and_env() {
        assert_eq!(era(false, None), Ok(Era::Modern));
        assert_eq!(era(false, Some("modern")), Ok(Era::Modern));
        assert_eq!(era(false, Some("legacy")), Ok(Era::Legacy));
        assert_eq!(era(true, Some("modern")), Ok(Era::Legacy));
        assert!(era(false, Some("2026")).is_err());
    }
}
