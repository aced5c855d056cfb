//! What the host side and the child side share: the host connections (legacy sessions and modern
//! `subscriptions/listen` streams), the progress-token map, and the "surface changed" signal.
//!
//! Children start before the host has said `initialize`, so everything aimed at the host goes
//! through here and is dropped (with a debug log) while no host is connected.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    Peer, RoleServer,
    model::{InputRequest, ProgressNotificationParam, ProgressToken},
    service::{SubscriptionSendError, SubscriptionSink},
};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::era::Era;

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

/// The ids of declared extensions.
pub fn extension_ids(extensions: Option<&rmcp::model::ExtensionCapabilities>) -> Vec<String> {
    extensions
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default()
}

/// A change every host hears of: legacy sessions as a notification, modern hosts on their
/// `subscriptions/listen` streams (each as its accepted filter allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The tool list changed.
    Tools,
    /// The prompt list changed.
    Prompts,
    /// The resource list changed.
    Resources,
    /// The resource with this URI changed.
    ResourceUpdated(String),
}

/// A handshake-era child's request for input (elicitation, sampling, roots) made during a call
/// of a stateless host, which cannot be sent requests: the call hands it to the host as an
/// `InputRequiredResult`, and the host's retry brings the answer.
pub struct Ask {
    /// What the child asked, as the host will see it.
    pub request: InputRequest,
    /// Where the host's answer goes (the JSON of the matching client result).
    pub reply: oneshot::Sender<Result<serde_json::Value, String>>,
}

/// Where the asks of one server's stateless-host calls go, while exactly one such call is in
/// flight (a stdio child's request does not say which of our requests it belongs to).
type AskRoutes = HashMap<Arc<str>, Vec<(u64, mpsc::Sender<Ask>)>>;

/// Keeps an ask route open; dropping it closes the route.
pub struct AskRoute {
    hub: std::sync::Weak<Hub>,
    server: Arc<str>,
    id: u64,
}

impl Drop for AskRoute {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            let mut routes = hub.asks.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(list) = routes.get_mut(&self.server) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    routes.remove(&self.server);
                }
            }
        }
    }
}

/// How long a stateless host stays in `status` after its last request.
const HOST_SEEN_FOR: Duration = Duration::from_secs(600);

/// A stateless host, as last seen.
struct SeenHost {
    protocol_version: String,
    extensions: Vec<String>,
    at: std::time::Instant,
}

/// Shared between the host-facing server and every child connection.
#[derive(Default)]
pub struct Hub {
    /// Connected legacy hosts: one on stdio, any number of sessions over HTTP.
    hosts: Mutex<Vec<Peer<RoleServer>>>,
    /// Open `subscriptions/listen` streams of modern hosts.
    listeners: Mutex<Vec<SubscriptionSink>>,
    progress: Mutex<HashMap<ProgressKey, ProgressSink>>,
    /// Progress notifications read from a child and not yet forwarded, per token: rmcp runs
    /// each notification on a task of its own, so a child's last progress can still be queued
    /// when its answer (read after it) reaches the caller.
    progress_queued: Mutex<HashMap<ProgressKey, usize>>,
    progress_forwarded: Notify,
    surface_dirty: Notify,
    asks: Mutex<AskRoutes>,
    next_ask_route: std::sync::atomic::AtomicU64,
    /// Stateless hosts by client name and version: they hold no connection to list.
    modern_hosts: Mutex<HashMap<String, SeenHost>>,
    /// The log level a legacy host set, passed per request to stateless children.
    #[expect(
        deprecated,
        reason = "logging/setLevel is deprecated by SEP-2577; legacy hosts send it"
    )]
    log_level: Mutex<Option<rmcp::model::LoggingLevel>>,
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

    /// Adds a modern host's `subscriptions/listen` stream; it is dropped once closed.
    pub fn listen(&self, sink: SubscriptionSink) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        listeners.push(sink);
    }

    /// How many `subscriptions/listen` streams are open (for `status`).
    pub fn listeners(&self) -> usize {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Records the log level a legacy host asked for.
    #[expect(
        deprecated,
        reason = "logging/setLevel is deprecated by SEP-2577; legacy hosts send it"
    )]
    pub fn set_log_level(&self, level: rmcp::model::LoggingLevel) {
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = Some(level);
    }

    /// The log level a legacy host asked for, if one did.
    #[expect(
        deprecated,
        reason = "logging/setLevel is deprecated by SEP-2577; legacy hosts send it"
    )]
    pub fn log_level(&self) -> Option<rmcp::model::LoggingLevel> {
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a request of a stateless host (for `status`).
    pub fn saw_modern_host(&self, client: String, protocol_version: &str, extensions: Vec<String>) {
        let mut hosts = self.modern_hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.retain(|_, h| h.at.elapsed() < HOST_SEEN_FOR);
        hosts.insert(
            client,
            SeenHost {
                protocol_version: protocol_version.to_owned(),
                extensions,
                at: std::time::Instant::now(),
            },
        );
    }

    /// The hosts for `status`: each connected session, then each stateless host seen lately.
    pub fn host_reports(&self) -> Vec<crate::report::HostReport> {
        let mut out: Vec<_> = self
            .hosts()
            .iter()
            .filter_map(|peer| peer.peer_info())
            .map(|info| crate::report::HostReport {
                era: Era::of(&info.protocol_version).to_string(),
                client: format!("{} {}", info.client_info.name, info.client_info.version),
                protocol_version: info.protocol_version.to_string(),
                extensions: extension_ids(info.capabilities.extensions.as_ref()),
                last_seen_s: None,
                listen_streams: None,
            })
            .collect();
        let listeners = self.listeners();
        let hosts = self.modern_hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut modern: Vec<_> = hosts
            .iter()
            .filter(|(_, h)| h.at.elapsed() < HOST_SEEN_FOR)
            .map(|(client, h)| crate::report::HostReport {
                era: Era::Modern.to_string(),
                client: client.clone(),
                protocol_version: h.protocol_version.clone(),
                extensions: h.extensions.clone(),
                last_seen_s: Some((h.at.elapsed().as_secs_f64() * 10.0).round() / 10.0),
                listen_streams: Some(listeners),
            })
            .collect();
        modern.sort_by(|a, b| a.client.cmp(&b.client));
        out.extend(modern);
        out
    }

    /// Tells every host of `change`: each legacy session by notification, each listen stream if
    /// its filter takes it.
    pub async fn announce(&self, change: Change) {
        for host in self.hosts() {
            let sent = match &change {
                Change::Tools => host.notify_tool_list_changed().await,
                Change::Prompts => host.notify_prompt_list_changed().await,
                Change::Resources => host.notify_resource_list_changed().await,
                Change::ResourceUpdated(uri) => {
                    host.notify_resource_updated(
                        rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone()),
                    )
                    .await
                }
            };
            if let Err(e) = sent {
                tracing::debug!(error = %e, ?change, "change not delivered to a host");
            }
        }
        let listeners = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut closed = Vec::new();
        for sink in listeners {
            let accepted = sink.accepted();
            let sent = match &change {
                Change::Tools if accepted.tools_list_changed == Some(true) => {
                    sink.notify_tool_list_changed().await
                }
                Change::Prompts if accepted.prompts_list_changed == Some(true) => {
                    sink.notify_prompt_list_changed().await
                }
                Change::Resources if accepted.resources_list_changed == Some(true) => {
                    sink.notify_resource_list_changed().await
                }
                Change::ResourceUpdated(uri)
                    if accepted
                        .resource_subscriptions
                        .as_ref()
                        .is_some_and(|uris| uris.iter().any(|u| u == uri)) =>
                {
                    sink.notify_resource_updated(uri.clone()).await
                }
                _ => Ok(()),
            };
            match sent {
                Err(SubscriptionSendError::SubscriptionClosed) => closed.push(sink.id().clone()),
                Err(e) => {
                    tracing::debug!(error = %e, ?change, "change not delivered to a listen stream")
                }
                Ok(()) => {}
            }
        }
        if !closed.is_empty() {
            let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
            listeners.retain(|l| !closed.contains(l.id()));
        }
    }

    /// Routes the input requests `server` makes to `to` while the route is held.
    pub fn open_asks(self: &Arc<Self>, server: Arc<str>, to: mpsc::Sender<Ask>) -> AskRoute {
        let id = self
            .next_ask_route
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut routes = self.asks.lock().unwrap_or_else(|p| p.into_inner());
        routes.entry(server.clone()).or_default().push((id, to));
        AskRoute {
            hub: Arc::downgrade(self),
            server,
            id,
        }
    }

    /// Where an input request of `server` goes: `Ok(None)` to the legacy host (no stateless
    /// host call is in flight to it), `Ok(Some(route))` to the one that is, `Err(n)` when `n`
    /// are and the request cannot be told apart.
    pub fn ask_route(&self, server: &str) -> Result<Option<mpsc::Sender<Ask>>, usize> {
        let routes = self.asks.lock().unwrap_or_else(|p| p.into_inner());
        match routes.get(server).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([(_, to)]) => Ok(Some(to.clone())),
            Some(many) => Err(many.len()),
        }
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
        let key = (child.clone(), p.progress_token.clone());
        let target = self.lock_progress().get(&key).cloned();
        match target {
            Some(sink) => sink.deliver(child, p).await,
            None => tracing::debug!(server = %child, "dropping progress for an unknown token"),
        }
        let mut queued = self.lock_queued();
        if let Some(n) = queued.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                queued.remove(&key);
            }
        }
        drop(queued);
        self.progress_forwarded.notify_waiters();
    }

    /// Counts a progress notification the child's transport has just read (before rmcp hands it
    /// to its own task): [`Self::settle_progress`] waits for it.
    pub fn progress_read(&self, child: &Arc<str>, token: &ProgressToken) {
        *self
            .lock_queued()
            .entry((child.clone(), token.clone()))
            .or_default() += 1;
    }

    /// Waits, at most `limit`, until every progress notification read for `token` before the
    /// call's answer has been forwarded, so the caller sees all of them before the answer.
    pub async fn settle_progress(&self, child: &Arc<str>, token: &ProgressToken, limit: Duration) {
        let key = (child.clone(), token.clone());
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let forwarded = self.progress_forwarded.notified();
            if !self.lock_queued().contains_key(&key) {
                return;
            }
            if tokio::time::timeout_at(deadline, forwarded).await.is_err() {
                // A notification rmcp never delivered: forget it rather than wait for it again.
                self.lock_queued().remove(&key);
                return;
            }
        }
    }

    fn lock_queued(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressKey, usize>> {
        self.progress_queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_answer_waits_for_the_progress_read_before_it_and_no_longer() {
        let hub = Hub::new();
        let child: Arc<str> = "c".into();
        let token = ProgressToken(rmcp::model::NumberOrString::Number(7));
        // Nothing read: no wait.
        let t0 = tokio::time::Instant::now();
        hub.settle_progress(&child, &token, Duration::from_secs(1))
            .await;
        assert_eq!(t0.elapsed(), Duration::ZERO);

        // Read, then forwarded 30 ms later by its own task: the wait ends then.
        hub.progress_read(&child, &token);
        let forwarder = hub.clone();
        let (c, t) = (child.clone(), token.clone());
        let tasks = tokio_util::task::TaskTracker::new();
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            forwarder
                .forward_progress(&c, ProgressNotificationParam::new(t, 1.0))
                .await;
        });
        let t0 = tokio::time::Instant::now();
        hub.settle_progress(&child, &token, Duration::from_secs(1))
            .await;
        assert_eq!(t0.elapsed(), Duration::from_millis(30));

        // Read but never delivered: bounded, and forgotten after.
        hub.progress_read(&child, &token);
        let t0 = tokio::time::Instant::now();
        hub.settle_progress(&child, &token, Duration::from_millis(250))
            .await;
        assert_eq!(t0.elapsed(), Duration::from_millis(250));
        let t0 = tokio::time::Instant::now();
        hub.settle_progress(&child, &token, Duration::from_millis(250))
            .await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }
}
