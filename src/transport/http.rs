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
    let api = rest::router(Arc::new(Api {
        jobs: services.jobs.clone(),
        registry: registry.clone(),
        status: services.status.clone(),
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
                Ok((stream, _)) => stream,
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
        let conn_stop = stop.clone();
        registry.tracker().spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let token = token.clone();
                let api = api.clone();
                let allowed = allowed.clone();
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
                        let r = service.handle(req).await;
                        return Ok(r.map(|b| b.map_err(|never| match never {}).boxed_unsync()));
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
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
