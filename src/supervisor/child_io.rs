//! The transport toward one child on its stdio.
//!
//! rmcp's `AsyncRwTransport` drops a line over the size cap and says nothing to the request
//! waiting for it, which then hangs until its timeout. Here an oversized response is answered at
//! once: its id is read from the ends of the line (serializers put `id` first, or — like the
//! TypeScript SDK — last) and the waiting request gets a "message too large" error naming the
//! server and the cap. Lines that are not JSON-RPC (banners, logs on the wrong stream) are skipped
//! and counted, never answered: replying to a child's garbage could start an echo storm.

use std::{collections::HashSet, sync::Arc};

use rmcp::{
    RoleClient,
    model::{
        ClientNotification, ClientRequest, JsonRpcMessage, RequestId, ServerJsonRpcMessage,
        ServerNotification,
    },
    service::TxJsonRpcMessage,
    transport::Transport,
};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};

use crate::{
    error::RouteError,
    hub::Hub,
    supervisor::lane::Lane,
    wire::{
        Writer, answered_id, frame,
        lines::{LineReader, Read},
        scan, send_line, shape,
        sink::Coalescing,
    },
};

/// `tools/call` ids remembered for the direct read of their results; past this (a child that
/// never answers), new ones take rmcp's path rather than grow memory.
const MAX_TRACKED_CALLS: usize = 4096;

/// A [`Transport`] for the client side of a child's stdio.
pub struct ChildTransport<R, W> {
    server: Arc<str>,
    lines: LineReader<BufReader<R>>,
    out: Writer<W>,
    max: usize,
    skipped: u64,
    /// Ids of `tools/call` requests awaiting an answer: their results are read straight into
    /// the call-result type (see [`shape`]).
    calls: HashSet<RequestId>,
    /// Told of each progress notification as it is read, in order with the answers after it.
    hub: Arc<Hub>,
    /// The fast path's requests on this connection; their answers never reach rmcp.
    lane: Arc<Lane>,
}

impl<R, W> ChildTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Reads the child's stdout and writes its stdin, refusing messages over `max` bytes.
    pub fn new(server: Arc<str>, stdout: R, stdin: W, max: usize, hub: Arc<Hub>) -> Self {
        let out = Arc::new(Coalescing::new(stdin));
        Self {
            hub,
            lane: Lane::new(server.clone(), out.clone()),
            server,
            lines: LineReader::new(BufReader::with_capacity(64 * 1024, stdout), max),
            out,
            max,
            skipped: 0,
            calls: HashSet::new(),
        }
    }

    /// The connection's fast path.
    pub fn lane(&self) -> &Arc<Lane> {
        &self.lane
    }
}

impl<R, W> Transport<RoleClient> for ChildTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        match &item {
            JsonRpcMessage::Request(r)
                if matches!(r.request, ClientRequest::CallToolRequest(_))
                    && self.calls.len() < MAX_TRACKED_CALLS =>
            {
                self.calls.insert(r.id.clone());
            }
            JsonRpcMessage::Notification(n) => {
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    self.calls.remove(id);
                }
            }
            _ => {}
        }
        send_line(&self.out, &item)
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            match self.lines.next().await {
                Ok(Read::Line) => {
                    let line = frame::trim(self.lines.line());
                    if line.is_empty() {
                        continue;
                    }
                    if self.lane.is_waiting() {
                        if let Some((n, answer)) = scan::child_answer(line) {
                            self.lane.answer(n, answer).await;
                            continue;
                        }
                        if let Some((n, params)) = scan::child_progress(line) {
                            self.lane.progress(n, params).await;
                            continue;
                        }
                    }
                    let calls = &self.calls;
                    let read = shape::server_response(line, |id| calls.contains(id))
                        .map_or_else(|| serde_json::from_slice::<ServerJsonRpcMessage>(line), Ok);
                    match read {
                        Ok(message) => {
                            if let Some(id) = answered_id(&message) {
                                self.calls.remove(id);
                            }
                            if let JsonRpcMessage::Notification(n) = &message
                                && let ServerNotification::ProgressNotification(p) = &n.notification
                            {
                                self.hub
                                    .progress_read(&self.server, &p.params.progress_token);
                            }
                            return Some(message);
                        }
                        Err(e) => {
                            self.skipped += 1;
                            // The first one says what is wrong; a flood stays at debug.
                            if self.skipped == 1 {
                                // Where, not what: the line itself may hold anything.
                                tracing::warn!(server = %self.server, category = ?e.classify(), column = e.column(), "skipping a line on the child's stdout that is not JSON-RPC (stdout must carry MCP only)");
                            } else {
                                tracing::debug!(server = %self.server, skipped = self.skipped, "skipping a non-JSON-RPC line");
                            }
                        }
                    }
                }
                Ok(Read::Oversized) => {
                    let (head, tail) = self.lines.oversized_ends();
                    let error = RouteError::TooLarge {
                        server: self.server.to_string(),
                        limit: self.max,
                    };
                    tracing::warn!(server = %self.server, error = %error, "oversized message from a child dropped");
                    if let Some(id) = oversized_id(head, tail) {
                        match scan::lane_number(&id) {
                            // One of the fast path's: its call fails now, as rmcp's would.
                            Some(n) => self.lane.fail(n, error).await,
                            None => {
                                return Some(ServerJsonRpcMessage::error(
                                    error.to_error_data(),
                                    Some(id),
                                ));
                            }
                        }
                    }
                }
                Ok(Read::Eof) => {
                    self.lane.close().await;
                    return None;
                }
                Err(e) => {
                    tracing::debug!(server = %self.server, error = %e, "child stdout closed");
                    self.lane.close().await;
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.out.shutdown().await
    }
}

/// The id of an oversized message from its first and last bytes: serializers write `id` first,
/// or (the TypeScript SDK) last.
pub fn oversized_id(head: &[u8], tail: &[u8]) -> Option<RequestId> {
    id_in_head(head).or_else(|| id_in_tail(tail))
}

/// The top-level `"id"` of a JSON object whose beginning is `head`, if it comes early enough.
fn id_in_head(head: &[u8]) -> Option<RequestId> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, &b) in head.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if depth == 1 && &head[start..i] == b"id" {
                    let rest = head[i + 1..].trim_ascii_start().strip_prefix(b":")?;
                    return value_at_start(rest.trim_ascii_start());
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                start = i + 1;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The `"id"` that is the last member of a JSON object ending with `tail`.
fn id_in_tail(tail: &[u8]) -> Option<RequestId> {
    let body = tail.trim_ascii_end().strip_suffix(b"}")?.trim_ascii_end();
    let value_start = if body.ends_with(b"\"") {
        // The opening quote: the previous `"` not preceded by a backslash.
        let inner = &body[..body.len() - 1];
        (0..inner.len())
            .rev()
            .find(|&i| inner[i] == b'"' && (i == 0 || inner[i - 1] != b'\\'))?
    } else {
        body.iter()
            .rposition(|b| !(b.is_ascii_digit() || *b == b'-'))
            .map_or(0, |i| i + 1)
    };
    let key = body[..value_start]
        .trim_ascii_end()
        .strip_suffix(b":")?
        .trim_ascii_end()
        .strip_suffix(b"\"id\"")?;
    matches!(key.trim_ascii_end().last(), Some(b',' | b'{')).then_some(())?;
    frame::request_id(&serde_json::from_slice(&body[value_start..]).ok()?)
}

/// A string or integer JSON value at the start of `bytes`.
fn value_at_start(bytes: &[u8]) -> Option<RequestId> {
    let end = if bytes.first() == Some(&b'"') {
        let mut escaped = false;
        1 + bytes[1..].iter().position(|&b| {
            let close = b == b'"' && !escaped;
            escaped = b == b'\\' && !escaped;
            close
        })? + 1
    } else {
        bytes
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(bytes.len())
    };
    frame::request_id(&serde_json::from_slice(&bytes[..end]).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_first_or_last_and_not_inside_the_result() {
        let n = |i| Some(RequestId::Number(i));
        assert_eq!(
            id_in_head(br#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"#),
            n(42)
        );
        assert_eq!(
            id_in_head(br#"{"jsonrpc":"2.0", "id" : "a\"b","result":"#),
            Some(RequestId::String("a\"b".into()))
        );
        // An `id` nested in the result is not the message's id.
        assert_eq!(id_in_head(br#"{"result":{"id":7,"text":"xxxxxxxx"#), None);
        assert_eq!(id_in_tail(br#"xxxxx"}]},"jsonrpc":"2.0","id":9}"#), n(9));
        assert_eq!(
            id_in_tail(br#"xxxx"}]}, "jsonrpc":"2.0", "id": "k-1" } "#),
            Some(RequestId::String("k-1".into()))
        );
        assert_eq!(id_in_tail(br#"xxx","id":5}]}}"#), None);
        assert_eq!(id_in_tail(br#"xxxx"valid":"id":5}"#), None);
    }
}
