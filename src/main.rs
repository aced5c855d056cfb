//! `mcp-orchestrator`: parse arguments, set up logging, run the command, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use mcp_orchestrator::cli::{self, Cli};

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(mcp_orchestrator::supervisor::reaper::SUBCOMMAND)
    {
        mcp_orchestrator::supervisor::reaper::run();
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    mcp_orchestrator::telemetry::init(cli.log_format, cli.command.default_log_level());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Children are already stopped by `run`; don't wait for stray blocking tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = cli::exit_code(&e);
            cli::report_error(&e);
            ExitCode::from(code)
        }
    }
}
