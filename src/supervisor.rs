//! Supervision of one child MCP server: one task owns the process and the connection, a cloneable
//! [`ChildHandle`] reads its published [`ChildStatus`] and sends it control requests.
//!
//! Layout:
//! - [`state`]: the contract's states and the published snapshot;
//! - [`run`]: the task's phase loop (start → serve → backoff/failed → …), with [`start`]
//!   (spawn or connect, handshake, first listing) and [`conn`] (a live connection until it
//!   ends); [`lists`] fetches a child's lists; [`failure`] is what `last_error` says when one
//!   fails;
//! - [`process`]: spawning in a process group, the child's environment, stopping the group;
//! - [`child_client`]: the MCP client side of the connection (notifications, child → host requests);
//! - [`child_io`]: the child's stdio framing (size cap with a prompt error, garbage skipped);
//! - [`health`]: the ping loop;
//! - [`stderr`]: stderr forwarding and the tail kept for `last_error`.

pub mod child_client;
pub mod child_io;
mod conn;
mod failure;
mod health;
pub mod lane;
mod lists;
pub mod process;
mod remote;
mod run;
mod start;
pub mod state;
pub mod stderr;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::{Peer, RoleClient};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use state::{CacheHints, ChildStatus, ServerState};

/// The connection type of every child: what `start` makes, `conn` lives with and `lists` reads.
type Running = rmcp::service::RunningService<rmcp::RoleClient, child_client::ChildClient>;

use crate::{
    config::{ServerSpec, Settings},
    hub::Hub,
    metrics::CallMetrics,
};

/// A request to a supervisor task.
#[derive(Debug)]
enum Control {
    /// Stop the current process (if any) and start afresh, forgetting crash history.
    Restart(oneshot::Sender<()>),
    /// Stop for good; the reply comes once the process group is gone.
    Stop(oneshot::Sender<()>),
}

/// A cheap, cloneable handle on one supervised child.
#[derive(Clone)]
pub struct ChildHandle {
    id: Arc<str>,
    spec: Arc<ServerSpec>,
    status: watch::Receiver<ChildStatus>,
    control: mpsc::Sender<Control>,
    calls: Arc<Calls>,
}

/// Calls in flight to one child, and whether new ones are still accepted.
#[derive(Default)]
struct Calls {
    limit: usize,
    in_flight: AtomicUsize,
    draining: AtomicBool,
    drained: tokio::sync::Notify,
    metrics: CallMetrics,
}

/// Marks one call in flight until dropped.
pub struct CallGuard {
    calls: Arc<Calls>,
}

impl CallGuard {
    /// Records the call in its child's metrics.
    pub fn record(&self, call: crate::metrics::Call<'_>) {
        self.calls.metrics.record_call(call);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if self.calls.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.calls.drained.notify_waiters();
        }
    }
}

impl ChildHandle {
    /// Starts supervising `spec`. The task is tracked by `tracker` and stops when `shutdown` fires.
    pub fn spawn(
        spec: ServerSpec,
        settings: Settings,
        hub: Arc<Hub>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let id: Arc<str> = spec.id.as_str().into();
        let settings_limit = settings.max_in_flight;
        let spec = Arc::new(spec);
        let initial = if spec.disabled {
            ChildStatus::initial(ServerState::Disabled, Vec::new())
        } else if !spec.missing_env.is_empty() {
            ChildStatus::initial(ServerState::MissingEnv, spec.missing_env.clone())
        } else {
            ChildStatus::initial(ServerState::Starting, Vec::new())
        };
        let (status_tx, status_rx) = watch::channel(initial);
        let (control_tx, control_rx) = mpsc::channel(8);
        let task = run::Supervisor::new(
            spec.clone(),
            settings,
            hub,
            status_tx,
            control_rx,
            tracker.clone(),
            shutdown,
        );
        tracker.spawn(task.run());
        Self {
            id,
            spec,
            status: status_rx,
            control: control_tx,
            calls: Arc::new(Calls {
                limit: settings_limit,
                ..Calls::default()
            }),
        }
    }

    /// The server id.
    pub fn id(&self) -> &Arc<str> {
        &self.id
    }

    /// The config it runs.
    pub fn spec(&self) -> &Arc<ServerSpec> {
        &self.spec
    }

    /// The latest status.
    pub fn status(&self) -> ChildStatus {
        self.status.borrow().clone()
    }

    /// The protocol era of its connection, once it has one.
    pub fn era(&self) -> Option<crate::era::Era> {
        self.status.borrow().era
    }

    /// The state alone, without cloning the lists.
    pub fn state(&self) -> ServerState {
        self.status.borrow().state
    }

    /// The connection, if calls may be routed to the child now (it is up and not draining).
    pub fn peer(&self) -> Option<Peer<RoleClient>> {
        if self.is_draining() {
            return None;
        }
        let s = self.status.borrow();
        // A stdio child whose stream has ended is about to be found dead and restarted: calls
        // wait for that rather than fail on the closed connection.
        if s.lane.as_ref().is_some_and(|l| l.is_closed()) {
            return None;
        }
        s.state.serves_calls().then(|| s.peer.clone()).flatten()
    }

    /// The connection and a guard counting the call in flight: `None` if calls may not be
    /// routed now, `Some(Err(limit))` if `max_in_flight` calls are already running.
    pub fn begin_call(&self) -> Option<Result<(Peer<RoleClient>, CallGuard), usize>> {
        let peer = self.peer()?;
        Some(self.take_slot().map(|guard| (peer, guard)))
    }

    /// The connection's fast path, while it has one.
    pub fn lane(&self) -> Option<Arc<lane::Lane>> {
        self.status.borrow().lane.clone()
    }

    /// Like [`Self::begin_call`], for the forwarding fast path: the connection's lane. `None`
    /// also when the connection has no lane (a remote server).
    pub fn begin_fast_call(&self) -> Option<Result<(Arc<lane::Lane>, CallGuard), usize>> {
        self.peer()?;
        // The fast path writes handshake-era requests; a stateless child needs per-request
        // `_meta` and may answer with input requests, so its calls take the typed path.
        if self.era() != Some(crate::era::Era::Legacy) {
            return None;
        }
        let lane = self.lane()?;
        Some(self.take_slot().map(|guard| (lane, guard)))
    }

    /// One slot under `max_in_flight`; over the limit, the guard's drop gives it back.
    fn take_slot(&self) -> Result<CallGuard, usize> {
        let before = self.calls.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = CallGuard {
            calls: self.calls.clone(),
        };
        if self.calls.limit > 0 && before >= self.calls.limit {
            return Err(self.calls.limit);
        }
        Ok(guard)
    }

    /// Whether the handle is being retired (reload): new calls wait for its successor.
    pub fn is_draining(&self) -> bool {
        self.calls.draining.load(Ordering::Acquire)
    }

    /// Calls to it in flight now.
    pub fn in_flight(&self) -> usize {
        self.calls.in_flight.load(Ordering::Acquire)
    }

    /// Call metrics of this child.
    pub fn metrics(&self) -> &CallMetrics {
        &self.calls.metrics
    }

    /// Stops taking new calls, waits up to `limit` for those in flight, then stops the child.
    /// Calls still running after `limit` fail with "closed the connection".
    pub async fn drain_and_stop(&self, limit: Duration) {
        self.calls.draining.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + limit;
        while self.calls.in_flight.load(Ordering::Acquire) > 0 {
            let notified = self.calls.drained.notified();
            if self.calls.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(server = %self.id, "calls still in flight after the drain window; stopping anyway");
                break;
            }
        }
        self.stop().await;
    }

    /// A receiver that sees every status change.
    pub fn subscribe(&self) -> watch::Receiver<ChildStatus> {
        self.status.clone()
    }

    /// Waits until the state is settled (running, failed, missing_env, …) or `limit` passes.
    pub async fn wait_settled(&self, limit: Duration) -> ServerState {
        let mut rx = self.status.clone();
        let settled = tokio::time::timeout(limit, rx.wait_for(|s| s.state.is_settled())).await;
        match settled {
            Ok(Ok(s)) => s.state,
            _ => self.state(),
        }
    }

    /// Waits while the child is on a start (spawn, handshake, first listing), at most `limit`.
    pub async fn wait_started(&self, limit: Duration) {
        let mut rx = self.status.clone();
        let _ =
            tokio::time::timeout(limit, rx.wait_for(|s| s.state != ServerState::Starting)).await;
    }

    /// Asks for a restart; returns once the old process is gone and a new start has begun.
    pub async fn restart(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Restart(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops the child and waits until its process group is gone.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl std::fmt::Debug for ChildHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildHandle")
            .field("id", &self.id)
            .field("state", &self.state())
            .finish()
    }
}
