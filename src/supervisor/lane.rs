//! The forwarding fast path's side of one child connection: requests written straight to the
//! child's stdin under ids of its own (`"~f<n>"`), and their answers, picked off the child's
//! stdout before rmcp sees them, written straight to the host. Neither arguments nor results are
//! decoded; no task is spawned per call.
//!
//! What the typed path guarantees holds here too: the call counts against `max_in_flight` until
//! answered (its [`CallGuard`]), times out after the server's timeout (one sweeper per lane, not
//! a timer per call) with a `notifications/cancelled` to the child, is cancelled when the host
//! cancels it, fails at once with "closed" when the child's stream ends, and is recorded in the
//! call metrics and the audit log like any other call. Answers the fast path does not read
//! (tasks, input requests, anything but a call result) are read by the typed path's rules.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use rmcp::model::{
    CallToolResult, ErrorData, JsonRpcMessage, JsonRpcResponse, JsonRpcVersion2_0, ProgressToken,
    RequestId, ServerJsonRpcMessage, ServerResult,
};
use serde_json::value::RawValue;
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::CallGuard;
use crate::{
    error::RouteError,
    wire::{
        fast::Reply,
        scan::{self, Answer, CallMeta, ResultKind},
        sink::LineSink,
    },
};

const METHOD: &str = "tools/call";

/// One request waiting for its answer.
struct Waiting {
    reply: Reply,
    /// The host's progress token, when it asked for progress.
    progress: Option<ProgressToken>,
    tool: Box<str>,
    started: Instant,
    /// When the request was handed to the child's stream: from here on the time is the child's.
    sent: Instant,
    deadline: Instant,
    timeout: Duration,
    guard: CallGuard,
}

/// Progress resets a call's timeout, as on the typed path, up to this many times the timeout in
/// all.
const MAX_TOTAL_FACTOR: u32 = 20;

#[derive(Default)]
struct Table {
    waiting: HashMap<u64, Waiting>,
    /// Requests the host cancelled, for the sweeper to tell the child of (the host's reader
    /// must not wait on the child's stdin for it).
    cancelled: Vec<u64>,
    /// The earliest deadline the sweeper sleeps toward; a call due sooner wakes it.
    earliest: Option<Instant>,
}

/// The fast path of one connection.
pub struct Lane {
    server: Arc<str>,
    out: Arc<dyn LineSink>,
    table: Mutex<Table>,
    next: AtomicU64,
    closed: AtomicBool,
    wake: Notify,
}

impl Lane {
    /// A lane writing to `out`, the child's stdin.
    pub fn new(server: Arc<str>, out: Arc<dyn LineSink>) -> Arc<Self> {
        Arc::new(Self {
            server,
            out,
            table: Mutex::default(),
            next: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the child's stream has ended (its process may not be known dead yet).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether any answer is awaited: the child's reader looks for ours only then.
    pub fn is_waiting(&self) -> bool {
        !self.table().waiting.is_empty()
    }

    /// Sends `tool` with `arguments` (and what the fast path passes of the host's `_meta`) to the
    /// child; its answer, and its progress, go to `reply`.
    #[expect(clippy::too_many_arguments, reason = "one call and what it is held to")]
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<&RawValue>,
        meta: &CallMeta<'_>,
        reply: Reply,
        guard: CallGuard,
        timeout: Duration,
        started: Instant,
    ) {
        let closed = RouteError::Closed {
            server: self.server.to_string(),
            method: METHOD,
        };
        if self.closed.load(Ordering::Acquire) {
            return reply.error(closed.to_error_data()).await;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let line = scan::child_request(n, tool, arguments, meta);
        let sent = Instant::now();
        let deadline = sent + timeout;
        let sooner = {
            let mut t = self.table();
            t.waiting.insert(
                n,
                Waiting {
                    reply,
                    progress: meta.progress_token.clone(),
                    tool: tool.into(),
                    started,
                    sent,
                    deadline,
                    timeout,
                    guard,
                },
            );
            let sooner = t.earliest.is_none_or(|e| deadline < e);
            if sooner {
                t.earliest = Some(deadline);
            }
            sooner
        };
        if sooner {
            self.wake.notify_one();
        }
        // `close` sets the flag, then drains the table: a call inserted after that drain sees
        // the flag here and fails itself, so none is left waiting on a dead stream.
        if self.closed.load(Ordering::Acquire) {
            let w = self.table().waiting.remove(&n);
            if let Some(w) = w {
                self.finish(w, Err(closed)).await;
            }
            return;
        }
        if self.out.send(line).await.is_err() {
            let w = self.table().waiting.remove(&n);
            if let Some(w) = w {
                self.finish(w, Err(closed)).await;
            }
        }
    }

    /// The child reported progress on request `n`: the host hears it under its own token, and
    /// the call's timeout starts again (bounded, as on the typed path).
    pub async fn progress(&self, n: u64, params: serde_json::Map<String, serde_json::Value>) {
        let found = {
            let mut t = self.table();
            t.waiting.get_mut(&n).and_then(|w| {
                let cap = w.started + w.timeout * MAX_TOTAL_FACTOR;
                w.deadline = (Instant::now() + w.timeout).min(cap);
                Some((w.progress.clone()?, w.reply.sink()))
            })
        };
        if let Some((token, sink)) = found {
            let _ = sink.send(scan::host_progress(&token, params)).await;
        }
    }

    /// The child answered request `n`.
    pub async fn answer(&self, n: u64, answer: Answer<'_>) {
        let Some(w) = self.table().waiting.remove(&n) else {
            // Timed out or cancelled already: the host has had its answer.
            return;
        };
        let outcome = match answer {
            Answer::Result(raw) => match scan::result_kind(raw) {
                ResultKind::Call { is_error } => Ok(Passed::Raw { raw, is_error }),
                ResultKind::Other => {
                    typed_result(&self.server, raw).map(|r| Passed::Typed(Box::new(r)))
                }
            },
            Answer::Error(raw) => Err(match serde_json::from_str::<ErrorData>(raw.get()) {
                Ok(e) => RouteError::Child(e),
                Err(_) => unexpected(&self.server),
            }),
            Answer::Invalid => Err(unexpected(&self.server)),
        };
        self.finish(w, outcome).await;
    }

    /// Request `n` failed before an answer could be read (the answer was over the size cap).
    pub async fn fail(&self, n: u64, error: RouteError) {
        let w = self.table().waiting.remove(&n);
        if let Some(w) = w {
            self.finish(w, Err(error)).await;
        }
    }

    /// Answers the host, then records the call as the typed path would.
    async fn finish(&self, w: Waiting, outcome: Result<Passed<'_>, RouteError>) {
        let Waiting {
            reply,
            tool,
            started,
            sent,
            guard,
            ..
        } = w;
        let error: Option<(&'static str, String)> = match &outcome {
            Ok(Passed::Raw {
                raw,
                is_error: true,
            }) => Some(("tool_error", tool_error_text(raw))),
            Ok(Passed::Typed(r)) if matches!(&**r, ServerResult::CallToolResult(r) if r.is_error == Some(true)) => {
                Some(("tool_error", "tool returned isError".into()))
            }
            Ok(_) => None,
            Err(e) => Some((e.kind(), e.to_string())),
        };
        // Recorded, and the slot under `max_in_flight` given back, before the host can read the
        // answer and send its next call (as on the typed path, where the answer is written after
        // the dispatcher returns).
        let total = started.elapsed();
        let waiting = sent.elapsed();
        let kind = error.as_ref().map(|(k, _)| *k);
        guard.record(crate::metrics::Call {
            total,
            waiting,
            name: &tool,
            error: error.as_ref().map(|(k, e)| (*k, e.as_str())),
        });
        drop(guard);
        crate::otel::record_call(
            &self.server,
            &tool,
            kind,
            total,
            total.saturating_sub(waiting),
        );
        let id = reply.id().clone();
        match outcome {
            Ok(Passed::Raw { raw, .. }) => reply.send(scan::host_result(&id, raw)).await,
            Ok(Passed::Typed(result)) => {
                let message: ServerJsonRpcMessage = JsonRpcMessage::Response(JsonRpcResponse {
                    jsonrpc: JsonRpcVersion2_0,
                    id,
                    result: *result,
                });
                reply.message(&message).await;
            }
            Err(e) => reply.error(e.to_error_data()).await,
        }
        tracing::info!(
            target: "mcp_orchestrator::audit",
            method = METHOD,
            server = %self.server,
            name = %tool,
            outcome = if kind.is_some() { "error" } else { "ok" },
            ms = (total.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            "call"
        );
    }

    /// The host cancelled request `id`: forget it, tell the child, answer nothing.
    pub fn cancel(&self, id: &RequestId) -> bool {
        let found = {
            let mut t = self.table();
            let n = t
                .waiting
                .iter()
                .find(|(_, w)| w.reply.id() == id)
                .map(|(n, _)| *n);
            n.and_then(|n| t.waiting.remove(&n).map(|w| (n, w)))
        };
        let Some((n, w)) = found else {
            return false;
        };
        w.reply.forget();
        self.table().cancelled.push(n);
        self.wake.notify_one();
        true
    }

    /// The child's stream ended: every waiting call fails at once with "closed".
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
        let all: Vec<Waiting> = self.table().waiting.drain().map(|(_, w)| w).collect();
        for w in all {
            let closed = RouteError::Closed {
                server: self.server.to_string(),
                method: METHOD,
            };
            self.finish(w, Err(closed)).await;
        }
    }

    /// Times calls out and passes the host's cancellations on, until the lane closes or `stop`
    /// fires: one task per connection.
    pub async fn sweep(self: Arc<Self>, stop: CancellationToken) {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let cancelled = std::mem::take(&mut self.table().cancelled);
            for n in cancelled {
                let _ = self
                    .out
                    .send(scan::child_cancel(n, "cancelled by the MCP host"))
                    .await;
            }
            let earliest = self.table().earliest;
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => continue,
                () = sleep_until(earliest) => {}
            }
            let now = Instant::now();
            let expired: Vec<(u64, Waiting)> = {
                let mut t = self.table();
                let due: Vec<u64> = t
                    .waiting
                    .iter()
                    .filter(|(_, w)| w.deadline <= now)
                    .map(|(n, _)| *n)
                    .collect();
                let expired = due
                    .into_iter()
                    .filter_map(|n| t.waiting.remove(&n).map(|w| (n, w)))
                    .collect();
                t.earliest = t.waiting.values().map(|w| w.deadline).min();
                expired
            };
            for (n, w) in expired {
                let _ = self
                    .out
                    .send(scan::child_cancel(n, "timed out in the orchestrator"))
                    .await;
                let timeout = RouteError::Timeout {
                    server: self.server.to_string(),
                    method: METHOD,
                    after: w.timeout,
                };
                self.finish(w, Err(timeout)).await;
            }
        }
    }
}

/// What goes to the host.
enum Passed<'a> {
    /// The child's call result, as it wrote it.
    Raw { raw: &'a RawValue, is_error: bool },
    /// A result the typed path's reading decided on.
    Typed(Box<ServerResult>),
}

/// A result that is not a plain call result, read as the typed path reads it: a call result, an
/// input request or a task pass; anything else is refused as the typed path refuses it.
fn typed_result(server: &str, raw: &RawValue) -> Result<ServerResult, RouteError> {
    // The typed path's order: the call-result type first, then rmcp's general reading.
    if let Ok(r) = serde_json::from_str::<CallToolResult>(raw.get()) {
        return Ok(ServerResult::CallToolResult(r));
    }
    match serde_json::from_str::<ServerResult>(raw.get()) {
        Ok(
            r @ (ServerResult::CallToolResult(_)
            | ServerResult::InputRequiredResult(_)
            | ServerResult::CreateTaskResult(_)),
        ) => Ok(r),
        _ => Err(unexpected(server)),
    }
}

fn unexpected(server: &str) -> RouteError {
    RouteError::Transport {
        server: server.to_owned(),
        message: format!("answered {METHOD} with an unexpected result type"),
    }
}

/// The text of a failed call, for the metrics' last error (the rare path: decoded).
fn tool_error_text(raw: &RawValue) -> String {
    serde_json::from_str::<CallToolResult>(raw.get())
        .ok()
        .and_then(|r| {
            r.content
                .iter()
                .find_map(|c| c.as_text().map(|t| t.text.clone()))
        })
        .unwrap_or_else(|| "tool returned isError".into())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
