//! One step's call: the target resolved to a tool (a capability to a running server, healthiest
//! first, falling back to the next), the call under the step's timeout and the run's
//! cancellation, retries with backoff and jitter, and the tool's result read as the step's
//! `result`.

use std::{sync::Arc, time::Duration};

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{
    Engine,
    log::{log_event, record},
};
use crate::{
    backoff::Backoff,
    dispatch::{CallContext, CallOutcome, CallRequest, Caller, Catalog},
    error::RouteError,
    otel::{self, TraceContext},
    report::{EventKind, ServerState, StepStatus},
    store::{Lease, StepUpdate},
    workflow::Target,
};

/// How one call of a step ended, when it did not give a result.
#[derive(Debug, Clone)]
pub struct CallFailure {
    /// What went wrong, for the step's `error`.
    pub message: String,
    /// Whether another attempt could succeed.
    pub retryable: bool,
    /// Whether the callee said it was saturated (feeds the adaptive width).
    pub overloaded: bool,
    /// The child's task id, when it answered with a task instead of a result (kept with the
    /// step, so the child's task can be found).
    pub task_id: Option<String>,
}

impl CallFailure {
    /// The failure as a span outcome and a metric label.
    fn kind(&self) -> &'static str {
        match (self.overloaded, self.retryable) {
            (true, _) => "overloaded",
            (false, true) => "transient",
            (false, false) => "failed",
        }
    }

    fn permanent(message: String) -> Self {
        Self {
            message,
            retryable: false,
            overloaded: false,
            task_id: None,
        }
    }
}

/// A completed call: the step's result and the server that gave it (for a capability step's
/// compensation, which runs where the step ran).
#[derive(Debug, Clone)]
pub struct Called {
    pub result: Value,
    pub server: Option<Arc<str>>,
    /// The embedded resources and resource links the result carried: artifacts of the step.
    pub resources: Vec<ContentBlock>,
}

/// Where a step's attempts are recorded: its `attempts` column and a `step_started` event per
/// attempt, a `step_failed` event per failed attempt that is retried.
pub struct AttemptLog<'a> {
    pub engine: &'a Engine,
    pub lease: &'a Lease,
    pub workflow: &'a str,
    pub step: &'a str,
}

impl AttemptLog<'_> {
    async fn started(&self, attempt: u32) {
        let update = StepUpdate {
            name: self.step,
            status: StepStatus::Running,
            attempts: Some(attempt),
            output: None,
            error: None,
            task_id: None,
            now: self.engine.clock.now_ms(),
        };
        let detail = json!({"attempt": attempt});
        log_event(
            &self.lease.run_id,
            "",
            EventKind::StepStarted,
            Some(self.step),
            &detail,
        );
        let store = &self.engine.store;
        let kind = EventKind::StepStarted;
        if let Err(e) = store
            .set_step_logged(self.lease, &update, kind, &detail)
            .await
        {
            tracing::debug!(error = %e, "step attempt not recorded");
        }
    }

    async fn retrying(&self, attempt: u32, failure: &CallFailure, delay: Duration) {
        let detail = json!({
            "attempt": attempt,
            "error": failure.message,
            "final": false,
            "retry_in_ms": delay.as_millis() as u64,
        });
        record(
            self.engine,
            self.lease,
            EventKind::StepFailed,
            Some(self.step),
            detail,
        )
        .await;
    }
}

/// Calls `target` with `arguments` until it gives a result, attempts run out, or `cancel` fires;
/// returns the outcome and the number of the last attempt made.
#[expect(
    clippy::too_many_arguments,
    reason = "one call's whole description, used twice"
)]
pub async fn call_with_retries(
    engine: &Engine,
    target: &Target,
    prefer: Option<&str>,
    arguments: &JsonObject,
    timeout: Option<Duration>,
    attempts: std::ops::RangeInclusive<u32>,
    cancel: &CancellationToken,
    log: Option<AttemptLog<'_>>,
) -> (Result<Called, CallFailure>, u32) {
    let (first, last) = (*attempts.start(), *attempts.end());
    for attempt in first..=last {
        let span = match &log {
            Some(log) => {
                log.started(attempt).await;
                let tool = target.to_string();
                otel::step_span(log.workflow, &log.lease.run_id, log.step, &tool, attempt)
            }
            None => tracing::Span::none(),
        };
        let began = Instant::now();
        let outcome = call_once(engine, target, prefer, arguments, timeout, cancel)
            .instrument(span.clone())
            .await;
        if let Some(log) = &log {
            let kind = outcome.as_ref().err().map(CallFailure::kind);
            otel::set_outcome(&span, kind);
            otel::record_step(log.workflow, kind, began.elapsed());
        }
        match outcome {
            Ok(called) => return (Ok(called), attempt),
            Err(f) => {
                if !f.retryable || attempt >= last || cancel.is_cancelled() {
                    return (Err(f), attempt);
                }
                let delay = Backoff::STEP.delay(attempt - first, fastrand::f64());
                if let Some(log) = &log {
                    log.retrying(attempt, &f, delay).await;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return (Err(cancelled()), attempt),
                }
            }
        }
    }
    (Err(cancelled()), last)
}

fn cancelled() -> CallFailure {
    CallFailure::permanent("cancelled".into())
}

/// One call of the target (for a capability: of each running server offering it, in order, until
/// one answers).
async fn call_once(
    engine: &Engine,
    target: &Target,
    prefer: Option<&str>,
    arguments: &JsonObject,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<Called, CallFailure> {
    match target {
        Target::Server { server, tool } => {
            let request = CallRequest::child(server.as_str(), tool.as_str());
            call(engine, request, arguments, timeout, cancel)
                .await
                .map(|(result, resources)| Called {
                    result,
                    server: Some(Arc::from(server.as_str())),
                    resources,
                })
        }
        Target::Tool { name } => call(
            engine,
            CallRequest::host(name.as_str()),
            arguments,
            timeout,
            cancel,
        )
        .await
        .map(|(result, resources)| Called {
            result,
            server: None,
            resources,
        }),
        Target::Capability { capability, tool } => {
            let servers = capable(&engine.caller.catalog(), capability, prefer);
            if servers.is_empty() {
                return Err(CallFailure {
                    message: format!(
                        "no running server offers capability `{capability}`; `status` shows which servers list it and why they are down"
                    ),
                    retryable: true,
                    overloaded: false,
                    task_id: None,
                });
            }
            let mut last = None;
            for server in servers {
                let request = CallRequest::child(server.clone(), tool.as_str());
                match call(engine, request, arguments, timeout, cancel).await {
                    Ok((result, resources)) => {
                        return Ok(Called {
                            result,
                            server: Some(server),
                            resources,
                        });
                    }
                    // A tool's own failure is an answer; only routing failures fall back.
                    Err(f) if !f.retryable || cancel.is_cancelled() => return Err(f),
                    Err(f) => last = Some(f),
                }
            }
            Err(last.unwrap_or_else(cancelled))
        }
    }
}

/// The running servers listing `capability`, healthiest first (running before unhealthy), the
/// `prefer`red one (where the step ran, for its compensation) before all.
pub fn capable(catalog: &Catalog, capability: &str, prefer: Option<&str>) -> Vec<Arc<str>> {
    let mut servers: Vec<_> = catalog
        .servers
        .iter()
        .filter(|s| s.takes_calls() && s.capabilities.iter().any(|c| c == capability))
        .collect();
    servers.sort_by_key(|s| (prefer != Some(&*s.id), s.state != ServerState::Running));
    servers.into_iter().map(|s| s.id.clone()).collect()
}

async fn call(
    engine: &Engine,
    request: CallRequest,
    arguments: &JsonObject,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<(Value, Vec<ContentBlock>), CallFailure> {
    let mut request = request.arguments(arguments.clone());
    if let Some(t) = timeout {
        request = request.timeout(t);
    }
    let cx = CallContext {
        cancel: cancel.child_token(),
        progress: None,
        started: Instant::now(),
        caller: Caller::Host,
        // The step's span (current here) is what a child's trace hangs under.
        trace: TraceContext::default(),
        host: None,
        input: Default::default(),
    };
    let call = engine.caller.call(request, &cx);
    let outcome = match timeout {
        // The dispatcher keeps a child call's timeout; this bounds host-facing tools (unified,
        // other workflows) the same way.
        Some(t) => match tokio::time::timeout(t + Duration::from_millis(50), call).await {
            Ok(outcome) => outcome,
            Err(_) => {
                cx.cancel.cancel();
                return Err(CallFailure {
                    message: format!("timed out after {} ms", t.as_millis()),
                    retryable: true,
                    overloaded: false,
                    task_id: None,
                });
            }
        },
        None => call.await,
    };
    match outcome {
        Ok(CallOutcome::Complete(result)) => {
            let resources = result
                .content
                .iter()
                .filter(|c| matches!(c, ContentBlock::Resource(_) | ContentBlock::ResourceLink(_)))
                .cloned()
                .collect();
            step_result(result).map(|v| (v, resources))
        }
        Ok(CallOutcome::Task(task)) => Err(CallFailure {
            task_id: Some(task.task.task_id.clone()),
            ..CallFailure::permanent(format!(
                "the tool answered with a task (`{}`) where a workflow step needs a result",
                task.task.task_id
            ))
        }),
        Ok(_) => Err(CallFailure::permanent(
            "the tool asked for input from the user, which a workflow step cannot give".into(),
        )),
        Err(e) => Err(route_failure(&e)),
    }
}

/// Whether a routing error could go away on another attempt: a child that is restarting,
/// timed out, closed or overloaded may answer next time; an unknown tool or bad arguments not.
fn route_failure(e: &RouteError) -> CallFailure {
    let retryable = !matches!(
        e,
        RouteError::Unknown { .. }
            | RouteError::UnknownMethod { .. }
            | RouteError::MalformedParams { .. }
            | RouteError::InvalidParams(_)
            | RouteError::Withheld { .. }
            | RouteError::TooLarge { .. }
    );
    CallFailure {
        message: e.to_string(),
        retryable,
        overloaded: matches!(e, RouteError::Overloaded { .. }),
        task_id: None,
    }
}

/// A tool result as a step's `result`: `structuredContent`, else the text parsed as JSON when it
/// parses, else the text. `isError` is a failure (retried: a tool's error may be passing).
pub fn step_result(result: CallToolResult) -> Result<Value, CallFailure> {
    let text = || {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if result.is_error == Some(true) {
        let message = text();
        return Err(CallFailure {
            message: if message.is_empty() {
                "the tool reported an error".into()
            } else {
                message
            },
            retryable: true,
            overloaded: false,
            task_id: None,
        });
    }
    if let Some(structured) = result.structured_content.clone() {
        return Ok(structured);
    }
    let text = text();
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_result_is_structured_content_else_json_text_else_text() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("{\"a\":1}")]);
        assert_eq!(step_result(r.clone()).unwrap(), json!({"a": 1}));
        r.structured_content = Some(json!({"b": 2}));
        assert_eq!(step_result(r).unwrap(), json!({"b": 2}));
        let plain = CallToolResult::success(vec![ContentBlock::text("hello")]);
        assert_eq!(step_result(plain).unwrap(), json!("hello"));
        let failed = CallToolResult::error(vec![ContentBlock::text("no such contact")]);
        let f = step_result(failed).unwrap_err();
        assert_eq!(f.message, "no such contact");
    }
}
