//! The child side of tasks (`super::super::tasks`): `tasks/get`, `tasks/update` and
//! `tasks/cancel` sent to the child that owns a task, and following a task for a caller that
//! cannot poll.

use std::{sync::Arc, time::Duration};

use rmcp::model::{
    CallToolResult, CancelTaskParams, ClientRequest, GetTaskParams, GetTaskResult, InputResponses,
    Request, ServerResult, Task, TaskPayload, UpdateTaskParams,
};
use serde_json::Value;
use tokio::time::Instant;

use super::ChildDispatcher;
use crate::{
    dispatch::{
        CallContext, input,
        tasks::{ChildTask, interval, lost, own_cancel, task_error},
    },
    era::Era,
    error::RouteError,
};

impl ChildDispatcher {
    /// `tasks/get` of a child's task. A child that is gone (it crashed: its tasks went with it),
    /// or no longer knows the task, makes it `failed` with the reason; a slow or busy child is an
    /// error the host may retry.
    pub async fn task_get(
        &self,
        task: &ChildTask,
        cx: &CallContext,
    ) -> Result<GetTaskResult, RouteError> {
        let request =
            ClientRequest::GetTaskRequest(Request::new(GetTaskParams::new(task.id.clone())));
        match self
            .request(&task.server, request, "tasks/get", cx, None)
            .await
        {
            Ok(ServerResult::GetTaskResult(mut r)) => {
                r.task.task.task_id = task.host_task_id();
                Ok(r)
            }
            Ok(_) => Err(super::unexpected(&task.server, "tasks/get")),
            // Slow or busy: the task may be fine, the host may ask again.
            Err(e @ (RouteError::Timeout { .. } | RouteError::Overloaded { .. })) => Err(e),
            // Gone (a crash takes a child's tasks with it), or no longer known (restarted).
            Err(e) => Ok(GetTaskResult::new(lost(task, &e))),
        }
    }

    /// `tasks/update`: the host's answers to the task's input requests.
    pub async fn task_update(
        &self,
        task: &ChildTask,
        answers: InputResponses,
        cx: &CallContext,
    ) -> Result<(), RouteError> {
        let request = ClientRequest::UpdateTaskRequest(Request::new(UpdateTaskParams::new(
            task.id.clone(),
            answers,
        )));
        self.request(&task.server, request, "tasks/update", cx, None)
            .await
            .map(|_| ())
    }

    /// `tasks/cancel`.
    pub async fn task_cancel(&self, task: &ChildTask, cx: &CallContext) -> Result<(), RouteError> {
        let request =
            ClientRequest::CancelTaskRequest(Request::new(CancelTaskParams::new(task.id.clone())));
        self.request(&task.server, request, "tasks/cancel", cx, None)
            .await
            .map(|_| ())
    }

    /// Polls `server`'s task until it ends, for a caller that cannot, and returns its result as
    /// an ordinary call's; gives up after `limit`.
    pub(super) async fn follow_task(
        &self,
        server: &Arc<str>,
        created: Task,
        cx: &CallContext,
        limit: Duration,
    ) -> Result<ServerResult, RouteError> {
        let task = ChildTask {
            server: server.clone(),
            id: created.task_id.clone(),
        };
        let deadline = Instant::now() + limit;
        let mut wait = interval(created.poll_interval_ms);
        let mut polls = 0u32;
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cx.cancel.cancelled() => {
                    let _ = self.task_cancel(&task, &own_cancel(cx)).await;
                    return Err(RouteError::Transport {
                        server: server.to_string(),
                        message: "request cancelled by the host; the child's task was cancelled".into(),
                    });
                }
            }
            if Instant::now() > deadline {
                let _ = self.task_cancel(&task, &own_cancel(cx)).await;
                return Err(RouteError::Timeout {
                    server: server.to_string(),
                    method: "tools/call",
                    after: limit,
                });
            }
            let got = self.task_get(&task, cx).await?;
            polls += 1;
            let detailed = got.task;
            wait = interval(detailed.task.poll_interval_ms);
            match detailed.payload {
                TaskPayload::Completed { result } => {
                    let result: CallToolResult = serde_json::from_value(Value::Object(result))
                        .map_err(|e| RouteError::Transport {
                            server: server.to_string(),
                            message: format!(
                                "its task ended with a result that is not a tool's: {e}"
                            ),
                        })?;
                    return Ok(ServerResult::CallToolResult(result));
                }
                TaskPayload::Failed { error } => return Err(RouteError::Child(task_error(error))),
                TaskPayload::Cancelled => {
                    return Err(RouteError::Transport {
                        server: server.to_string(),
                        message: "its task was cancelled".into(),
                    });
                }
                TaskPayload::InputRequired { input_requests } => {
                    let Some(host) = cx.host.as_ref().filter(|h| h.era == Era::Legacy) else {
                        return Err(RouteError::Transport {
                        server: server.to_string(),
                        message: "its task asked for input, but no host that can be asked is waiting on this call".into(),
                    });
                    };
                    let answers = input::fulfil(server, host, input_requests).await?;
                    self.task_update(&task, answers, cx).await?;
                }
                _ => {
                    if let Some(sink) = &cx.progress {
                        let message = detailed
                            .task
                            .status_message
                            .clone()
                            .unwrap_or_else(|| "working".into());
                        sink.report(f64::from(polls), None, message).await;
                    }
                }
            }
        }
    }
}
