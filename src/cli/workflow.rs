//! `workflow`: validate, list, run, pause, resume, cancel, status and graph. Verbs on runs use
//! the running instance's control socket when there is one, otherwise the store directly (a run
//! is started on servers started for the command).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::json;

use super::{Failure, output, remote::Remote};
use crate::{
    report::{CapabilitiesReport, RunReport, StepStatus},
    store::Request,
    tools::workflows as tools,
    workflow::Definition,
};

mod runs;

/// `workflow` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Validate workflow files (the same checks as loading them), or the whole workflows dir.
    Validate {
        /// Files to check; none: every file in the config's `workflows.dir`.
        files: Vec<PathBuf>,
    },
    /// The loaded definitions.
    List,
    /// Run a workflow and wait for its output (or, with --detach, print its run id).
    Run {
        /// The workflow's name.
        name: String,
        /// The input, a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Return at once with the run id.
        #[arg(long)]
        detach: bool,
        /// Picked before lower-priority runs when more wait than may run.
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// Recent runs, newest first.
    Runs {
        /// Only runs in this state.
        #[arg(long)]
        status: Option<String>,
        /// Only runs of this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// A run's state and steps.
    Status {
        /// The run id.
        run: String,
        /// Add the run's event log.
        #[arg(long)]
        events: bool,
    },
    /// Start no new step of a run; running ones finish.
    Pause {
        /// The run id.
        run: String,
    },
    /// Resume a paused run.
    Resume {
        /// The run id.
        run: String,
    },
    /// Cancel a run: running steps are cancelled, completed ones compensated.
    Cancel {
        /// The run id.
        run: String,
    },
    /// The workflow's graph as Mermaid (or DOT), with a run's step states when given one.
    Graph {
        /// The workflow's name.
        name: String,
        /// Graphviz DOT instead of Mermaid.
        #[arg(long)]
        dot: bool,
        /// Colour the steps by this run's states.
        #[arg(long, value_name = "RUN")]
        run: Option<String>,
    },
}

/// Runs one verb.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    match args.verb {
        Verb::Validate { files } => validate(path, &files, json).await,
        Verb::List => list(path, json),
        Verb::Run {
            name,
            input,
            detach,
            priority,
        } => runs::run(path, &name, &input, detach, priority, json).await,
        Verb::Runs {
            status,
            workflow,
            limit,
        } => runs::runs(path, status.as_deref(), workflow, limit, json).await,
        Verb::Status { run, events } => runs::status(path, &run, events, json).await,
        Verb::Pause { run } => runs::control(path, &run, Request::Pause, json).await,
        Verb::Resume { run } => runs::control(path, &run, Request::Resume, json).await,
        Verb::Cancel { run } => runs::control(path, &run, Request::Cancel, json).await,
        Verb::Graph { name, dot, run } => graph(path, &name, dot, run.as_deref()).await,
    }
}

/// Checks against the config, and against the running instance's servers and tools when one
/// runs.
async fn validate(path: &Path, files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    let live = match Remote::connect(path).await {
        Some(remote) => {
            let report = remote.structured(crate::tools::own::CAPABILITIES).await;
            remote.close().await;
            let report: CapabilitiesReport = serde_json::from_value(report?)?;
            Some(tools::Live::from_report(&report))
        }
        None => None,
    };
    let loaded = tools::load_files(&config, live.as_ref(), files);
    if json {
        output::json(&json!({
            "valid": loaded.definitions.iter().map(|d| json!({"name": d.name, "file": d.file, "sha256": d.sha256})).collect::<Vec<_>>(),
            "errors": loaded.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    } else {
        for d in &loaded.definitions {
            output::out(&format!(
                "{}: ok ({} , {} steps)",
                d.file.display(),
                d.name,
                d.steps.len()
            ));
        }
        if loaded.definitions.is_empty() && loaded.errors.is_empty() {
            output::out(&format!(
                "no workflow files in {}",
                config.workflows_dir.display()
            ));
        }
    }
    if loaded.errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Failure {
        code: 2,
        message: format!(
            "{} invalid workflow file(s):\n  {}",
            loaded.errors.len(),
            loaded
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    }
    .into())
}

fn list(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    let loaded = tools::load(&config, None);
    if json {
        output::json(&json!({
            "definitions": loaded.definitions.iter().map(|d| json!({
                "name": d.name, "version": d.version, "steps": d.steps.len(),
                "tool": d.tool_name(), "file": d.file, "sha256": d.sha256,
            })).collect::<Vec<_>>(),
            "errors": loaded.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    } else {
        for d in &loaded.definitions {
            output::out(&format!(
                "{}  {}  {} steps  {}",
                d.name,
                d.version,
                d.steps.len(),
                d.file.display()
            ));
        }
        for e in &loaded.errors {
            output::warn(&e.to_string());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn graph(path: &Path, name: &str, dot: bool, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let (_, def) = definition(path, name)?;
    let states: Option<BTreeMap<String, StepStatus>> = match run {
        Some(run) => {
            let report: RunReport = serde_json::from_value(runs::report(path, run, false).await?)?;
            Some(
                report
                    .steps
                    .into_iter()
                    .map(|s| (s.name, s.status))
                    .collect(),
            )
        }
        None => None,
    };
    let text = if dot {
        crate::workflow::dot(&def, states.as_ref())
    } else {
        crate::workflow::mermaid(&def, states.as_ref())
    };
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

/// The config and the loaded definition called `name` (exit 2 when there is none).
fn definition(path: &Path, name: &str) -> anyhow::Result<(crate::config::Config, Definition)> {
    let config = super::load(path)?;
    let loaded = tools::load(&config, None);
    match loaded.definitions.into_iter().find(|d| d.name == name) {
        Some(def) => Ok((config, def)),
        None => Err(Failure {
            code: 2,
            message: format!("no workflow `{name}` in {}", config.workflows_dir.display()),
        }
        .into()),
    }
}
