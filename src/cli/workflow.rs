//! `workflow`: validate, list, run, pause, resume, cancel, status and graph. Verbs on runs use
//! the running instance's control socket when there is one, otherwise the store directly (a run
//! is started on servers started for the command).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::{Map, Value, json};

use super::{Failure, output, remote::Remote};
use crate::{
    app,
    report::{CapabilitiesReport, RunReport, RunStatus, StepStatus},
    store::{Request, RunFilter, Store},
    tools::workflows::{self as tools, PREFIX},
};

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
        } => run(path, &name, &input, detach, priority, json).await,
        Verb::Runs {
            status,
            workflow,
            limit,
        } => runs(path, status.as_deref(), workflow, limit, json).await,
        Verb::Status { run, events } => status(path, &run, events, json).await,
        Verb::Pause { run } => control(path, &run, Request::Pause, json).await,
        Verb::Resume { run } => control(path, &run, Request::Resume, json).await,
        Verb::Cancel { run } => control(path, &run, Request::Cancel, json).await,
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

async fn run(
    path: &Path,
    name: &str,
    input: &str,
    detach: bool,
    priority: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let input: Map<String, Value> = serde_json::from_str(input).map_err(|e| Failure {
        code: 2,
        message: format!("--input must be a JSON object: {e}"),
    })?;
    let remote = Remote::connect(path).await;
    if detach && remote.is_none() {
        return enqueue(path, name, Value::Object(input), priority, json).await;
    }
    if let Some(remote) = remote {
        remote.close().await;
    }
    let result = if detach {
        let mut args = Map::new();
        args.insert("workflow".into(), name.into());
        args.insert("input".into(), Value::Object(input));
        args.insert("priority".into(), priority.into());
        super::call::call_anywhere(path, tools::START, args).await?
    } else {
        super::call::call_anywhere(path, &format!("{PREFIX}{name}"), input).await?
    };
    if json {
        output::json(&result.structured_content.clone().unwrap_or(Value::Null));
        return Ok(if result.is_error == Some(true) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    super::call::print(result, false)
}

/// Stores a run for the next instance on the store to pick up (no instance runs now).
async fn enqueue(
    path: &Path,
    name: &str,
    input: Value,
    priority: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    let loaded = tools::load(&config, None);
    let def = loaded
        .definitions
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Failure {
            code: 2,
            message: format!("no workflow `{name}` in {}", config.workflows_dir.display()),
        })?;
    let store = Store::open(&app::store_url(&config)).await?;
    let now = crate::engine::clock::Clock::now_ms(&crate::engine::clock::SystemClock);
    let id = crate::engine::enqueue(&store, def, &input, priority, now).await;
    store.close().await;
    let id = id?;
    if json {
        output::json(&json!({"run_id": id, "status": "pending"}));
    } else {
        output::out(&format!(
            "run {id} stored; no instance is running: the next `mcp-orchestrator serve` on this config runs it"
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report of a run, from the running instance or the store.
async fn report(path: &Path, run: &str, events: bool) -> anyhow::Result<Value> {
    if let Some(remote) = Remote::connect(path).await {
        let mut args = Map::new();
        args.insert("run_id".into(), run.into());
        args.insert("events".into(), events.into());
        let result = remote.call(tools::STATUS, args).await;
        remote.close().await;
        let result = result?;
        if result.is_error == Some(true) {
            return Err(failure(&result));
        }
        return Ok(result.structured_content.unwrap_or(Value::Null));
    }
    let store = open_store(path).await?;
    let report = store.report(run).await?.ok_or_else(|| Failure {
        code: 1,
        message: format!("unknown run `{run}`"),
    })?;
    let mut value = serde_json::to_value(&report)?;
    if events {
        value["events"] = serde_json::to_value(store.events(run, 0).await?)?;
    }
    store.close().await;
    Ok(value)
}

async fn status(path: &Path, run: &str, events: bool, json: bool) -> anyhow::Result<ExitCode> {
    let value = report(path, run, events).await?;
    if json {
        output::json(&value);
        return Ok(ExitCode::SUCCESS);
    }
    let report: RunReport = serde_json::from_value(value.clone())?;
    output::out(&format!(
        "run {} of {}: {}{}",
        report.run_id,
        report.workflow,
        report.status,
        report
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    ));
    for s in &report.steps {
        output::out(&format!(
            "  {:24} {:20} attempts {}{}",
            s.name,
            s.status.as_str(),
            s.attempts,
            s.error
                .as_deref()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        ));
    }
    if let Some(o) = &report.output {
        output::out(&format!("output: {o}"));
    }
    if let Some(events) = value.get("events").and_then(Value::as_array) {
        for e in events {
            output::out(&format!(
                "  {} {} {} {}",
                e["at"],
                e["kind"].as_str().unwrap_or("?"),
                e["step"].as_str().unwrap_or(""),
                e.get("detail").cloned().unwrap_or(Value::Null)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn control(path: &Path, run: &str, request: Request, json: bool) -> anyhow::Result<ExitCode> {
    let tool = match request {
        Request::Pause => tools::PAUSE,
        Request::Resume => tools::RESUME,
        Request::Cancel => tools::CANCEL,
    };
    let (was, via) = if let Some(remote) = Remote::connect(path).await {
        let mut args = Map::new();
        args.insert("run_id".into(), run.into());
        let result = remote.call(tool, args).await;
        remote.close().await;
        let result = result?;
        if result.is_error == Some(true) {
            return Err(failure(&result));
        }
        let was = result
            .structured_content
            .as_ref()
            .and_then(|v| v.get("was"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        (was, "the running instance")
    } else {
        let store = open_store(path).await?;
        let status = store.request(run, request).await?;
        store.close().await;
        let status = status.ok_or_else(|| Failure {
            code: 1,
            message: format!("unknown run `{run}`"),
        })?;
        if status.is_terminal() {
            return Err(Failure {
                code: 1,
                message: format!("run `{run}` has already ended ({status})"),
            }
            .into());
        }
        (
            status.to_string(),
            "the store (the next `serve` on it acts on it)",
        )
    };
    if json {
        output::json(&json!({"run_id": run, "requested": request.as_str(), "was": was}));
    } else {
        output::out(&format!(
            "{} requested for run {run} (it was {was}) through {via}",
            request.as_str()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn graph(path: &Path, name: &str, dot: bool, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = super::load(path)?;
    let loaded = tools::load(&config, None);
    let def = loaded
        .definitions
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| Failure {
            code: 2,
            message: format!("no workflow `{name}` in {}", config.workflows_dir.display()),
        })?;
    let states: Option<BTreeMap<String, StepStatus>> = match run {
        Some(run) => {
            let report: RunReport = serde_json::from_value(report(path, run, false).await?)?;
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
        crate::workflow::dot(def, states.as_ref())
    } else {
        crate::workflow::mermaid(def, states.as_ref())
    };
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

async fn runs(
    path: &Path,
    status: Option<&str>,
    workflow: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let status = match status {
        Some(s) => Some(RunStatus::parse(s).ok_or_else(|| Failure {
            code: 2,
            message: format!(
                "--status: `{s}` is not a run state; expected one of {}",
                RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })?),
        None => None,
    };
    let store = open_store(path).await?;
    let filter = RunFilter {
        status,
        workflow,
        limit,
    };
    let runs = store.runs(&filter).await?;
    store.close().await;
    if json {
        let list: Vec<Value> = runs
            .iter()
            .map(|r| json!({"run_id": r.id, "workflow": r.workflow, "status": r.status, "created_at": r.created_at, "finished_at": r.finished_at, "error": r.error}))
            .collect();
        output::json(&list);
    } else {
        for r in &runs {
            output::out(&format!(
                "{}  {:20} {:12} {}",
                r.id,
                r.workflow,
                r.status.as_str(),
                r.error.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open_store(path: &Path) -> anyhow::Result<Store> {
    let config = super::load(path)?;
    Ok(Store::open(&app::store_url(&config)).await?)
}

fn failure(result: &rmcp::model::CallToolResult) -> anyhow::Error {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    Failure {
        code: 1,
        message: text.join("\n"),
    }
    .into()
}
