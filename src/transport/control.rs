//! The control socket of a running `serve`: a Unix socket, owner-only, whose path follows from the
//! config path, so `status`, `capabilities`, `call`, `restart` and `reload` find the instance a
//! host started.
//!
//! It speaks MCP: each connection is a session with the same server the host has, plus the admin
//! tools (`crate::tools::own::Admin`), which the host never sees. Control sessions never become
//! "the host": notifications and child → host requests keep going to the stdio host.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use rmcp::{RoleClient, ServiceExt, service::RunningService};
use tokio::net::{UnixListener, UnixStream};

use crate::{
    dispatch::Caller,
    mcp::{OrchestratorServer, Services},
    paths::socket_path,
    wire::HostTransport,
};

/// Removes the socket file when the listener goes away.
pub struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why there is no control socket.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Another live instance serves this config already.
    #[error("another mcp-orchestrator already serves this config at {0}")]
    Taken(PathBuf),
    /// Filesystem trouble.
    #[error("cannot create the control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Binds the control socket for `config` and serves it on the orchestrator's task tracker.
/// A stale socket left by a dead instance is removed; a live one is left alone (this instance
/// then runs without a control socket, with a warning).
pub fn listen(services: &Arc<Services>, config: &Path) -> Option<ControlSocket> {
    match bind(&socket_path(config)) {
        Ok((listener, socket)) => {
            tracing::info!(socket = %socket.path.display(), "control socket ready");
            let tracker = services.registry.tracker();
            tracker.spawn(accept_loop(listener, services.clone()));
            Some(socket)
        }
        Err(e) => {
            tracing::warn!(error = %e, "no control socket; `status` and friends will start their own servers");
            None
        }
    }
}

fn bind(path: &Path) -> Result<(UnixListener, ControlSocket), ListenError> {
    let io = |source| ListenError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    if path.exists() {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(ListenError::Taken(path.to_owned())),
            Err(_) => {
                tracing::info!(socket = %path.display(), "removing a stale control socket");
                std::fs::remove_file(path).map_err(io)?;
            }
        }
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok((
        listener,
        ControlSocket {
            path: path.to_owned(),
        },
    ))
}

async fn accept_loop(listener: UnixListener, services: Arc<Services>) {
    let registry = &services.registry;
    let stop = registry.shutdown_token().clone();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let server = OrchestratorServer::new(services.clone(), Caller::Control);
        let stop = stop.clone();
        let (read, write) = stream.into_split();
        let max = registry.config().settings.max_message_bytes;
        let transport = HostTransport::new(read, write, max);
        registry.tracker().spawn(async move {
            match server.serve(transport).await {
                Ok(running) => {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        _ = running.waiting() => {}
                    }
                }
                Err(e) => tracing::debug!(error = %e, "control session ended before initialize"),
            }
        });
    }
}

/// A client session with the running instance for `config`, if there is one. A socket file
/// nobody answers on is stale and is removed.
pub async fn connect(config: &Path) -> Option<RunningService<RoleClient, ()>> {
    let path = socket_path(config);
    if !path.exists() {
        return None;
    }
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(_) => {
            let _ = std::fs::remove_file(&path);
            return None;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ().serve(stream))
        .await
        .ok()?
        .ok()
}
