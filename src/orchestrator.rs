//! The running orchestrator: one supervisor per configured child, the merged surface, and the
//! shutdown tree they all hang from.

use std::{sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::Config,
    hub::Hub,
    own_tools,
    status::{ServerReport, StatusReport},
    supervisor::ChildHandle,
    surface::Surface,
};

/// How long list_changed bursts are gathered before one notification goes out: a restart flips
/// a child's state several times in a few milliseconds.
const SURFACE_DEBOUNCE: Duration = Duration::from_millis(25);

/// Children, surface and shutdown tree.
pub struct Orchestrator {
    config: Config,
    children: Vec<ChildHandle>,
    hub: Arc<Hub>,
    surface: ArcSwap<Surface>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Orchestrator {
    /// Starts every configured child (those with missing env or disabled are only recorded) and
    /// the task that keeps the surface current.
    pub fn start(config: Config) -> Arc<Self> {
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let hub = Hub::new();
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let children = config
            .servers
            .iter()
            .map(|spec| {
                ChildHandle::spawn(
                    spec.clone(),
                    config.settings.clone(),
                    hub.clone(),
                    &tracker,
                    shutdown.child_token(),
                )
            })
            .collect();
        let orch = Arc::new(Self {
            config,
            children,
            hub,
            surface: ArcSwap::default(),
            tracker,
            shutdown,
        });
        orch.refresh_surface();
        orch.tracker.spawn(surface_task(
            Arc::downgrade(&orch),
            orch.hub.clone(),
            orch.shutdown.clone(),
        ));
        orch
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The shared hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Children in config order.
    pub fn children(&self) -> &[ChildHandle] {
        &self.children
    }

    /// The child with this id.
    pub fn child(&self, id: &str) -> Option<&ChildHandle> {
        self.children.iter().find(|c| &**c.id() == id)
    }

    /// The current merged surface.
    pub fn surface(&self) -> Arc<Surface> {
        self.surface.load_full()
    }

    /// Rebuilds the surface from the children's statuses now; returns the previous one.
    pub fn refresh_surface(&self) -> Arc<Surface> {
        let statuses: Vec<_> = self
            .children
            .iter()
            .map(|c| (c.id().clone(), c.status()))
            .collect();
        let surface = Surface::build(statuses.iter().map(|(id, s)| (id, s)), own_tools::NAMES);
        let previous = self.surface.swap(Arc::new(surface));
        // Rebuilds happen on every state change; say each rename or collision once.
        for w in &self.surface.load().warnings {
            if !previous.warnings.contains(w) {
                tracing::warn!("{w}");
            }
        }
        previous
    }

    /// Waits until every child is settled (running, failed, missing env, …) or `limit` passes.
    pub async fn wait_settled(&self, limit: Duration) {
        // One shared deadline: waiting in turn costs no more than waiting together.
        let deadline = tokio::time::Instant::now() + limit;
        for c in &self.children {
            c.wait_settled(deadline.saturating_duration_since(tokio::time::Instant::now()))
                .await;
        }
        self.refresh_surface();
    }

    /// The status report.
    pub fn status(&self) -> StatusReport {
        StatusReport {
            servers: self
                .children
                .iter()
                .map(|c| (c.id().to_string(), ServerReport::of(c)))
                .collect(),
            routing: self.config.routing.clone(),
            config: self.config.path.display().to_string(),
        }
    }

    /// Stops every child (concurrently) and every task; returns when all are gone or after a
    /// bound long enough for the stop sequence (stdin close, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let bound = self.config.settings.shutdown_grace * 3 + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within {} s", bound.as_secs_f64());
        }
    }
}

/// Rebuilds the surface after every burst of child changes and tells the host once per change.
async fn surface_task(
    orch: std::sync::Weak<Orchestrator>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = hub.surface_dirty() => {}
        }
        tokio::time::sleep(SURFACE_DEBOUNCE).await;
        let Some(orch) = orch.upgrade() else { return };
        let before = orch.refresh_surface().fingerprint;
        let after = orch.surface().fingerprint;
        drop(orch);
        let Some(host) = hub.host() else { continue };
        if before.tools != after.tools {
            tracing::debug!("tools changed; notifying host");
            let _ = host.notify_tool_list_changed().await;
        }
        if before.prompts != after.prompts {
            let _ = host.notify_prompt_list_changed().await;
        }
        if before.resources != after.resources {
            let _ = host.notify_resource_list_changed().await;
        }
    }
}
