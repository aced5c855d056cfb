//! Applying a new config to a running orchestrator: added servers start, removed ones stop
//! (after draining their calls), changed ones restart, untouched ones keep their process. The
//! host hears one `list_changed` for the net effect.

use std::{sync::Arc, time::Duration};

use serde::Serialize;

use super::Registry;
use crate::{
    config::{self, Config},
    join::join_all,
    supervisor::{ChildHandle, ServerState},
};

/// What a reload did, by server id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadSummary {
    /// Started.
    pub added: Vec<String>,
    /// Stopped.
    pub removed: Vec<String>,
    /// Restarted with their new definition.
    pub changed: Vec<String>,
    /// Kept running as they were.
    pub unchanged: Vec<String>,
    /// Had failed and were given another start.
    pub retried: Vec<String>,
}

/// Longest a reload waits for new servers to settle before announcing the new surface.
const SETTLE_BOUND: Duration = Duration::from_secs(10);

impl Registry {
    /// Re-reads the config file in force and applies it. An invalid file changes nothing that
    /// runs: the error is logged, kept for `status`, and returned.
    pub async fn reload_from_disk(self: &Arc<Self>) -> Result<ReloadSummary, config::ConfigError> {
        let path = self.config().path.clone();
        match config::load(&path) {
            Ok(new) => {
                self.config_error.store(None);
                Ok(self.apply(new).await)
            }
            Err(e) => {
                tracing::error!(error = %e, "config reload refused; the previous config keeps running");
                self.config_error.store(Some(Arc::new(e.to_string())));
                Err(e)
            }
        }
    }

    /// Applies `new` (already validated, as read from the file): the servers discovery found
    /// are merged in again (see [`super::discovered`]).
    pub async fn apply(self: &Arc<Self>, new: Config) -> ReloadSummary {
        let _one_at_a_time = self.reload_lock.lock().await;
        let merged = self.merge_discovered(Some(new));
        self.apply_locked(merged).await
    }

    /// Applies a merged config; the caller holds `reload_lock`, so that the file's config and
    /// the discovered sets are merged and applied as one step.
    pub(super) async fn apply_locked(self: &Arc<Self>, new: Config) -> ReloadSummary {
        let hold = self.hold_notifications();
        let old = self.config();
        let old_children = self.children();
        let restart_all = old.settings.supervision_differs(&new.settings);
        let mut summary = ReloadSummary::default();

        let mut retire: Vec<ChildHandle> = old_children
            .iter()
            .filter(|c| new.server(c.id()).is_none())
            .cloned()
            .collect();
        summary.removed = retire.iter().map(|c| c.id().to_string()).collect();
        let mut keep = Vec::new();
        for spec in &new.servers {
            match old_children.iter().find(|c| **c.id() == *spec.id) {
                Some(c) if **c.spec() == *spec && !restart_all => {
                    keep.push(c.clone());
                    // A user who just built or installed a missing server reloads to start it.
                    if matches!(c.state(), ServerState::Failed | ServerState::NotInstalled) {
                        summary.retried.push(spec.id.clone());
                    } else {
                        summary.unchanged.push(spec.id.clone());
                    }
                }
                Some(c) => {
                    retire.push(c.clone());
                    summary.changed.push(spec.id.clone());
                }
                None => summary.added.push(spec.id.clone()),
            }
        }

        // Old processes go first: a changed server's new process may need what the old holds.
        let drain = new.settings.drain_timeout;
        let stops = retire.iter().map(|c| c.drain_and_stop(drain));
        join_all(stops).await;

        let children: Vec<ChildHandle> = new
            .servers
            .iter()
            .map(|spec| match keep.iter().find(|c| **c.id() == *spec.id) {
                Some(c) => c.clone(),
                None => self.spawn_child(spec.clone()),
            })
            .collect();
        for id in &summary.retried {
            if let Some(c) = children.iter().find(|c| **c.id() == **id) {
                c.restart().await;
            }
        }
        self.install(new, children);
        tracing::info!(?summary, "config reloaded");

        let limit = self.config().settings.startup_timeout.min(SETTLE_BOUND);
        let fresh: Vec<ChildHandle> = self
            .children()
            .iter()
            .filter(|c| {
                summary
                    .added
                    .iter()
                    .chain(&summary.changed)
                    .chain(&summary.retried)
                    .any(|id| **id == **c.id())
            })
            .cloned()
            .collect();
        join_all(fresh.iter().map(|c| c.wait_settled(limit))).await;
        drop(hold);
        summary
    }
}
