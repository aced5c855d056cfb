//! Sending one host request on to a child: timeout, progress-token mapping, cancellation.

use std::sync::Arc;

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
) -> Result<ServerResult, RouteError> {
    let child = orch.child(server).ok_or_else(|| RouteError::Unknown {
        kind: "server",
        name: server.to_string(),
    })?;
    let Some(peer) = child.peer() else {
        let status = child.status();
        return Err(RouteError::Unavailable {
            kind: method_kind(method),
            name: server.to_string(),
            server: server.to_string(),
            state: status.state,
            last_error: status.last_error,
        });
    };
    let timeout = child
        .spec()
        .timeout
        .unwrap_or(orch.config().settings.default_timeout);
    let options = PeerRequestOptions::with_timeout(timeout)
        .reset_timeout_on_progress()
        .with_max_total_timeout(timeout * MAX_TOTAL_FACTOR);
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
    tokio::select! {
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
