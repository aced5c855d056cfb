//! Living with a connection: watch the process, the health pings and the child's list changes
//! until something ends it, then close it and stop the process group.

use std::{sync::Arc, time::Duration};

use tokio::{process::Child, sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{
    Running,
    child_client::ChildEvent,
    failure::Failure,
    lane::Lane,
    lists::list_everything,
    process,
    run::{Ended, Interrupt, Supervisor},
    state::ServerState,
};
use crate::reaper;

/// One live child: connection, process (none for a remote server), and the tasks attached.
pub(super) struct Conn {
    pub(super) running: Running,
    /// The fast path of a stdio child's connection.
    pub(super) lane: Option<Arc<Lane>>,
    pub(super) process: Option<Spawned>,
    pub(super) events: mpsc::UnboundedReceiver<ChildEvent>,
    pub(super) health: mpsc::Receiver<bool>,
    pub(super) health_stop: CancellationToken,
}

/// A process that has been spawned but not yet connected.
pub(super) struct Spawned {
    pub(super) child: Child,
    pub(super) pgid: u32,
    pub(super) stderr_task: JoinHandle<()>,
}

impl Supervisor {
    /// Runs a live connection until it ends.
    pub(super) async fn serve(&mut self, mut conn: Conn) -> Ended {
        let mut misses = 0u32;
        // A remote server has no process to wait on; its transport says when it is gone.
        let mut closed_check = tokio::time::interval(Duration::from_millis(500));
        let ended = loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break Ended::Interrupted(Interrupt::Stop(None)),
                msg = self.control.recv() => break Ended::Interrupted(Self::interrupt(msg)),
                status = wait_process(&mut conn.process) => {
                    break Ended::Crashed(Failure::Exited { status, when: "unexpectedly" });
                }
                _ = closed_check.tick(), if conn.process.is_none() => {
                    if conn.running.is_transport_closed() {
                        break Ended::Crashed(Failure::RemoteClosed);
                    }
                }
                Some(ok) = conn.health.recv() => {
                    if ok {
                        if misses > 0 {
                            tracing::info!(server = %self.id, "child answers pings again");
                            self.publish(|s| s.state = ServerState::Running);
                        }
                        misses = 0;
                    } else {
                        misses += 1;
                        let limit = self.settings.health_check_failures;
                        tracing::warn!(server = %self.id, misses, limit, "child missed a health ping");
                        if conn.running.is_transport_closed() || misses >= limit {
                            break Ended::Crashed(Failure::Hung {
                                misses,
                                timeout: self.settings.health_check_timeout,
                            });
                        }
                        self.publish(|s| s.state = ServerState::Unhealthy);
                    }
                }
                Some(ChildEvent::ListsChanged) = conn.events.recv() => {
                    // Coalesce a burst of list_changed into one re-listing.
                    while conn.events.try_recv().is_ok() {}
                    match list_everything(&conn.running, self.settings.startup_timeout).await {
                        Ok(lists) => self.publish(|s| lists.apply(s)),
                        Err(e) => tracing::warn!(server = %self.id, error = %e, "re-listing after list_changed failed"),
                    }
                }
            }
        };
        // Nothing may be routed to a connection that is going away. A crash reads as
        // `restarting` at once (after_crash may then make it `failed`), so callers wait for the
        // new process instead of seeing a running server with no connection.
        self.publish(|s| {
            s.peer = None;
            s.lane = None;
            s.state = match ended {
                Ended::Crashed(_) | Ended::Interrupted(Interrupt::Restart(_)) => {
                    ServerState::Restarting
                }
                Ended::Interrupted(Interrupt::Stop(_)) => ServerState::Stopped,
            };
        });
        self.close(conn).await;
        ended
    }

    /// Closes the connection (which closes the child's stdin) and stops the process group.
    async fn close(&self, conn: Conn) {
        let Conn {
            mut running,
            lane,
            process,
            health_stop,
            ..
        } = conn;
        health_stop.cancel();
        // Fast-path calls fail at once, as the typed path's do when the connection closes.
        if let Some(lane) = lane {
            lane.close().await;
        }
        // Closing drops the transport, closing the child's stdin: the polite way to stop it.
        // In-flight requests fail with "transport closed" at this point, never hang.
        let _ = running
            .close_with_timeout(self.settings.shutdown_grace)
            .await;
        drop(running);
        if let Some(mut spawned) = process {
            self.kill(&mut spawned).await;
        }
    }

    /// Stops the process group (stdin already closed, or never connected) and waits for it.
    pub(super) async fn kill(&self, p: &mut Spawned) {
        let status = process::terminate(&mut p.child, p.pgid, self.settings.shutdown_grace).await;
        reaper::unregister(p.pgid);
        tracing::info!(server = %self.id, ?status, "child stopped");
        // The reader ends at EOF once every process holding the pipe is gone.
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut p.stderr_task).await;
    }
}

/// Waits for the process to exit; never, for a remote server.
async fn wait_process(p: &mut Option<Spawned>) -> Option<std::process::ExitStatus> {
    match p {
        Some(p) => p.child.wait().await.ok(),
        None => std::future::pending().await,
    }
}
