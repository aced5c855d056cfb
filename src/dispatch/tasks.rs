//! Tasks of children (the 2026-07-28 tasks extension, SEP-2663). A child may answer a tool call
//! with a `CreateTaskResult` and be polled for the outcome.
//!
//! - A host that polls (it declared the extension) gets the task under an id of ours that routes
//!   back: `child-<server id in hex>-<the child's id>`. It holds no state, so it survives our
//!   restarts, and it is as unguessable as the child's own id. `tasks/get`, `tasks/update` and
//!   `tasks/cancel` with it reach that child.
//! - A caller that cannot poll (a handshake-era host, a workflow step, a job) never sees the task:
//!   the orchestrator polls the child itself (`ChildDispatcher::follow_task`), honouring `pollIntervalMs`, reports
//!   progress, answers the task's input requests through the host when it can, and returns the
//!   final result as an ordinary call.
//!
//! A child that dies or forgets a task (a restart) turns the task `failed`, saying so: a poll
//! never hangs on it.

use std::{sync::Arc, time::Duration};

use rmcp::model::{DetailedTask, ErrorCode, ErrorData, JsonObject, Task, TaskPayload};
use serde_json::Value;

use super::CallContext;
use crate::{era::Era, error::RouteError};

const PREFIX: &str = "child-";

/// The shortest and longest wait between two polls of a child's task.
const POLL_MIN: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(10);
/// The wait when the child suggests none.
const POLL_DEFAULT: Duration = Duration::from_millis(500);

/// A child's task, as a host names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildTask {
    /// The child's server id.
    pub server: Arc<str>,
    /// The child's own task id.
    pub id: String,
}

impl ChildTask {
    /// The id a host is given for task `id` of `server`.
    pub fn host_id(server: &str, id: &str) -> String {
        let hex: String = server.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{PREFIX}{hex}-{id}")
    }

    /// The child task a host's task id names, if it names one.
    pub fn parse(host_id: &str) -> Option<Self> {
        let rest = host_id.strip_prefix(PREFIX)?;
        let (hex, id) = rest.split_once('-')?;
        if hex.is_empty() || hex.len() % 2 != 0 || id.is_empty() {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self {
            server: String::from_utf8(bytes).ok()?.into(),
            id: id.to_owned(),
        })
    }

    pub(super) fn host_task_id(&self) -> String {
        Self::host_id(&self.server, &self.id)
    }
}

/// Whether the caller of `cx` polls tasks itself: a stateless host that declared the extension.
pub fn caller_polls(cx: &CallContext) -> bool {
    cx.host.as_ref().is_some_and(|h| {
        h.era == Era::Modern && h.capabilities.as_ref().is_some_and(|c| c.supports_tasks())
    })
}

/// A task the host was given, renamed to route back to `server`.
pub fn for_host(server: &str, mut task: Task) -> Task {
    task.task_id = ChildTask::host_id(server, &task.task_id);
    task
}

/// The wait before the next poll: the child's suggestion, within bounds.
pub(super) fn interval(suggested_ms: Option<u64>) -> Duration {
    suggested_ms
        .map(Duration::from_millis)
        .unwrap_or(POLL_DEFAULT)
        .clamp(POLL_MIN, POLL_MAX)
}

/// A context whose own cancellation has not fired: for the `tasks/cancel` sent because the
/// caller's did.
pub(super) fn own_cancel(cx: &CallContext) -> CallContext {
    let mut cx = cx.clone();
    cx.cancel = tokio_util::sync::CancellationToken::new();
    cx
}

/// A failed task's JSON-RPC error object as an error.
pub(super) fn task_error(error: JsonObject) -> ErrorData {
    let code = error
        .get("code")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(ErrorCode::INTERNAL_ERROR.0);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the task failed")
        .to_owned();
    ErrorData::new(ErrorCode(code), message, error.get("data").cloned())
}

/// The task as `failed`, for a child that died with it or no longer knows it.
pub(super) fn lost(task: &ChildTask, why: &RouteError) -> DetailedTask {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let base = Task::new(
        task.host_task_id(),
        rmcp::model::TaskStatus::Failed,
        now.clone(),
        now,
    )
    .with_status_message(format!(
        "server `{}` can no longer answer for this task: {why}",
        task.server
    ));
    let mut error = JsonObject::new();
    error.insert("code".into(), ErrorCode::INTERNAL_ERROR.0.into());
    error.insert(
        "message".into(),
        format!(
            "the task was lost: server `{}` can no longer answer for it ({why}); run the call again",
            task.server
        )
        .into(),
    );
    DetailedTask::new(base, TaskPayload::Failed { error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_task_id_routes_back_to_its_server_and_child_id() {
        let id = ChildTask::host_id("my server", "4f2a-b1");
        assert!(id.starts_with("child-"));
        let back = ChildTask::parse(&id).unwrap();
        assert_eq!(&*back.server, "my server");
        assert_eq!(back.id, "4f2a-b1");
        for other in [
            "job-123",
            "child-",
            "child-zz-x",
            "child-616-x",
            "child-61-",
        ] {
            assert_eq!(ChildTask::parse(other), None, "{other}");
        }
    }

    #[test]
    fn polls_wait_as_the_child_suggests_within_bounds() {
        assert_eq!(interval(None), POLL_DEFAULT);
        assert_eq!(interval(Some(1)), POLL_MIN);
        assert_eq!(interval(Some(250)), Duration::from_millis(250));
        assert_eq!(interval(Some(3_600_000)), POLL_MAX);
    }

    #[test]
    fn a_failed_tasks_error_keeps_its_code_and_message() {
        let mut error = JsonObject::new();
        error.insert("code".into(), (-32602).into());
        error.insert("message".into(), "bad input".into());
        let e = task_error(error);
        assert_eq!(e.code.0, -32602);
        assert_eq!(e.message, "bad input");
        assert_eq!(
            task_error(JsonObject::new()).code,
            ErrorCode::INTERNAL_ERROR
        );
    }
}
