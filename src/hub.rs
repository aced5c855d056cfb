//! What the host side and the child side share: the host connection, the progress-token map, and
//! the "surface changed" signal.
//!
//! Children start before the host has said `initialize`, so everything aimed at the host goes
//! through here and is dropped (with a debug log) while no host is connected.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use rmcp::{
    Peer, RoleServer,
    model::{ProgressNotificationParam, ProgressToken},
};
use tokio::sync::Notify;

/// Key of a forwarded progress stream: the child and the token rmcp put on our request to it.
type ProgressKey = (Arc<str>, ProgressToken);

/// Where a call's progress goes.
#[derive(Clone)]
pub enum ProgressSink {
    /// To a host, under the token the host put on its request.
    Host {
        /// The host connection.
        peer: Peer<RoleServer>,
        /// The host's progress token.
        token: ProgressToken,
    },
}

impl ProgressSink {
    /// Progress of the orchestrator's own long-running work (a workflow's steps), under the
    /// caller's token.
    pub async fn report(&self, progress: f64, total: Option<f64>, message: String) {
        let Self::Host { peer, token } = self;
        let mut p = ProgressNotificationParam::new(token.clone(), progress);
        p.total = total;
        p.message = Some(message);
        if let Err(e) = peer.notify_progress(p).await {
            tracing::debug!(error = %e, "workflow progress not delivered to host");
        }
    }

    async fn deliver(&self, child: &Arc<str>, mut p: ProgressNotificationParam) {
        match self {
            Self::Host { peer, token } => {
                p.progress_token = token.clone();
                if let Err(e) = peer.notify_progress(p).await {
                    tracing::debug!(server = %child, error = %e, "progress not delivered to host");
                }
            }
        }
    }
}

/// Shared between the host-facing server and every child connection.
#[derive(Default)]
pub struct Hub {
    /// Connected hosts: one on stdio, any number of sessions over HTTP.
    hosts: Mutex<Vec<Peer<RoleServer>>>,
    progress: Mutex<HashMap<ProgressKey, ProgressSink>>,
    surface_dirty: Notify,
}

impl Hub {
    /// A new hub, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records a host connection, once it has initialized.
    pub fn set_host(&self, peer: Peer<RoleServer>) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.retain(|h| !h.is_transport_closed());
        hosts.push(peer);
    }

    /// The most recent live host connection: where a child's requests (elicitation, sampling,
    /// roots) go.
    pub fn host(&self) -> Option<Peer<RoleServer>> {
        self.hosts().pop()
    }

    /// Every live host connection: where notifications go.
    pub fn hosts(&self) -> Vec<Peer<RoleServer>> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.retain(|h| !h.is_transport_closed());
        hosts.clone()
    }

    /// Tells the surface task that some child's lists or state changed.
    pub fn mark_surface_dirty(&self) {
        self.surface_dirty.notify_one();
    }

    /// Waits for the next [`Self::mark_surface_dirty`].
    pub async fn surface_dirty(&self) {
        self.surface_dirty.notified().await;
    }

    /// Routes progress for `child_token` on `child` to `sink` until the returned guard drops.
    pub fn map_progress(
        self: &Arc<Self>,
        child: Arc<str>,
        child_token: ProgressToken,
        sink: ProgressSink,
    ) -> ProgressGuard {
        let key = (child, child_token);
        self.lock_progress().insert(key.clone(), sink);
        ProgressGuard {
            hub: self.clone(),
            key,
        }
    }

    /// Forwards a child's progress to whoever asked for it; progress nobody asked for is dropped.
    pub async fn forward_progress(&self, child: &Arc<str>, p: ProgressNotificationParam) {
        let target = self
            .lock_progress()
            .get(&(child.clone(), p.progress_token.clone()))
            .cloned();
        match target {
            Some(sink) => sink.deliver(child, p).await,
            None => tracing::debug!(server = %child, "dropping progress for an unknown token"),
        }
    }

    fn lock_progress(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressKey, ProgressSink>> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a progress mapping when the call it belongs to ends, however it ends.
pub struct ProgressGuard {
    hub: Arc<Hub>,
    key: ProgressKey,
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        self.hub.lock_progress().remove(&self.key);
    }
}
