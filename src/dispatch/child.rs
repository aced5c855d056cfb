//! Sending one request on to a child: wait (bounded) for a child that is restarting, admit the
//! call under `max_in_flight`, apply the timeout, map progress, pass a cancellation on, record
//! metrics and the audit line.

mod subscriptions;
mod task_calls;
use std::{sync::Arc, time::Duration};

use rmcp::model::GetMeta as _;
use rmcp::{
    Peer, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CancelledNotificationParam, ClientRequest,
        Request, ServerResult,
    },
    service::PeerRequestOptions,
};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::{
    BoxFuture, CallContext, CallOutcome, CallRequest, Catalog, ServerView, ToolCaller, ToolRef,
    input::{self, InputRound},
    parked::{Detached, Parked},
    tasks,
};
use crate::{
    era::Era,
    error::{ItemKind, RouteError},
    registry::Registry,
    supervisor::{CallGuard, ChildHandle},
};

/// How long a call with progress waits after its answer for the child's progress read before the
/// answer to be forwarded (rmcp forwards each on a task of its own).
const PROGRESS_SETTLE: Duration = Duration::from_millis(250);

/// Progress resets the call timeout; this caps how long a call that keeps reporting progress may
/// run, as a multiple of the per-call timeout.
const MAX_TOTAL_FACTOR: u32 = 20;

/// How long a request waits for a server that is starting, restarting or being reloaded.
const WAIT_FOR_RESTART: Duration = Duration::from_secs(10);

/// Calls into the supervised children. Cloning is cheap (shared state).
#[derive(Clone)]
pub struct ChildDispatcher {
    registry: Arc<Registry>,
    /// Calls of stateless hosts waiting for the host's answers to their child's asks.
    parked: Arc<Parked>,
    /// Listen streams standing in for legacy hosts' subscriptions to stateless children.
    listens: subscriptions::Listens,
}

impl ChildDispatcher {
    /// A dispatcher over `registry`'s children.
    pub fn new(registry: Arc<Registry>) -> Self {
        let parked = Parked::new(registry.tracker().clone(), registry.shutdown().clone());
        Self {
            registry,
            parked: Arc::new(parked),
            listens: Arc::default(),
        }
    }

    /// Forwards `request` to child `server` and returns its result. The per-call timeout is the
    /// caller's `timeout`, else the server's own, else `default_timeout`.
    pub async fn request(
        &self,
        server: &Arc<str>,
        request: ClientRequest,
        method: &'static str,
        cx: &CallContext,
        timeout: Option<Duration>,
    ) -> Result<ServerResult, RouteError> {
        let span = crate::otel::child_span(server, method, request_target(&request));
        self.send(server, request, method, cx, timeout, &span)
            .instrument(span.clone())
            .await
    }

    /// Sends `request` and answers input the child asks for: a modern host is handed the
    /// child's `InputRequiredResult`; a legacy host is asked with real requests and the child
    /// is retried with the answers, round after round (`input`).
    async fn send(
        &self,
        server: &Arc<str>,
        mut request: ClientRequest,
        method: &'static str,
        cx: &CallContext,
        timeout: Option<Duration>,
        span: &tracing::Span,
    ) -> Result<ServerResult, RouteError> {
        let mut round = input::take_round(&mut request);
        if let Some(id) = round.state.as_deref().and_then(input::parked_id) {
            let answers = round.responses.take().unwrap_or_default();
            return self.parked.resume(id, answers, &cx.cancel).await;
        }
        round.state = round.state.map(input::state_for_child);
        // Only a stateless host's call needs the child's era here (one lookup, not on every call).
        if cx.host.as_ref().is_some_and(|h| h.era == Era::Modern)
            && self.registry.child(server).and_then(|c| c.era()) == Some(Era::Legacy)
        {
            // A handshake-era child asks by sending requests, which a stateless host cannot be
            // sent: the call runs on while its asks go back to the host as input requests.
            input::put_round(&mut request, round);
            let call = self.detached(server, request, method, cx, timeout, span);
            return self.parked.wait(call, &cx.cancel).await;
        }
        for _ in 0..input::MAX_ROUNDS {
            let mut attempt = request.clone();
            input::put_round(&mut attempt, round);
            let result = self
                .send_once(server, attempt, method, cx, timeout, span)
                .await
                .map_err(|e| input::name_missing_capability(server, e))?;
            if let ServerResult::CreateTaskResult(created) = result {
                if tasks::caller_polls(cx) {
                    let mut created = created;
                    created.task = tasks::for_host(server, created.task);
                    return Ok(ServerResult::CreateTaskResult(created));
                }
                let child = self.registry.child(server);
                let limit = self.call_timeout(child.as_ref(), timeout) * MAX_TOTAL_FACTOR;
                // Boxed: following polls through `request`, which leads back here.
                let follow = self.follow_task(server, created.task, cx, limit);
                return Box::pin(follow).await;
            }
            let ServerResult::InputRequiredResult(mut asked) = result else {
                return Ok(result);
            };
            let Some(host) = cx.host.as_ref() else {
                return Err(RouteError::Transport {
                    server: server.to_string(),
                    message: format!(
                        "asked for input during {method}, but no host is waiting on this call (a workflow step or a job); give the tool what it needs in its arguments"
                    ),
                });
            };
            if host.era == Era::Modern {
                asked.request_state = input::state_for_host(asked.request_state.take());
                return Ok(ServerResult::InputRequiredResult(asked));
            }
            let requests = asked.input_requests.take().unwrap_or_default();
            round = InputRound {
                responses: Some(input::fulfil(server, host, requests).await?),
                state: asked.request_state.take(),
            };
        }
        Err(RouteError::Transport {
            server: server.to_string(),
            message: format!(
                "asked for input more than {} times in one {method}; the call was given up",
                input::MAX_ROUNDS
            ),
        })
    }

    /// The per-call timeout toward `child`: the caller's, else the server's own, else the
    /// default.
    fn call_timeout(&self, child: Option<&ChildHandle>, timeout: Option<Duration>) -> Duration {
        timeout
            .or_else(|| child.and_then(|c| c.spec().timeout))
            .unwrap_or(self.registry.config().settings.default_timeout)
    }

    /// Starts `request` on a task of its own, with its own cancellation, so that it outlives
    /// the host request that started it while the host answers the child's asks.
    fn detached(
        &self,
        server: &Arc<str>,
        request: ClientRequest,
        method: &'static str,
        cx: &CallContext,
        timeout: Option<Duration>,
        span: &tracing::Span,
    ) -> Detached {
        let (to, asks) = tokio::sync::mpsc::channel(4);
        let route = self.registry.hub().open_asks(server.clone(), to);
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut call_cx = cx.clone();
        call_cx.cancel = cancel.clone();
        let me = self.clone();
        let owner = server.clone();
        let span = span.clone();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        self.registry.tracker().spawn(async move {
            let result = me
                .send_once(&owner, request, method, &call_cx, timeout, &span)
                .await;
            let _ = done_tx.send(result);
        });
        Detached::new(server.clone(), asks, done, route, cancel)
    }

    async fn send_once(
        &self,
        server: &Arc<str>,
        mut request: ClientRequest,
        method: &'static str,
        cx: &CallContext,
        timeout: Option<Duration>,
        span: &tracing::Span,
    ) -> Result<ServerResult, RouteError> {
        let kind = match &request {
            ClientRequest::CallToolRequest(_) => ItemKind::Tool,
            ClientRequest::GetPromptRequest(_) => ItemKind::Prompt,
            _ => ItemKind::Resource,
        };
        let (child, peer, _in_flight) = self.admit(server, kind).await?;
        let timeout = self.call_timeout(Some(&child), timeout);
        let mut options = PeerRequestOptions::with_timeout(timeout)
            .reset_timeout_on_progress()
            .with_max_total_timeout(timeout * MAX_TOTAL_FACTOR);
        if child.era() == Some(Era::Modern) {
            // A stateless child learns per request what it may ask of the host.
            options = options.with_meta(input::child_meta(cx.host.as_ref()));
        }
        // What the audit line names: the tool, prompt or resource, never its arguments.
        let target = request_target(&request).to_owned();
        cx.trace.write_to(span, request.get_meta_mut());
        let handle = peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| RouteError::from_service(server, method, e))?;
        let _progress = cx.progress.clone().map(|sink| {
            self.registry
                .hub()
                .map_progress(server.clone(), handle.progress_token.clone(), sink)
        });
        let child_request = handle.id.clone();
        let progress_token = handle.progress_token.clone();
        let waiting_since = Instant::now();
        let outcome = tokio::select! {
            r = handle.await_response() => r.map_err(|e| RouteError::from_service(server, method, e)),
            () = cx.cancel.cancelled() => {
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
        if _progress.is_some() {
            // The child's last progress may still be on its way to the host: forward it before
            // the answer (and before the mapping goes), so the host sees every step.
            self.registry
                .hub()
                .settle_progress(server, &progress_token, PROGRESS_SETTLE)
                .await;
        }
        let waited = waiting_since.elapsed();
        let total = cx.started.elapsed();
        let error = match &outcome {
            Err(e) => Some((e.kind(), e.to_string())),
            Ok(ServerResult::CallToolResult(r)) if r.is_error == Some(true) => {
                Some(("tool_error", tool_error_text(r)))
            }
            Ok(_) => None,
        };
        child.metrics().record_call(crate::metrics::Call {
            total,
            waiting: waited,
            name: &target,
            error: error.as_ref().map(|(k, e)| (*k, e.as_str())),
        });
        let kind = error.as_ref().map(|(k, _)| *k);
        crate::otel::set_outcome(span, kind);
        crate::otel::record_call(server, &target, kind, total, total.saturating_sub(waited));
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

    /// Admits one call to `server`: one lookup and one readiness check (`begin_call`) per try.
    /// While the server is starting, in restart backoff, or being replaced by a reload, waits
    /// (bounded) for it rather than failing the call.
    async fn admit(
        &self,
        server: &Arc<str>,
        kind: ItemKind,
    ) -> Result<(ChildHandle, Peer<RoleClient>, CallGuard), RouteError> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_RESTART;
        loop {
            let child = self
                .registry
                .child(server)
                .ok_or_else(|| RouteError::Unknown {
                    kind: ItemKind::Server,
                    name: server.to_string(),
                })?;
            match child.begin_call() {
                Some(Ok((peer, guard))) => return Ok((child, peer, guard)),
                Some(Err(limit)) => {
                    return Err(RouteError::Overloaded {
                        server: server.to_string(),
                        limit,
                    });
                }
                None if may_come_back(&child) && tokio::time::Instant::now() < deadline => {
                    wait_for_change(&child).await;
                }
                None => {
                    let status = child.status();
                    return Err(RouteError::Unavailable {
                        kind,
                        name: server.to_string(),
                        server: server.to_string(),
                        state: status.state,
                        last_error: status.last_error,
                    });
                }
            }
        }
    }

    /// Waits (bounded) while server `id` is starting, in restart backoff, or being replaced by a
    /// reload; returns its handle once it takes calls, or the handle as it is when waiting is
    /// pointless (settled in a state that serves nothing) or over. `None`: no such server.
    pub async fn wait_until_serving(&self, id: &str) -> Option<ChildHandle> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_RESTART;
        loop {
            let child = self.registry.child(id)?;
            if child.peer().is_some()
                || !may_come_back(&child)
                || tokio::time::Instant::now() >= deadline
            {
                return Some(child);
            }
            wait_for_change(&child).await;
        }
    }
}

/// Whether a child without a connection is about to have one: starting, in restart backoff,
/// being replaced by a reload, or up without a connection (the instant between a crash and its
/// restart).
fn may_come_back(child: &ChildHandle) -> bool {
    let state = child.state();
    child.is_draining() || !state.is_settled() || state.serves_calls()
}

/// Wakes on the next status change of this handle, or after a short poll: a reload swaps the
/// handle, and the old one changes no more.
async fn wait_for_change(child: &ChildHandle) {
    let mut rx = child.subscribe();
    let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
}

impl ToolCaller for ChildDispatcher {
    fn catalog(&self) -> Catalog {
        Catalog {
            tools: self.registry.surface().tools.clone(),
            servers: self
                .registry
                .children()
                .iter()
                .map(|c| {
                    let s = c.status();
                    ServerView {
                        id: c.id().clone(),
                        state: s.state,
                        missing_env: s.missing_env.clone(),
                        last_error: s.last_error.clone(),
                        draining: c.is_draining(),
                        tools: s.tools.clone(),
                        capabilities: c.spec().capabilities.clone().into(),
                    }
                })
                .collect(),
        }
    }

    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let (server, tool) = match request.tool {
                ToolRef::Child { server, tool } => (server, tool),
                // Host-facing names are the tool sources' to resolve; this dispatcher only
                // reaches children.
                ToolRef::Host { name } => {
                    return Err(RouteError::Unknown {
                        kind: ItemKind::Tool,
                        name,
                    });
                }
            };
            let mut params = CallToolRequestParams::new(tool);
            params.arguments = request.arguments;
            let mut call = ClientRequest::CallToolRequest(Request::new(params));
            input::put_round(&mut call, cx.input.clone());
            let result = self
                .request(&server, call, "tools/call", cx, request.timeout)
                .await?;
            match result {
                ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => Ok(CallToolResponse::InputRequired(r)),
                ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
                _ => Err(unexpected(&server, "tools/call")),
            }
        })
    }

    fn wait_settled<'a>(&'a self, server: &'a str, limit: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(child) = self.registry.child(server) {
                child.wait_settled(limit).await;
            }
        })
    }
}

/// The tool, prompt or resource a request names.
pub fn request_target(request: &ClientRequest) -> &str {
    match request {
        ClientRequest::CallToolRequest(r) => &r.params.name,
        ClientRequest::GetPromptRequest(r) => &r.params.name,
        ClientRequest::ReadResourceRequest(r) => &r.params.uri,
        _ => "",
    }
}

fn tool_error_text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_else(|| "tool returned isError".into())
}

/// A child answered with a result of the wrong type.
pub fn unexpected(server: &str, method: &'static str) -> RouteError {
    RouteError::Transport {
        server: server.to_owned(),
        message: format!("answered {method} with an unexpected result type"),
    }
}
