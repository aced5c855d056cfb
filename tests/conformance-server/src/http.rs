//! HTTP mode: rmcp's Streamable HTTP server (stateful sessions, SSE) on a loopback address,
//! served with plain hyper.
//!
//! It wraps rmcp's `LocalSessionManager` only to support the suite's SEP-1699 check
//! (`server-sse-polling`): `test_reconnection` must close its own POST SSE stream mid-call and
//! deliver its result after the client reconnects with `Last-Event-ID`. rmcp can close a stream
//! by its HTTP request-wise id, but does not tell a handler that id, so [`Sessions`] records it
//! for `test_reconnection` calls and signals when the client resumes the stream.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::Stream;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use rmcp::{
    RoleServer,
    model::{ClientJsonRpcMessage, ClientRequest, RequestId, ServerJsonRpcMessage},
    service::RequestContext,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_server::{
            SessionId, SessionManager,
            session::{
                EventStore, ServerSseMessage,
                local::{LocalSessionManager, LocalSessionManagerError},
            },
        },
    },
};
use tokio::{net::TcpListener, sync::Notify};
use tokio_stream::wrappers::ReceiverStream;

use crate::server::{ConformanceServer, Shared};

/// SSE `retry:` hint sent in priming events (how long a client waits before reconnecting).
const SSE_RETRY: Duration = Duration::from_millis(500);
/// How long `test_reconnection` waits for the client to resume its closed stream.
const RESUME_WAIT: Duration = Duration::from_secs(10);
const RECONNECTION_TOOL: &str = "test_reconnection";

type StreamKey = (SessionId, u64);

/// What `test_reconnection` needs to close its own SSE stream and wait for the resume.
#[derive(Debug)]
pub struct Reconnect {
    manager: Arc<LocalSessionManager>,
    /// (session, JSON-RPC id of a `test_reconnection` call) → its HTTP request-wise stream id.
    streams: Mutex<HashMap<(SessionId, RequestId), u64>>,
    /// (session, stream id) → notified when the client resumes that stream.
    resumed: Mutex<HashMap<StreamKey, Arc<Notify>>>,
}

impl Reconnect {
    fn resumed_signal(&self, key: StreamKey) -> Arc<Notify> {
        lock(&self.resumed).entry(key).or_default().clone()
    }

    /// Close the SSE stream carrying the current request (after a priming event with a
    /// `retry:` hint), then wait until the client resumes it with `Last-Event-ID`, so the
    /// result goes out on the resumed stream. Gives up quietly after [`RESUME_WAIT`].
    pub async fn close_and_await_resume(&self, ctx: &RequestContext<RoleServer>) {
        let Some(session) = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.headers.get("mcp-session-id"))
            .and_then(|value| value.to_str().ok())
            .map(SessionId::from)
        else {
            return;
        };
        let Some(stream) = lock(&self.streams).remove(&(session.clone(), ctx.id.clone())) else {
            return;
        };
        let Some(handle) = self.manager.sessions.read().await.get(&session).cloned() else {
            return;
        };
        let key = (session, stream);
        let resumed = self.resumed_signal(key.clone());
        match handle.close_sse_stream(stream, Some(SSE_RETRY)).await {
            Ok(()) => {
                if tokio::time::timeout(RESUME_WAIT, resumed.notified())
                    .await
                    .is_err()
                {
                    tracing::warn!("test_reconnection: the client did not resume its SSE stream");
                }
            }
            Err(error) => tracing::warn!(%error, "test_reconnection: could not close the stream"),
        }
        lock(&self.resumed).remove(&key);
    }
}

/// rmcp's in-memory session manager, plus the bookkeeping [`Reconnect`] needs.
#[derive(Debug)]
pub struct Sessions {
    reconnect: Arc<Reconnect>,
}

impl Sessions {
    fn inner(&self) -> &LocalSessionManager {
        &self.reconnect.manager
    }
}

impl SessionManager for Sessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner().create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner().initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner().has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.inner().close_session(id).await
    }

    /// Same as `LocalSessionManager::create_stream`, but remembers which stream carries a
    /// `test_reconnection` call.
    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let handle = self
            .inner()
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| LocalSessionManagerError::SessionNotFound(id.clone()))?;
        let receiver = handle.establish_request_wise_channel().await?;
        if let (ClientJsonRpcMessage::Request(request), Some(stream)) =
            (&message, receiver.http_request_id)
            && let ClientRequest::CallToolRequest(call) = &request.request
            && call.params.name == RECONNECTION_TOOL
        {
            lock(&self.reconnect.streams).insert((id.clone(), request.id.clone()), stream);
        }
        handle
            .push_message(message, receiver.http_request_id)
            .await?;
        Ok(ReceiverStream::new(receiver.inner))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner().accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner().create_standalone_stream(id).await
    }

    /// Same as `LocalSessionManager::resume`, then wakes a `test_reconnection` call waiting for
    /// this stream. Event ids are `<index>/<stream id>` for request-wise streams.
    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream_id = last_event_id
            .split_once('/')
            .and_then(|(_, stream)| stream.parse::<u64>().ok());
        let stream = self.inner().resume(id, last_event_id).await?;
        if let Some(stream_id) = stream_id {
            let key = (id.clone(), stream_id);
            if let Some(signal) = lock(&self.reconnect.resumed).get(&key) {
                signal.notify_one();
            }
        }
        Ok(stream)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner().event_store()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serve MCP over Streamable HTTP on `addr` (loopback only) until Ctrl-C / SIGTERM.
/// Every path is the MCP endpoint; the conventional URL is `http://ADDR/mcp`.
///
/// `initialize` opens a stateful session (2025-11-25 and older); 2026-07-28 requests carry
/// their protocol in `_meta` and rmcp serves each with a fresh handler, statelessly.
pub async fn serve(addr: SocketAddr, shared: Arc<Shared>) -> std::io::Result<()> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refusing to listen on {addr}: HTTP mode is loopback-only"),
        ));
    }
    let mut manager = LocalSessionManager::default();
    manager.session_config.sse_retry = Some(SSE_RETRY);
    let reconnect = Arc::new(Reconnect {
        manager: Arc::new(manager),
        streams: Mutex::default(),
        resumed: Mutex::default(),
    });
    let sessions = Arc::new(Sessions {
        reconnect: reconnect.clone(),
    });
    // Default Host allow-list (localhost, 127.0.0.1, ::1): DNS-rebinding protection.
    let config = StreamableHttpServerConfig::default().with_sse_retry(Some(SSE_RETRY));
    let service = StreamableHttpService::new(
        move || {
            Ok(ConformanceServer::new(
                shared.clone(),
                Some(reconnect.clone()),
            ))
        },
        sessions,
        config,
    );

    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}/mcp");
    eprintln!("mcp-conformance-server: listening on http://{local}/mcp");

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        });
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
