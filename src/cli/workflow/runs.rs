//! The verbs on runs: run (or store a detached run), runs, status, pause, resume, cancel.

use std::{path::Path, process::ExitCode};

use serde_json::{Map, Value, json};

use crate::cli::{Failure, call, load, output, remote::Remote};
use crate::{
    app,
    report::{RunReport, RunStatus},
    store::{Request, RunFilter, Store},
    tools::workflows::{self as tools, PREFIX},
};

pub(super) async fn run(
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
        call::call_anywhere(path, tools::START, args).await?
    } else {
        call::call_anywhere(path, &format!("{PREFIX}{name}"), input).await?
    };
    if json {
        output::json(&result.structured_content.clone().unwrap_or(Value::Null));
        return Ok(if result.is_error == Some(true) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    call::print(result, false)
}

/// Stores a run for the next instance on the store to pick up (no instance runs now).
async fn enqueue(
    path: &Path,
    name: &str,
    input: Value,
    priority: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (config, def) = super::definition(path, name)?;
    let store = Store::open(&app::store_url(&config)).await?;
    let now = crate::engine::clock::Clock::now_ms(&crate::engine::clock::SystemClock);
    let id = crate::engine::enqueue(&store, &def, &input, priority, now).await;
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
pub(super) async fn report(path: &Path, run: &str, events: bool) -> anyhow::Result<Value> {
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

pub(super) async fn status(
    path: &Path,
    run: &str,
    events: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
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

pub(super) async fn control(
    path: &Path,
    run: &str,
    request: Request,
    json: bool,
) -> anyhow::Result<ExitCode> {
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

pub(super) async fn runs(
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
    let config = load(path)?;
    Ok(Store::open(&app::store_url(&config)).await?)
}

fn failure(result: &rmcp::model::CallToolResult) -> anyhow::Error {
    crate::cli::remote::refused(result)
}
