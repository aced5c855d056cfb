//! Signals that end the process (SIGTERM and SIGINT), and the drain that comes before the end.
//!
//! Stopping has two phases. The drain: the process takes no new work (readiness answers 503, new
//! MCP requests are refused, the engine and the jobs pool claim nothing) while the work it has
//! admitted (MCP requests, workflow runs being driven, jobs running) gets up to
//! `orchestrator.drain_timeout` to finish. Then the stop: what is left is abandoned, its leases
//! are handed back, and the children are stopped. [`Drain`] is the first phase's half of the
//! shutdown tree; its token is a child of the tree's root, so a stop is always a drain too.

use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};

/// Resolves on the first SIGTERM or SIGINT.
pub async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; only stdin EOF will stop the orchestrator");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

/// Whether the process is draining, and the work it waits for while it does.
///
/// Two kinds of work are counted apart: host requests, which end by themselves, and leased work
/// (runs driven here, jobs running here), whose leases must be handed back before the store
/// closes, so the stop waits for it once more after the drain.
#[derive(Clone, Debug)]
pub struct Drain {
    token: CancellationToken,
    requests: TaskTracker,
    leased: TaskTracker,
}

/// Held while one piece of admitted work runs; the drain waits for every one to be dropped.
#[derive(Debug)]
pub struct InFlight {
    _token: TaskTrackerToken,
}

impl Drain {
    /// A drain that starts when `parent` is cancelled, or earlier by [`Drain::begin`].
    pub fn under(parent: &CancellationToken) -> Self {
        Self {
            token: parent.child_token(),
            requests: TaskTracker::new(),
            leased: TaskTracker::new(),
        }
    }

    /// Whether new work is refused.
    pub fn is_draining(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the drain starts.
    pub async fn started(&self) {
        self.token.cancelled().await;
    }

    /// Admits a host request, or `None` when draining (the caller refuses it).
    pub fn admit_request(&self) -> Option<InFlight> {
        (!self.is_draining()).then(|| InFlight {
            _token: self.requests.token(),
        })
    }

    /// Counts leased work (a run driven here, a job running here) until the value is dropped.
    /// Leased work already claimed is always counted: its lease must be handed back.
    pub fn hold_leased(&self) -> InFlight {
        InFlight {
            _token: self.leased.token(),
        }
    }

    /// Starts the drain (again is a no-op): new work is refused from now on.
    pub fn begin(&self) {
        self.token.cancel();
        self.requests.close();
        self.leased.close();
    }

    /// Resolves once every admitted request and every piece of leased work has ended (after
    /// [`Drain::begin`]).
    pub async fn settled(&self) {
        self.requests.wait().await;
        self.leased.wait().await;
    }

    /// Resolves once every piece of leased work has ended (after [`Drain::begin`]).
    pub async fn leased_settled(&self) {
        self.leased.wait().await;
    }

    /// Work still in flight: host requests, leased work.
    pub fn in_flight(&self) -> (usize, usize) {
        (self.requests.len(), self.leased.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn settles_when_admitted_work_ends_and_refuses_new_work() {
        let root = CancellationToken::new();
        let drain = Drain::under(&root);
        let request = drain.admit_request().expect("admitted before the drain");
        let leased = drain.hold_leased();
        drain.begin();
        assert!(drain.is_draining());
        assert!(drain.admit_request().is_none(), "refused while draining");
        assert_eq!(drain.in_flight(), (1, 1));
        let waiting = tokio::time::timeout(Duration::from_millis(50), drain.settled());
        assert!(waiting.await.is_err(), "work still in flight");
        drop(request);
        drop(leased);
        tokio::time::timeout(Duration::from_secs(1), drain.settled())
            .await
            .expect("settled once the work ended");
        assert!(!root.is_cancelled(), "a drain is not the stop");
    }

    #[test]
    fn a_stop_is_a_drain_too() {
        let root = CancellationToken::new();
        let drain = Drain::under(&root);
        root.cancel();
        assert!(drain.is_draining());
    }
}
