//! Command-line interface: argument types and dispatch; one module per command.

mod admin;
mod artifacts;
mod call;
mod capabilities;
mod chat;
mod check;
mod embed;
mod jobs;
mod metrics;
mod output;
mod remote;
mod sdk;
mod search;
mod serve;
mod services;
mod status;
mod top;
mod weather;
mod workflow;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

use crate::{
    app::App,
    config::{self, Config, ConfigError},
    telemetry::LogFormat,
};

/// The binary's entry: the reaper companion mode, or parse arguments, set up logging, run the
/// command on a runtime, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(crate::reaper::SUBCOMMAND) {
        crate::reaper::run();
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse_from(payload_flag(std::env::args_os().collect()));
    // OpenTelemetry is for the long-running `serve`; a one-shot command exports nothing.
    let pipeline = match &cli.command {
        Command::Serve(_) => crate::otel::Pipeline::from_env(),
        _ => Ok(None),
    };
    let pipeline = match pipeline {
        Ok(p) => p,
        Err(e) => {
            crate::telemetry::init(cli.log_format, cli.command.default_log_level(), None, false);
            tracing::error!(error = %e, "cannot start the OpenTelemetry export");
            return ExitCode::from(2);
        }
    };
    // `serve` buffers its log lines: its per-call audit line never waits on a write to stderr.
    let _log_writer = crate::telemetry::init(
        cli.log_format,
        cli.command.default_log_level(),
        pipeline.as_ref(),
        matches!(cli.command, Command::Serve(_)),
    );
    if let Some(p) = &pipeline {
        crate::otel::set_gauges(p.gauges());
    }
    // `MCP_ORCHESTRATOR_RUNTIME=current_thread` runs everything on one thread: the benchmark's
    // comparison of thread hand-offs against parallelism (see docs/benchmarks.md).
    let mut builder = match std::env::var("MCP_ORCHESTRATOR_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    // Children are already stopped by `run`; don't wait for stray blocking tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    // After the runtime: the exporters' blocking HTTP clients must not run inside it.
    if let Some(p) = pipeline {
        p.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = exit_code(&e);
            report_error(&e);
            ExitCode::from(code)
        }
    }
}

/// `jobs submit --config JSON` is the contract's spelling of the payload, while the global
/// `--config PATH` names the config file: after `jobs submit`, a `--config` whose value is a JSON
/// object is read as `--payload`.
fn payload_flag(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(submit) = text
        .windows(2)
        .position(|w| w[0] == "jobs" && w[1] == "submit")
    else {
        return args;
    };
    for i in submit + 2..text.len() {
        if text[i] == "--config"
            && text
                .get(i + 1)
                .is_some_and(|v| v.trim_start().starts_with('{'))
        {
            args[i] = "--payload".into();
        } else if let Some(v) = text[i].strip_prefix("--config=")
            && v.trim_start().starts_with('{')
        {
            args[i] = format!("--payload={v}").into();
        }
    }
    args
}

/// A stdio MCP server of MCP servers.
#[derive(Debug, Parser)]
#[command(name = "mcp-orchestrator", version, about)]
pub(crate) struct Cli {
    /// Config file (default: $MCP_ORCHESTRATOR_CONFIG, ./config/mcp_servers.json, then
    /// $XDG_CONFIG_HOME/mcp-orchestrator/mcp_servers.json).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve MCP on stdin/stdout (what a host runs).
    Serve(serve::Args),
    /// Every server's state, missing env vars, pid, restarts, tools, last error.
    Status(status::Args),
    /// Every tool the host would see, by server.
    Capabilities(capabilities::Args),
    /// Call a tool by its namespaced (or own) name.
    Call(call::Args),
    /// Validate the config and the environment.
    Check,
    /// Restart one server of the running instance.
    Restart(admin::RestartArgs),
    /// Approve a server's changed tool definitions (pinned by hash) in the running instance.
    Approve(admin::RestartArgs),
    /// Make the running instance re-read its config file.
    Reload,
    /// Chat through the unified `chat` tool.
    Chat(chat::Args),
    /// Embed texts through the unified `embed` tool.
    Embed(embed::Args),
    /// Search the web through the unified `search_web` tool.
    Search(search::Args),
    /// Current weather through the unified `get_weather` tool.
    Weather(weather::Args),
    /// Workflows: validate, list, run, pause, resume, cancel, status, graph.
    Workflow(workflow::Args),
    /// Jobs: submit, status, list, cancel, wait.
    Jobs(jobs::Args),
    /// Job types and their external services' health.
    Services(services::Args),
    /// Artifacts: list, show, lineage, get.
    Artifacts(artifacts::Args),
    /// Resource history of the children and the orchestrator (from the running instance).
    Metrics(metrics::Args),
    /// A live table of the running instance in the terminal.
    Top(top::Args),
}

impl Command {
    /// Serving logs what happens (the host keeps stderr as its log); one-shot commands only
    /// warn, so their output stays readable.
    pub(crate) fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "warn,mcp_orchestrator=info",
            _ => "warn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::payload_flag;

    #[test]
    fn a_json_config_after_jobs_submit_is_the_payload() {
        let args = |v: &[&str]| {
            v.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert_eq!(
            payload_flag(args(&[
                "m",
                "--config",
                "c.json",
                "jobs",
                "submit",
                "--type",
                "t",
                "--config",
                "{\"a\":1}"
            ])),
            args(&[
                "m",
                "--config",
                "c.json",
                "jobs",
                "submit",
                "--type",
                "t",
                "--payload",
                "{\"a\":1}"
            ])
        );
        assert_eq!(
            payload_flag(args(&["m", "jobs", "submit", "--config={}"])),
            args(&["m", "jobs", "submit", "--payload={}"])
        );
        assert_eq!(
            payload_flag(args(&["m", "jobs", "list", "--config", "c.json"])),
            args(&["m", "jobs", "list", "--config", "c.json"])
        );
    }
}

/// A failure with the exit code the contract gives it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Failure {
    /// 1 runtime, 2 usage or config.
    pub code: u8,
    /// What to tell the user.
    pub message: String,
}

/// Runs the command.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = config::locate(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => serve::execute(&path, args).await,
        Command::Status(args) => status::execute(&path, args).await,
        Command::Capabilities(args) => capabilities::execute(&path, args).await,
        Command::Call(args) => call::execute(&path, args).await,
        Command::Check => check::execute(&path),
        Command::Restart(args) => admin::restart(&path, args).await,
        Command::Approve(args) => admin::approve(&path, args).await,
        Command::Reload => admin::reload(&path).await,
        Command::Chat(args) => chat::execute(&path, args).await,
        Command::Embed(args) => embed::execute(&path, args).await,
        Command::Search(args) => search::execute(&path, args).await,
        Command::Weather(args) => weather::execute(&path, args).await,
        Command::Workflow(args) => workflow::execute(&path, args).await,
        Command::Jobs(args) => jobs::execute(&path, args).await,
        Command::Services(args) => services::execute(&path, args).await,
        Command::Artifacts(args) => artifacts::execute(&path, args).await,
        Command::Metrics(args) => metrics::execute(&path, args).await,
        Command::Top(args) => top::execute(&path, args).await,
    }
}

/// The exit code for an error: 2 for config and usage problems, 1 otherwise.
fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(f) = e.downcast_ref::<Failure>() {
        f.code
    } else if e.downcast_ref::<ConfigError>().is_some() {
        2
    } else {
        1
    }
}

/// Tells the user what went wrong, on stderr.
fn report_error(e: &anyhow::Error) {
    output::error(&format!("{e:#}"));
}

/// Loads the config, as an error with exit code 2 when it is invalid.
fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Ok(config::load(path)?)
}

/// How long one-shot commands wait for children: long enough for a slow start and for a crash
/// loop to end in `failed`.
fn settle_limit(config: &Config) -> Duration {
    config.settings.startup_timeout + Duration::from_secs(15)
}

/// Starts the servers for a one-shot command and waits until each has settled.
async fn start_and_settle(config: Config) -> anyhow::Result<App> {
    let limit = settle_limit(&config);
    let app = App::start(config).await?;
    app.registry().wait_settled(limit).await;
    Ok(app)
}
