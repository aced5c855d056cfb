//! `serve --http ADDR`: the merged surface over MCP streamable HTTP at `http://ADDR/mcp`, and the
//! REST API ([`super::rest`]) on every other path.
//!
//! rmcp's streamable HTTP service does the protocol, sessions and their teardown, and the
//! `Host`/`Origin` checks against DNS rebinding (loopback names only unless `--allow-host` says
//! otherwise); the REST API gets the same `Host` check here. In front of both sits an optional
//! bearer-token check, which `/health`, `/health/ready` and the dashboard's page `/ui` skip
//! (probes carry no token; the page holds no data, its data request does carry it).

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tokio::net::TcpListener;

use super::rest::{self, Api};
use crate::{
    dispatch::Caller,
    mcp::{OrchestratorServer, Services},
    secrets::Secret,
    shutdown::Drain,
    wire::{DRAINING, DRAINING_MESSAGE},
};

/// The default variable holding the bearer token clients must present.
pub const TOKEN_ENV: &str = "MCP_ORCHESTRATOR_HTTP_TOKEN";

/// How to serve HTTP.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `Host` values accepted besides the loopback names.
    pub allow_hosts: Vec<String>,
    /// Browser `Origin`s accepted (none: no Origin check beyond rmcp's default).
    pub allow_origins: Vec<String>,
    /// Bearer token every request must carry, if set.
    pub token: Option<Secret>,
    /// Whether `/mcp` is served (`serve --http`); without it only the REST API, `/metrics`
    /// and the health probes are (`serve --metrics` beside stdio).
    pub mcp: bool,
    /// Once it starts: readiness answers 503 and new MCP requests are refused; those admitted
    /// before are waited for.
    pub drain: Drain,
}

/// Why HTTP serving could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A non-loopback address without an explicit host allow-list.
    #[error(
        "refusing to listen on {0} without --allow-host: name the host names clients use (DNS-rebinding protection), and set a token in ${TOKEN_ENV}"
    )]
    NotLoopback(SocketAddr),
    /// The socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves until the orchestrator shuts down. Returns the bound address through `bound` (for
/// `127.0.0.1:0`).
pub async fn serve(
    services: Arc<Services>,
    opts: HttpOptions,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
) -> Result<(), HttpError> {
    if !opts.addr.ip().is_loopback() && opts.allow_hosts.is_empty() {
        return Err(HttpError::NotLoopback(opts.addr));
    }
    let listener = TcpListener::bind(opts.addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: opts.addr,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| HttpError::Bind {
        addr: opts.addr,
        source,
    })?;
    let _ = bound.send(local);
    if opts.token.is_none() && !local.ip().is_loopback() {
        tracing::warn!(
            address = %local,
            "serving MCP on a non-loopback address without a bearer token: anyone who can reach it can use every tool"
        );
    }
    let registry = services.registry.clone();
    let stop = registry.shutdown_token().clone();
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.extend(opts.allow_hosts.iter().cloned());
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(stop.child_token())
        .with_max_request_body_bytes(registry.config().settings.max_message_bytes);
    if !opts.allow_origins.is_empty() {
        config = config.with_allowed_origins(opts.allow_origins.clone());
    }
    let factory = services.clone();
    let service = StreamableHttpService::new(
        move || Ok(OrchestratorServer::new(factory.clone(), Caller::Host)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token = Arc::new(opts.token);
    let serve_mcp = opts.mcp;
    let drain = opts.drain.clone();
    let api = rest::router(Arc::new(Api {
        jobs: services.jobs.clone(),
        registry: registry.clone(),
        status: services.status.clone(),
        drain: opts.drain,
    }));
    let allowed: Arc<[String]> = {
        let mut h: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
        h.extend(opts.allow_hosts.iter().cloned());
        h.into()
    };
    if opts.mcp {
        tracing::info!(url = %format!("http://{local}/mcp"), "serving MCP over HTTP");
    } else {
        tracing::info!(url = %format!("http://{local}/metrics"), "serving metrics and the REST API over HTTP");
    }
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small JSON-RPC answers must not wait for a delayed ACK (Nagle): on a
                    // keep-alive connection that stalled every call by about 40 ms.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set on an HTTP connection");
                    }
                    stream
                }
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    continue;
                }
            },
        };
        let service = service.clone();
        let token = token.clone();
        let api = api.clone();
        let allowed = allowed.clone();
        let drain = drain.clone();
        let conn_stop = stop.clone();
        registry.tracker().spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let token = token.clone();
                let api = api.clone();
                let allowed = allowed.clone();
                let drain = drain.clone();
                async move {
                    let path = req.uri().path();
                    // Probes carry no token; the dashboard's page holds no data (its data
                    // request, `/ui/state`, carries the token).
                    let probe = matches!(path, "/health" | "/health/ready" | "/ui");
                    if !probe
                        && let Some(expected) = token.as_ref()
                        && !authorized(&req, expected)
                    {
                        return Ok::<_, Infallible>(unauthorized());
                    }
                    if serve_mcp && (path == "/mcp" || path.starts_with("/mcp/")) {
                        return Ok(mcp(&service, &drain, req).await);
                    }
                    if !host_allowed(&req, &allowed) {
                        return Ok(forbidden_host());
                    }
                    let r = tower::ServiceExt::oneshot(api, req.map(axum::body::Body::new))
                        .await
                        .unwrap_or_else(|never| match never {});
                    Ok(r.map(|b| b.boxed_unsync()))
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r { tracing::debug!(error = %e, "HTTP connection ended") },
                () = conn_stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

/// rmcp's streamable HTTP service, with the drain in front.
type McpService = StreamableHttpService<OrchestratorServer, LocalSessionManager>;

/// One `/mcp` request. A POST (a request, or a notification or response of the client) is
/// counted in flight until its answer's body ends, so the drain waits for it. While draining, a
/// POST carrying a request is refused with 503 and a JSON-RPC error; one carrying a notification
/// or a response (a cancel, a sampling answer to a call in flight) still goes through, and so do
/// the GET stream and the DELETE that ends a session.
async fn mcp(service: &McpService, drain: &Drain, req: Request<Incoming>) -> Response<AnyBody> {
    if req.method() != http::Method::POST {
        return boxed(service.handle(req).await);
    }
    if let Some(held) = drain.admit_request() {
        let r = boxed(service.handle(req).await);
        // The closure owns `held`: dropped with the body, once the answer is sent or abandoned.
        return r.map(|b| {
            b.map_frame(move |frame| {
                let _ = &held;
                frame
            })
            .boxed_unsync()
        });
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::debug!(error = %e, "request body not read while draining");
            return draining(None);
        }
    };
    match refused_request(&body) {
        Some(id) => draining(Some(id)),
        None => boxed(
            service
                .handle(Request::from_parts(parts, Full::new(body)))
                .await,
        ),
    }
}

/// `Some(id)` when the POST body is a JSON-RPC request (what the drain refuses); `Some(null)` for
/// anything that cannot be read as a single message (a batch, bad JSON: refused too, since it
/// may hold requests); `None` for a notification or a response.
fn refused_request(body: &[u8]) -> Option<serde_json::Value> {
    let Ok(serde_json::Value::Object(message)) = serde_json::from_slice(body) else {
        return Some(serde_json::Value::Null);
    };
    let is_request = message.contains_key("method") && message.contains_key("id");
    is_request.then(|| message.get("id").cloned().unwrap_or_default())
}

/// The answer to a request refused during the drain: 503 (a load balancer may send it to another
/// replica: nothing was run) with a JSON-RPC error, and the connection closed, so that a client
/// or proxy reconnects, to another replica.
fn draining(id: Option<serde_json::Value>) -> Response<AnyBody> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or_default(),
        "error": {"code": DRAINING, "message": DRAINING_MESSAGE},
    });
    let mut r = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = r.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("1"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

/// rmcp's answer, boxed like the REST API's.
fn boxed(
    r: Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>,
) -> Response<AnyBody> {
    r.map(|b| b.map_err(|never| match never {}).boxed_unsync())
}

fn authorized(req: &Request<Incoming>, expected: &Secret) -> bool {
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(given.as_bytes(), expected.expose().as_bytes())
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// Every answer's body: rmcp's and axum's, boxed alike.
type AnyBody = UnsyncBoxBody<Bytes, axum::Error>;

/// Whether the `Host` header names this server by an allowed name (DNS-rebinding protection,
/// as rmcp does for `/mcp`).
fn host_allowed(req: &Request<Incoming>, allowed: &[String]) -> bool {
    let Some(host) = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // Strip the port (`[::1]:8080`, `localhost:8080`).
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

fn forbidden_host() -> Response<AnyBody> {
    let body = r#"{"error":{"code":"forbidden","message":"Host not allowed (DNS-rebinding protection): start serve with --allow-host NAME"}}"#;
    let mut r = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn unauthorized() -> Response<AnyBody> {
    let body = Full::new(Bytes::from_static(b"missing or wrong bearer token\n"))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, refused_request};

    #[test]
    fn the_drain_refuses_requests_and_lets_notifications_and_responses_through() {
        let refused = |b: &str| refused_request(b.as_bytes());
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call"}"#),
            Some(serde_json::json!(7))
        );
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#),
            None
        );
        assert_eq!(refused(r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#), None);
        assert_eq!(refused("[]"), Some(serde_json::Value::Null));
        assert_eq!(refused("not json"), Some(serde_json::Value::Null));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
