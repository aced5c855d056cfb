//! Workflows as host-facing tools: `workflow__<name>` per loaded definition (its `input` schema;
//! runs it, sends progress per step, returns the output with the run id), and the tools that
//! drive runs by id: `workflow_start` (detached), `workflow_status`, `workflow_pause`,
//! `workflow_resume`, `workflow_cancel`. Listed only when definitions are loaded, so a plain
//! router keeps its small surface.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use super::{ToolSource, answer, string};
use crate::{
    dispatch::{BoxFuture, CallContext, CallOutcome, Caller},
    engine::{Engine, EngineError, Submit},
    error::{ItemKind, RouteError},
    report::RunStatus,
    store::Request,
};

/// The prefix of the tool that runs a workflow.
pub const PREFIX: &str = "workflow__";
/// Starts a run and returns its id at once.
pub const START: &str = "workflow_start";
/// A run's report (and its events, on request).
pub const STATUS: &str = "workflow_status";
/// Pauses a run.
pub const PAUSE: &str = "workflow_pause";
/// Resumes a paused run.
pub const RESUME: &str = "workflow_resume";
/// Cancels a run (its completed steps are compensated).
pub const CANCEL: &str = "workflow_cancel";

const NAMES: &[&str] = &[START, STATUS, PAUSE, RESUME, CANCEL];

mod load;

pub use load::{Live, load, load_files};

/// The workflow tools.
pub struct Workflows {
    engine: Arc<Engine>,
}

impl Workflows {
    /// The tools over `engine`'s definitions and runs.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    async fn run(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
        cx: &CallContext,
    ) -> Result<CallOutcome, RouteError> {
        let input = Value::Object(arguments.unwrap_or_default());
        let options = Submit {
            priority: 0,
            progress: cx.progress.clone(),
            id: None,
        };
        let run_id = self
            .engine
            .submit(name, input, options)
            .await
            .map_err(route_error)?;
        let report = self
            .engine
            .wait(&run_id, &cx.cancel)
            .await
            .map_err(route_error)?;
        if cx.cancel.is_cancelled() && !report.status.is_terminal() {
            // The host gave up on the call: the run is cancelled and compensated, not orphaned.
            let _ = self.engine.control(&run_id, Request::Cancel).await;
        }
        let value = json!({
            "run_id": report.run_id,
            "status": report.status,
            "output": report.output,
            "error": report.error,
        });
        let text = match (&report.status, &report.error) {
            (RunStatus::Completed, _) => format!(
                "workflow {name} run {run_id} completed: {}",
                report.output.clone().unwrap_or(Value::Null)
            ),
            (status, error) => format!(
                "workflow {name} run {run_id} ended {status}: {}",
                error.as_deref().unwrap_or("-")
            ),
        };
        Ok(answer(text, value, report.status != RunStatus::Completed))
    }

    async fn manage(
        &self,
        tool: &str,
        arguments: Option<JsonObject>,
    ) -> Result<CallOutcome, RouteError> {
        let args = arguments.unwrap_or_default();
        if tool == START {
            let name = string(&args, "workflow")?;
            let input = args.get("input").cloned().unwrap_or_else(|| json!({}));
            let priority = args.get("priority").and_then(Value::as_i64).unwrap_or(0);
            let options = Submit {
                priority,
                progress: None,
                id: None,
            };
            let run_id = self
                .engine
                .submit(&name, input, options)
                .await
                .map_err(route_error)?;
            return Ok(answer(
                format!("started {name}: run {run_id}"),
                json!({"run_id": run_id}),
                false,
            ));
        }
        let run_id = string(&args, "run_id")?;
        if tool == STATUS {
            let report = self.engine.report(&run_id).await.map_err(route_error)?;
            let mut value = serde_json::to_value(&report).unwrap_or(Value::Null);
            if args.get("events").and_then(Value::as_bool) == Some(true) {
                let events = self.engine.events(&run_id).await.map_err(route_error)?;
                value["events"] = serde_json::to_value(events).unwrap_or(Value::Null);
            }
            return Ok(answer(
                format!("run {run_id} of {}: {}", report.workflow, report.status),
                value,
                false,
            ));
        }
        let request = match tool {
            PAUSE => Request::Pause,
            RESUME => Request::Resume,
            _ => Request::Cancel,
        };
        let was = self
            .engine
            .control(&run_id, request)
            .await
            .map_err(route_error)?;
        Ok(answer(
            format!(
                "{} requested for run {run_id} (it was {was})",
                request.as_str()
            ),
            json!({"run_id": run_id, "requested": request.as_str(), "was": was}),
            false,
        ))
    }
}

impl ToolSource for Workflows {
    fn reserved(&self) -> &'static [&'static str] {
        NAMES
    }

    fn tools(&self, _caller: Caller) -> Vec<Tool> {
        let defs = self.engine.definitions();
        if defs.is_empty() {
            return Vec::new();
        }
        let mut tools: Vec<Tool> = defs
            .iter()
            .map(|d| {
                let schema = d.input_schema.clone().unwrap_or_else(|| {
                    let mut s = JsonObject::new();
                    s.insert("type".into(), "object".into());
                    s
                });
                let description = format!(
                    "Runs the workflow `{}` ({} steps){}. Returns its output and run id.",
                    d.name,
                    d.steps.len(),
                    d.description
                        .as_deref()
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default()
                );
                Tool::new(d.tool_name(), description, Arc::new(schema))
            })
            .collect();
        tools.extend(manage_tools());
        tools
    }

    fn owns(&self, name: &str, _caller: Caller) -> bool {
        name.starts_with(PREFIX) || NAMES.contains(&name)
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            match name.strip_prefix(PREFIX) {
                Some(workflow) => self.run(workflow, arguments, cx).await,
                None => self.manage(name, arguments).await,
            }
        })
    }
}

/// Engine errors as the host sees them: an unknown workflow is an unknown tool, bad input bad
/// params, the rest an internal error with its message.
fn route_error(e: EngineError) -> RouteError {
    match e {
        EngineError::UnknownWorkflow(name) => RouteError::Unknown {
            kind: ItemKind::Tool,
            name: format!("{PREFIX}{name}"),
        },
        e => RouteError::InvalidParams(e.to_string()),
    }
}

fn manage_tools() -> Vec<Tool> {
    let schema = super::object_schema;
    let run_id = || json!({"run_id": {"type": "string", "description": "The run's id."}});
    let read_only = || {
        let mut a = ToolAnnotations::default();
        a.read_only_hint = Some(true);
        a
    };
    let mut status = Tool::new(
        STATUS,
        "A workflow run's state, steps and output; `events: true` adds its event log.",
        schema(
            json!({"run_id": {"type": "string"}, "events": {"type": "boolean"}}),
            &["run_id"],
        ),
    );
    status.annotations = Some(read_only());
    vec![
        Tool::new(
            START,
            "Starts a workflow run and returns its run id at once (see workflow_status).",
            schema(
                json!({
                    "workflow": {"type": "string"},
                    "input": {"type": "object"},
                    "priority": {"type": "integer"}
                }),
                &["workflow"],
            ),
        ),
        status,
        Tool::new(
            PAUSE,
            "Pauses a workflow run: no new step starts; running ones finish.",
            schema(run_id(), &["run_id"]),
        ),
        Tool::new(
            RESUME,
            "Resumes a paused workflow run.",
            schema(run_id(), &["run_id"]),
        ),
        Tool::new(
            CANCEL,
            "Cancels a workflow run; its completed steps are compensated.",
            schema(run_id(), &["run_id"]),
        ),
    ]
}
