//! SEP-2663 tasks extension (`io.modelcontextprotocol/tasks`, protocol 2026-07-28): the fixture
//! tools of the suite's `tasks-*` scenarios, run by rmcp's [`TaskManager`].
//!
//! A task-supporting tool called by a client that declared the extension (in its per-request
//! `_meta` capabilities) answers with a `CreateTaskResult`; the client then polls `tasks/get`,
//! answers input with `tasks/update` and may `tasks/cancel`. Without the extension, optional
//! task tools run synchronously and required ones fail with -32021.

use std::time::Duration;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock,
        CreateTaskResult, DetailedTask, InputRequest, InputRequests, InputRequiredResult, Tool,
    },
    service::RequestContext,
    task_manager::{TaskContext, TaskExit, TaskFuture, TaskManager, TaskOptions},
};
use serde_json::{Value, json};

const GREET: &str = "greet";
const SLOW_COMPUTE: &str = "slow_compute";
const FAILING_JOB: &str = "failing_job";
const PROTOCOL_ERROR_JOB: &str = "protocol_error_job";
const CONFIRM_DELETE: &str = "confirm_delete";
const MULTI_INPUT: &str = "multi_input";
const TOOL_WITH_TASK: &str = "test_tool_with_task";

/// The tools that never run synchronously.
const TASK_ONLY: &[&str] = &[
    FAILING_JOB,
    PROTOCOL_ERROR_JOB,
    CONFIRM_DELETE,
    MULTI_INPUT,
    TOOL_WITH_TASK,
];

/// A synchronous `slow_compute` (client without the extension) sleeps at most this long.
const MAX_SYNC_SLEEP: Duration = Duration::from_secs(30);
/// A task's `slow_compute` sleeps at most this long (a task the client forgot still ends).
const MAX_TASK_SLEEP: Duration = Duration::from_secs(600);

/// The task store, shared by every handler (stateless HTTP builds one per request).
#[derive(Default)]
pub struct Tasks {
    manager: TaskManager,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("running", &self.manager.running_task_count())
            .finish()
    }
}

/// The fixture tools, for `tools/list`.
pub fn tools() -> Vec<Tool> {
    let object = |properties: Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required});
    let no_args = object(json!({}), &[]);
    let tools = json!([
        {"name": GREET, "description": "Sync-only: returns Hello, {name}!",
         "inputSchema": object(json!({"name": {"type": "string"}}), &["name"])},
        {"name": SLOW_COMPUTE,
         "description": "Task-supporting (optional): sleeps `seconds`, then returns; cancellable",
         "inputSchema": object(json!({"seconds": {"type": "number", "minimum": 0},
                                      "label": {"type": "string"}}), &["seconds"])},
        {"name": FAILING_JOB,
         "description": "Task required: after about 1 s, completes with a tool execution error",
         "inputSchema": no_args},
        {"name": PROTOCOL_ERROR_JOB,
         "description": "Task required: fails with a protocol (JSON-RPC) error",
         "inputSchema": no_args},
        {"name": CONFIRM_DELETE,
         "description": "Task required: asks the user (elicitation, via tasks/get) before deleting",
         "inputSchema": object(json!({"filename": {"type": "string"}}), &["filename"])},
        {"name": MULTI_INPUT,
         "description": "Task required: asks two questions at once, completes when both are answered",
         "inputSchema": no_args},
        {"name": TOOL_WITH_TASK,
         "description": "Task required: asks for a name (InputRequiredResult), then runs as a task",
         "inputSchema": no_args},
    ]);
    serde_json::from_value(tools).unwrap_or_else(|error| {
        tracing::error!(%error, "the built-in task tool list does not parse");
        Vec::new()
    })
}

impl Tasks {
    /// Run the task fixture tool `request.name`; `None` if it is not one of them.
    pub async fn call_tool(
        &self,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<CallToolResponse, McpError>> {
        let args = request.arguments.clone().unwrap_or_default();
        let declared = ctx
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks());
        let response = match request.name.as_ref() {
            GREET => {
                let name = args.get("name").and_then(Value::as_str).unwrap_or("World");
                Ok(text(format!("Hello, {name}!")).into())
            }
            SLOW_COMPUTE => {
                let seconds = args.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
                let label = args
                    .get("label")
                    .and_then(Value::as_str)
                    .unwrap_or("compute")
                    .to_owned();
                self.slow_compute(declared, seconds, label).await
            }
            name if TASK_ONLY.contains(&name) => self.task_only(name, declared, request, &args),
            _ => return None,
        };
        Some(response)
    }

    /// The tools that only run as a task (SEP-2663 `taskSupport: required`).
    fn task_only(
        &self,
        name: &str,
        declared: bool,
        request: &CallToolRequestParams,
        args: &serde_json::Map<String, Value>,
    ) -> Result<CallToolResponse, McpError> {
        if !declared {
            return Err(McpError::missing_required_client_capability(
                ClientCapabilities::builder().enable_tasks().build(),
            ));
        }
        let filename = args
            .get("filename")
            .and_then(Value::as_str)
            .unwrap_or("file.txt")
            .to_owned();
        match name {
            FAILING_JOB => Ok(self.spawn(|_| Box::pin(failing_job()))),
            PROTOCOL_ERROR_JOB => Ok(self.spawn(|_| {
                Box::pin(async {
                    Err(TaskExit::Error(McpError::internal_error(
                        "protocol_error_job: the operation failed on purpose",
                        None,
                    )))
                })
            })),
            CONFIRM_DELETE => Ok(self.spawn(|task| Box::pin(confirm_delete(task, filename)))),
            MULTI_INPUT => Ok(self.spawn(|task| Box::pin(multi_input(task)))),
            _ => self.tool_with_task(request),
        }
    }

    async fn slow_compute(
        &self,
        declared: bool,
        seconds: f64,
        label: String,
    ) -> Result<CallToolResponse, McpError> {
        let wanted = Duration::try_from_secs_f64(seconds).unwrap_or_default();
        if !declared {
            tokio::time::sleep(wanted.min(MAX_SYNC_SLEEP)).await;
            return Ok(text(format!("{label}: computed after {seconds} s")).into());
        }
        let sleep = wanted.min(MAX_TASK_SLEEP);
        Ok(self.spawn(move |task| {
            Box::pin(async move {
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {
                        Ok(text(format!("{label}: computed after {seconds} s")))
                    }
                    () = task.cancelled() => Err(TaskExit::Cancelled),
                }
            })
        }))
    }

    /// SEP-2322 then SEP-2663: round 1 asks for a name with an `InputRequiredResult`; the
    /// retry carrying it becomes a task whose result greets that name.
    fn tool_with_task(
        &self,
        request: &CallToolRequestParams,
    ) -> Result<CallToolResponse, McpError> {
        let name = request
            .input_responses
            .as_ref()
            .and_then(|responses| responses.get("user_name"))
            .filter(|answer| answer["action"] == "accept")
            .and_then(|answer| answer["content"]["name"].as_str())
            .map(str::to_owned);
        let Some(name) = name else {
            let requests: InputRequests = serde_json::from_value(
                json!({"user_name": name_elicitation("What is your name?")}),
            )
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            return Ok(InputRequiredResult::from_input_requests(requests).into());
        };
        Ok(self.spawn(move |_| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(text(format!(
                    "Hello, {name}! (name gathered before the task)"
                )))
            })
        }))
    }

    fn spawn(&self, operation: impl FnOnce(TaskContext) -> TaskFuture) -> CallToolResponse {
        let task = self.manager.spawn(TaskOptions::new(), operation);
        CreateTaskResult::new(task).into()
    }

    /// `tasks/get`: -32602 for an unknown id.
    pub fn get(&self, task_id: &str) -> Result<DetailedTask, McpError> {
        self.manager.get_task(task_id)
    }

    /// `tasks/update`: answers for pending input; unknown keys are ignored.
    pub fn update(
        &self,
        task_id: &str,
        responses: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<(), McpError> {
        self.manager.update_task(task_id, responses)
    }

    /// `tasks/cancel`: cooperative; an already finished task just acknowledges.
    pub fn cancel(&self, task_id: &str) -> Result<(), McpError> {
        self.manager.cancel_task(task_id)
    }
}

async fn failing_job() -> Result<CallToolResult, TaskExit> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A tool execution error: the task completes, with `isError: true` in its result.
    Ok(CallToolResult::error(vec![ContentBlock::text(
        "failing_job: the job failed (tool execution error)",
    )]))
}

async fn confirm_delete(task: TaskContext, filename: String) -> Result<CallToolResult, TaskExit> {
    let question = format!("Delete {filename}?");
    let answer = task
        .request_input("confirm", elicitation(&question, "confirm", "boolean")?)
        .await?;
    let confirmed = answer["action"] == "accept" && answer["content"]["confirm"] == true;
    Ok(text(if confirmed {
        format!("Deleted {filename}")
    } else {
        format!("Kept {filename}")
    }))
}

/// Two questions pending at once, so a client can answer them one `tasks/update` at a time.
async fn multi_input(task: TaskContext) -> Result<CallToolResult, TaskExit> {
    let name = task.request_input("name", elicitation("What is your name?", "name", "string")?);
    let confirm = task.request_input(
        "confirm",
        elicitation("Shall I proceed?", "confirm", "boolean")?,
    );
    let (name, confirm) = tokio::try_join!(name, confirm)?;
    Ok(text(format!(
        "Received name={} and confirm={}",
        name["content"]["name"], confirm["content"]["confirm"]
    )))
}

fn elicitation(message: &str, property: &str, kind: &str) -> Result<InputRequest, TaskExit> {
    let request = json!({
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {property: {"type": kind}},
                "required": [property]
            }
        }
    });
    serde_json::from_value(request)
        .map_err(|e| TaskExit::Error(McpError::internal_error(e.to_string(), None)))
}

fn name_elicitation(message: &str) -> Value {
    json!({
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"]
            }
        }
    })
}

fn text(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_tool_is_listed() {
        let names: Vec<String> = tools().into_iter().map(|t| t.name.into_owned()).collect();
        for name in [GREET, SLOW_COMPUTE].iter().chain(TASK_ONLY) {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        assert_eq!(names.len(), 2 + TASK_ONLY.len());
    }

    #[tokio::test]
    async fn a_task_settles_and_is_observable_at_once() {
        let tasks = Tasks::default();
        let CallToolResponse::Task(created) = tasks
            .slow_compute(true, 0.0, "t".into())
            .await
            .expect("created")
        else {
            panic!("expected a task");
        };
        let id = created.task.task_id;
        // Durable before the CreateTaskResult is returned.
        assert!(tasks.get(&id).is_ok());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let detailed = serde_json::to_value(tasks.get(&id).expect("known")).expect("json");
        assert_eq!(detailed["status"], "completed");
        assert!(tasks.get("nope").is_err());
    }
}
