//! The transport toward a host on a byte stream (stdio, the control socket).
//!
//! rmcp's `AsyncRwTransport` silently drops lines it cannot parse and lets a host reuse an id
//! that is still in flight. This transport keeps rmcp's service loop but owns the framing, so
//! every line a host sends gets exactly the treatment JSON-RPC 2.0 asks for:
//! - invalid JSON (and nesting past serde_json's 128 levels) → `-32700`, `id: null`;
//! - JSON that is not one valid message (a batch, a number, a wrong `jsonrpc`) → `-32600`;
//! - a line over `orchestrator.max_message_bytes` → `-32600`, discarded up to its newline;
//! - a request id that is still in flight, or a second `initialize` → `-32600` with that id;
//! - notifications and responses before the session starts are dropped, not fatal.
//!
//! Those errors are written by the transport itself, at most [`ERROR_BURST`] at once and
//! [`ERRORS_PER_SECOND`] after that (see [`limit`]); the rest are counted and logged.
//! [`frame::classify`] is the pure part, shared with the fuzz target.

pub mod fast;
pub mod frame;
pub mod limit;
pub mod lines;
pub mod scan;
pub mod shape;
pub mod sink;
pub mod stdio;

use std::{
    collections::{HashMap, hash_map::Entry},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Instant,
};

use rmcp::{
    RoleServer,
    model::{
        ClientJsonRpcMessage, ClientNotification, ClientRequest, GetMeta, JsonRpcMessage, RequestId,
    },
    service::TxJsonRpcMessage,
    transport::Transport,
};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};

use crate::shutdown::{Drain, InFlight};
use fast::{FastPath, Reply};
use frame::{Frame, Rejection};
use limit::TokenBucket;
use lines::{LineReader, Read};

/// Error answers allowed at once.
pub const ERROR_BURST: u32 = 10;
/// Error answers allowed per second after the burst.
pub const ERRORS_PER_SECOND: u32 = 10;
/// Ids tracked for duplicate detection; past this, new ids go unchecked rather than grow memory.
const MAX_TRACKED_IDS: usize = 65_536;

/// The host's requests in flight, each with what keeps a drain waiting for its answer.
pub(crate) type InFlightIds = Mutex<HashMap<RequestId, Option<InFlight>>>;

/// The code of the answer to a request that arrives while the orchestrator drains: in JSON-RPC's
/// implementation-defined server-error range, beside `-32010` (busy) and clear of MCP's codes.
pub const DRAINING: i32 = -32011;

/// What a request refused during the drain is told.
pub const DRAINING_MESSAGE: &str = "the orchestrator is shutting down (draining): this request was not run; send it again to another instance or after the restart";

/// A writer shared by concurrent sends; each line is written whole, several at once when they
/// queue up.
pub(crate) type Writer<W> = Arc<sink::Coalescing<W>>;
type PendingWrite = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// A [`Transport`] for the server side of a newline-delimited JSON-RPC stream.
pub struct HostTransport<R, W> {
    lines: LineReader<BufReader<R>>,
    out: Writer<W>,
    /// An error answer being written; finished before the next line is read, so a `receive`
    /// cancelled mid-write never leaves half a line on the stream.
    pending: Option<PendingWrite>,
    in_flight: Arc<InFlightIds>,
    errors: TokenBucket,
    max: usize,
    started: bool,
    initialized: bool,
    /// Where `tools/call` requests to running children go without the typed path, if anywhere.
    fast: Option<Arc<dyn FastPath>>,
    /// While it drains, requests are refused and those in flight are waited for.
    drain: Option<Drain>,
}

/// What becomes of one well-formed message.
enum Admit {
    Deliver(Box<ClientJsonRpcMessage>),
    Reject(Rejection),
    /// A request that arrived while draining.
    Refuse(RequestId),
    Drop(&'static str),
}

impl<R, W> HostTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// A transport reading `read` and writing `write`, refusing messages over `max_message_bytes`.
    pub fn new(read: R, write: W, max_message_bytes: usize) -> Self {
        Self {
            lines: LineReader::new(BufReader::with_capacity(64 * 1024, read), max_message_bytes),
            out: Arc::new(sink::Coalescing::new(write)),
            pending: None,
            in_flight: Arc::default(),
            errors: TokenBucket::new(ERROR_BURST, ERRORS_PER_SECOND),
            max: max_message_bytes,
            started: false,
            initialized: false,
            fast: None,
            drain: None,
        }
    }

    /// Refuses requests once `drain` starts, and keeps it waiting for the answers of those in
    /// flight.
    pub fn with_drain(mut self, drain: Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// What keeps the drain waiting for a request's answer; `Err` when the drain has started and
    /// the request is to be refused.
    fn admit_request(&self) -> Result<Option<InFlight>, ()> {
        match &self.drain {
            None => Ok(None),
            Some(d) => d.admit_request().map(Some).ok_or(()),
        }
    }

    /// Answers a request refused because of the drain. Not rate-limited like malformed input:
    /// every refused request gets its answer, or the host would wait for one.
    fn refuse_draining(&mut self, id: RequestId) {
        let rejection = Rejection {
            id: Some(id),
            code: DRAINING,
            message: DRAINING_MESSAGE.into(),
        };
        self.pending = Some(Box::pin(write_line(self.out.clone(), rejection.to_line())));
    }

    /// Sends the `tools/call` requests `fast` takes its way.
    pub fn with_fast_path(mut self, fast: Arc<dyn FastPath>) -> Self {
        self.fast = Some(fast);
        self
    }

    /// Queues an error answer, unless the rate limit says to stay silent.
    fn reject(&mut self, rejection: Rejection) {
        if self.errors.allow(Instant::now()) {
            // The reason stays out of the log: serde's messages can quote the input, and host
            // input may carry tool arguments (audit lines never log those either).
            tracing::warn!(code = rejection.code, "refused a host message");
            self.pending = Some(Box::pin(write_line(self.out.clone(), rejection.to_line())));
        } else {
            tracing::debug!(
                code = rejection.code,
                "refused a host message; error answers are rate-limited, not answered"
            );
        }
    }

    fn admit(&mut self, message: Box<ClientJsonRpcMessage>) -> Admit {
        match &*message {
            JsonRpcMessage::Request(request) => {
                let id = &request.id;
                if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                    if self.initialized {
                        return Admit::Reject(Rejection::invalid_request(
                            Some(id.clone()),
                            "the session is already initialized",
                        ));
                    }
                    self.initialized = true;
                }
                // rmcp ends the session on a notification before its lifecycle starts: that is
                // `initialize`, or a request carrying its protocol version inline (2026-07-28).
                if self.initialized || request.request.get_meta().protocol_version().is_some() {
                    self.started = true;
                }
                let Ok(held) = self.admit_request() else {
                    return Admit::Refuse(id.clone());
                };
                if let Err(rejection) = track(&self.in_flight, id, held) {
                    return Admit::Reject(rejection);
                }
            }
            JsonRpcMessage::Notification(n) => {
                if !self.started {
                    return Admit::Drop("a notification before initialize");
                }
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    lock(&self.in_flight).remove(id);
                    if let Some(fast) = &self.fast {
                        fast.cancel(id);
                    }
                }
            }
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) if !self.started => {
                return Admit::Drop("a response before initialize");
            }
            JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_) => {}
        }
        Admit::Deliver(message)
    }
}

impl<R, W> Transport<RoleServer> for HostTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let Some(id) = answered_id(&item) {
            lock(&self.in_flight).remove(id);
        }
        send_line(&self.out, &item)
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if let Some(write) = self.pending.as_mut() {
                if let Err(e) = write.await {
                    tracing::warn!(error = %e, "cannot write to the host");
                    return None;
                }
                self.pending = None;
            }
            let frame = match self.lines.next().await {
                Ok(Read::Line) => {
                    if self.started
                        && let Some(fast) = &self.fast
                        && let Some(call) = scan::call_head(frame::trim(self.lines.line()))
                    {
                        let id = call.id.clone();
                        let Ok(held) = self.admit_request() else {
                            self.refuse_draining(id);
                            continue;
                        };
                        if let Err(rejection) = track(&self.in_flight, &id, held) {
                            self.reject(rejection);
                            continue;
                        }
                        let reply =
                            Reply::new(self.out.clone(), id.clone(), self.in_flight.clone());
                        match fast.forward(call, reply) {
                            Ok(sent) => {
                                sent.await;
                                continue;
                            }
                            // Not the fast path's: the typed path reads the line again.
                            Err(_) => {
                                lock(&self.in_flight).remove(&id);
                            }
                        }
                    }
                    frame::classify(self.lines.line())
                }
                Ok(Read::Oversized) => Frame::Reject(Rejection::invalid_request(
                    None,
                    format_args!(
                        "message larger than {} bytes (orchestrator.max_message_bytes)",
                        self.max
                    ),
                )),
                Ok(Read::Eof) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read from the host");
                    return None;
                }
            };
            match frame {
                Frame::Skip => {}
                Frame::Reject(rejection) => self.reject(rejection),
                Frame::Message(message) => match self.admit(message) {
                    Admit::Deliver(message) => return Some(*message),
                    Admit::Reject(rejection) => self.reject(rejection),
                    Admit::Refuse(id) => self.refuse_draining(id),
                    Admit::Drop(what) => tracing::debug!(what, "message from the host ignored"),
                },
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.out.flush().await
    }
}

/// The id a response or an error answers; `None` for requests, notifications and errors
/// without an id.
pub(crate) fn answered_id<Req, Resp, Noti>(
    message: &JsonRpcMessage<Req, Resp, Noti>,
) -> Option<&RequestId> {
    match message {
        JsonRpcMessage::Response(r) => Some(&r.id),
        JsonRpcMessage::Error(e) => e.id.as_ref(),
        _ => None,
    }
}

/// Serializes `item` now and writes it as one line when awaited (the future owns what it needs,
/// as rmcp's `Transport::send` asks).
pub(crate) fn send_line<W: AsyncWrite + Unpin + Send + 'static, T: serde::Serialize>(
    out: &Writer<W>,
    item: &T,
) -> impl Future<Output = std::io::Result<()>> + Send + 'static + use<W, T> {
    let line = serde_json::to_vec(item).map(|mut line| {
        line.push(b'\n');
        line
    });
    let out = out.clone();
    async move { write_line(out, line?).await }
}

async fn write_line<W: AsyncWrite + Unpin + Send>(
    out: Writer<W>,
    line: Vec<u8>,
) -> std::io::Result<()> {
    out.write_line(&line).await
}

/// Notes request `id` as in flight, with what keeps a drain waiting for it; refuses an id that
/// still is (past [`MAX_TRACKED_IDS`], new ids go unchecked rather than grow memory). The one
/// rule of the typed and the fast path.
fn track(in_flight: &InFlightIds, id: &RequestId, held: Option<InFlight>) -> Result<(), Rejection> {
    let mut in_flight = lock(in_flight);
    if in_flight.len() >= MAX_TRACKED_IDS {
        return Ok(());
    }
    match in_flight.entry(id.clone()) {
        Entry::Occupied(_) => Err(Rejection::invalid_request(
            Some(id.clone()),
            "this id belongs to a request still in progress; ids must be unique",
        )),
        Entry::Vacant(v) => {
            v.insert(held);
            Ok(())
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
