//! Sending one host request on to a child: timeout, progress-token mapping, cancellation.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{CancelledNotificationParam, ClientRequest, ServerResult},
    service::{PeerRequestOptions, RequestContext},
};

use crate::{error::RouteError, orchestrator::Orchestrator};

/// Progress resets the call timeout; this caps how long a call that keeps reporting progress may
/// run, as a multiple of the per-call timeout.
const MAX_TOTAL_FACTOR: u32 = 20;

/// Forwards `request` to child `server` and returns its result. The per-call timeout is the
/// server's own or `default_timeout`; progress from the child reaches the host under the host's
/// token; a host cancellation is passed on to the child.
pub async fn request(
    orch: &Orchestrator,
    server: &Arc<str>,
    request: ClientRequest,
    method: &'static str,
    cx: &RequestContext<RoleServer>,
    timeout: Option<Duration>,
) -> Result<ServerResult, RouteError> {
    wait_until_serving(orch, server).await;
    let child = orch.child(server).ok_or_else(|| RouteError::Unknown {
        kind: "server",
        name: server.to_string(),
    })?;
    let Some(admitted) = child.begin_call() else {
        let status = child.status();
        return Err(RouteError::Unavailable {
            kind: method_kind(method),
            name: server.to_string(),
            server: server.to_string(),
            state: status.state,
            last_error: status.last_error,
        });
    };
    let (peer, _in_flight) = admitted.map_err(|limit| RouteError::Overloaded {
        server: server.to_string(),
        limit,
    })?;
    // A caller's deadline (unified tools) wins over the server's own timeout.
    let timeout = timeout
        .or(child.spec().timeout)
        .unwrap_or(orch.config().settings.default_timeout);
    let options = PeerRequestOptions::with_timeout(timeout)
        .reset_timeout_on_progress()
        .with_max_total_timeout(timeout * MAX_TOTAL_FACTOR);
    // What the audit line names: the tool, prompt or resource, never its arguments.
    let target = match &request {
        ClientRequest::CallToolRequest(r) => r.params.name.to_string(),
        ClientRequest::GetPromptRequest(r) => r.params.name.clone(),
        ClientRequest::ReadResourceRequest(r) => r.params.uri.clone(),
        _ => String::new(),
    };
    let handle = peer
        .send_request_with_option(request, options)
        .await
        .map_err(|e| RouteError::from_service(server, method, e))?;
    let _progress = cx.meta.get_progress_token().map(|host_token| {
        orch.hub().map_progress(
            server.clone(),
            handle.progress_token.clone(),
            cx.peer.clone(),
            host_token,
        )
    });
    let child_request = handle.id.clone();
    let waiting_since = Instant::now();
    let outcome = tokio::select! {
        r = handle.await_response() => r.map_err(|e| RouteError::from_service(server, method, e)),
        () = cx.ct.cancelled() => {
            // rmcp drops our answer to a cancelled request; the child must hear of it too.
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(
                    Some(child_request),
                    Some("cancelled by the MCP host".into()),
                ))
                .await;
            Err(RouteError::Transport {
                server: server.to_string(),
                message: "request cancelled by the host".into(),
            })
        }
    };
    let waited = waiting_since.elapsed();
    let total = cx_started(cx).elapsed();
    let error = match &outcome {
        Err(e) => Some(e.to_string()),
        Ok(ServerResult::CallToolResult(r)) if r.is_error == Some(true) => Some(tool_error_text(r)),
        Ok(_) => None,
    };
    child.metrics().record(total, waited, error.as_deref());
    tracing::info!(
        target: "mcp_orchestrator::audit",
        method,
        server = %server,
        name = %target,
        outcome = if error.is_some() { "error" } else { "ok" },
        ms = (total.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
        "call"
    );
    outcome
}

/// When the orchestrator started handling this host request: rmcp gives handlers no timestamp,
/// so the handler's first instant is stored in the request's extensions by [`mark_started`].
fn cx_started(cx: &RequestContext<RoleServer>) -> Instant {
    cx.extensions
        .get::<Started>()
        .map(|s| s.0)
        .unwrap_or_else(Instant::now)
}

/// The instant a host request reached the orchestrator's handler.
#[derive(Clone, Copy)]
pub struct Started(pub Instant);

/// Records now as the start of `cx`'s handling, for the overhead metric.
pub fn mark_started(cx: &mut RequestContext<RoleServer>) {
    cx.extensions.insert(Started(Instant::now()));
}

fn tool_error_text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_else(|| "tool returned isError".into())
}

/// How long a request waits for a server that is starting, restarting or being reloaded.
const WAIT_FOR_RESTART: Duration = Duration::from_secs(10);

/// Waits (bounded) while server `id` is starting, in restart backoff, or being replaced by a
/// reload; returns whether it now takes calls.
pub async fn wait_until_serving(orch: &Orchestrator, id: &str) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_RESTART;
    loop {
        let Some(child) = orch.child(id) else {
            return false;
        };
        if child.peer().is_some() {
            return true;
        }
        let state = child.state();
        // Up without a connection is the instant between a crash and its restart.
        let transient = child.is_draining() || !state.is_settled() || state.serves_calls();
        if !transient || tokio::time::Instant::now() >= deadline {
            return false;
        }
        let mut rx = child.subscribe();
        // Wake on the next status change of this handle, or poll: a reload swaps the handle.
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
    }
}

fn method_kind(method: &str) -> &'static str {
    match method.split('/').next() {
        Some("tools") => "tool",
        Some("prompts") => "prompt",
        _ => "resource",
    }
}

/// A child answered with a result of the wrong type.
pub fn unexpected(server: &str, method: &'static str, _got: &ServerResult) -> McpError {
    RouteError::Transport {
        server: server.to_owned(),
        message: format!("answered {method} with an unexpected result type"),
    }
    .into()
}
