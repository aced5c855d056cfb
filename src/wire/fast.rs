//! The seam between the host transport and the forwarding fast path: the transport reads a
//! `tools/call` head ([`super::scan::call_head`]), offers it to a [`FastPath`], and either the
//! fast path takes it (the answer then goes straight to the host through a [`Reply`]) or hands it
//! back for the typed path. The transport knows nothing of children; the fast path nothing of
//! the host's stream but the [`Reply`].

use std::{future::Future, pin::Pin, sync::Arc};

use rmcp::model::{ErrorData, RequestId, ServerJsonRpcMessage};

use super::{InFlightIds, scan::CallHead, sink::LineSink};

/// The future that sends a taken call on to its child.
pub type Sent<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Takes `tools/call` requests past the typed path.
pub trait FastPath: Send + Sync {
    /// Takes the call, returning what sends it on (awaited by the host's reader before it reads
    /// on: a relay's order, no task per call), or gives the reply back for the typed path.
    fn forward<'a>(&'a self, call: CallHead<'a>, reply: Reply) -> Result<Sent<'a>, Reply>;

    /// The host cancelled request `id`: if it is one of ours, tell its child and answer nothing.
    fn cancel(&self, id: &RequestId);
}

/// Where the answer to one host request goes: the host's stream, under the host's id.
pub struct Reply {
    out: Arc<dyn LineSink>,
    id: RequestId,
    in_flight: Arc<InFlightIds>,
}

impl Reply {
    /// An answer to request `id` on `out`; `in_flight` forgets the id when it is answered.
    pub fn new(out: Arc<dyn LineSink>, id: RequestId, in_flight: Arc<InFlightIds>) -> Self {
        Self { out, id, in_flight }
    }

    /// The host's id.
    pub fn id(&self) -> &RequestId {
        &self.id
    }

    /// The host's stream, for notifications about the request (progress) before its answer.
    pub fn sink(&self) -> Arc<dyn LineSink> {
        self.out.clone()
    }

    /// Sends `line`, an answer already carrying the host's id.
    pub async fn send(self, line: Vec<u8>) {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
        if let Err(e) = self.out.send(line).await {
            tracing::debug!(error = %e, "cannot write an answer to the host");
        }
    }

    /// Answers with a JSON-RPC error.
    pub async fn error(self, error: ErrorData) {
        let message = ServerJsonRpcMessage::error(error, Some(self.id.clone()));
        self.message(&message).await;
    }

    /// Answers with a typed message (its id must be the host's).
    pub async fn message(self, message: &ServerJsonRpcMessage) {
        let mut line = serde_json::to_vec(message).unwrap_or_default();
        line.push(b'\n');
        self.send(line).await;
    }

    /// Forgets the request without answering (the host cancelled it).
    pub fn forget(self) {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}
