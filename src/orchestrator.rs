//! The running orchestrator: one supervisor per configured child, the merged surface, and the
//! shutdown tree they all hang from. Config and children are swapped whole on reload
//! ([`crate::reload`]).

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, PoisonError},
    time::Duration,
};

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

mod holds;

use self::holds::{Holds, may_announce};
use crate::{
    config::{Config, PinPolicy, ServerSpec},
    hub::Hub,
    own_tools,
    pins::PinStore,
    status::{ServerReport, StatusReport},
    supervisor::ChildHandle,
    surface::{Fingerprint, Surface},
    unified::Unified,
};

/// How long list_changed bursts are gathered before one notification goes out: a restart flips
/// a child's state several times in a few milliseconds.
const SURFACE_DEBOUNCE: Duration = Duration::from_millis(25);

/// Children, surface and shutdown tree.
pub struct Orchestrator {
    config: ArcSwap<Config>,
    children: ArcSwap<Vec<ChildHandle>>,
    hub: Arc<Hub>,
    surface: ArcSwap<Surface>,
    /// While non-zero (a reload in progress), surface changes are not announced: the reload
    /// announces its net effect once.
    notify_holds: Holds,
    /// The last reload's error, shown by status until a reload succeeds.
    pub(crate) config_error: ArcSwapOption<String>,
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    unified: Unified,
    pins: std::sync::Mutex<PinStore>,
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
        let unified = Unified::new(&config);
        let pin_file =
            (config.settings.pin_file.clone()).or_else(|| PinStore::default_path(&config.path));
        let orch = Arc::new(Self {
            unified,
            pins: std::sync::Mutex::new(PinStore::load(pin_file)),
            config: ArcSwap::from_pointee(config),
            children: ArcSwap::default(),
            hub,
            surface: ArcSwap::default(),
            notify_holds: Holds::default(),
            config_error: ArcSwapOption::empty(),
            reload_lock: tokio::sync::Mutex::new(()),
            tracker,
            shutdown,
        });
        let config = orch.config();
        let children = config
            .servers
            .iter()
            .map(|s| orch.spawn_child(s.clone()))
            .collect();
        orch.children.store(Arc::new(children));
        orch.refresh_surface();
        orch.tracker.spawn(surface_task(
            Arc::downgrade(&orch),
            orch.hub.clone(),
            orch.shutdown.clone(),
            orch.surface().fingerprint,
        ));
        orch
    }

    /// Starts supervising one server.
    pub(crate) fn spawn_child(&self, spec: ServerSpec) -> ChildHandle {
        ChildHandle::spawn(
            spec,
            self.config().settings.clone(),
            self.hub.clone(),
            &self.tracker,
            self.shutdown.child_token(),
        )
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Installs a new config and child list (reload).
    pub(crate) fn install(&self, config: Config, children: Vec<ChildHandle>) {
        self.config.store(Arc::new(config));
        self.children.store(Arc::new(children));
    }

    /// Breakers, cache and metrics of the unified tools.
    pub fn unified(&self) -> &Unified {
        &self.unified
    }

    /// The shared hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The task tracker every orchestrator task runs on.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Fires when the orchestrator shuts down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Children in config order.
    pub fn children(&self) -> Arc<Vec<ChildHandle>> {
        self.children.load_full()
    }

    /// The child with this id.
    pub fn child(&self, id: &str) -> Option<ChildHandle> {
        self.children
            .load()
            .iter()
            .find(|c| &**c.id() == id)
            .cloned()
    }

    /// The current merged surface.
    pub fn surface(&self) -> Arc<Surface> {
        self.surface.load_full()
    }

    /// Rebuilds the surface from the children's statuses now; returns the previous one.
    pub fn refresh_surface(&self) -> Arc<Surface> {
        let children = self.children();
        let statuses: Vec<_> = children
            .iter()
            .map(|c| (c.id().clone(), c.status(), c.spec().namespace))
            .collect();
        let withheld = self.check_pins(&children, &statuses);
        // Bare (un-namespaced) names must not shadow the orchestrator's own or unified tools.
        let mut reserved = own_tools::NAMES.to_vec();
        reserved.extend(crate::unified::UnifiedTool::ALL.iter().map(|t| t.name()));
        let surface = Surface::build_with(
            statuses.iter().map(|(id, s, ns)| (id, s, *ns)),
            &reserved,
            &withheld,
        );
        let previous = self.surface.swap(Arc::new(surface));
        // Rebuilds happen on every state change; say each rename or collision once.
        for w in &self.surface.load().warnings {
            if !previous.warnings.contains(w) {
                tracing::warn!("{w}");
            }
        }
        previous
    }

    /// Compares running children's tools with their pins; returns the tools to withhold.
    fn check_pins(
        &self,
        children: &[ChildHandle],
        statuses: &[(Arc<str>, crate::supervisor::ChildStatus, bool)],
    ) -> HashMap<Arc<str>, BTreeSet<String>> {
        let config = self.config();
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        let mut withheld = HashMap::new();
        for (child, (id, status, _)) in children.iter().zip(statuses) {
            let policy = child.spec().pin_policy(&config.settings);
            if policy == PinPolicy::Off || !status.state.serves_calls() {
                continue;
            }
            let changed = pins.observe(id, &status.tools);
            if policy == PinPolicy::Withhold && !changed.is_empty() {
                withheld.insert(id.clone(), changed);
            }
        }
        withheld
    }

    /// Tool names of `server` whose definitions differ from their pins.
    pub fn changed_tools(&self, server: &str) -> Vec<String> {
        let pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        pins.changed(server)
    }

    /// Approves `server`'s current tool definitions (re-pins them) and republishes the surface;
    /// returns the tool names that had changed.
    pub fn approve_tools(&self, server: &str) -> Vec<String> {
        let approved = self
            .pins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .approve(server);
        self.refresh_surface();
        self.hub.mark_surface_dirty();
        approved
    }

    /// Holds back list_changed notifications until the guard drops.
    pub(crate) fn hold_notifications(self: &Arc<Self>) -> NotifyHold {
        self.notify_holds.take();
        NotifyHold { orch: self.clone() }
    }

    /// Waits until every child is settled (running, failed, missing env, …) or `limit` passes.
    pub async fn wait_settled(&self, limit: Duration) {
        // One shared deadline: waiting in turn costs no more than waiting together.
        let deadline = tokio::time::Instant::now() + limit;
        for c in self.children().iter() {
            c.wait_settled(deadline.saturating_duration_since(tokio::time::Instant::now()))
                .await;
        }
        self.refresh_surface();
    }

    /// The status report.
    pub fn status(&self) -> StatusReport {
        // Pins are compared on rebuilds; a child that came up a moment ago is compared now.
        self.refresh_surface();
        let config = self.config();
        StatusReport {
            servers: self
                .children()
                .iter()
                .map(|c| {
                    let mut r = ServerReport::of(c);
                    r.circuit = self.unified.circuit(c.id());
                    r.tools_changed = self.changed_tools(c.id());
                    r.tools_withheld = !r.tools_changed.is_empty()
                        && c.spec().pin_policy(&config.settings) == PinPolicy::Withhold;
                    (c.id().to_string(), r)
                })
                .collect(),
            routing: config.routing.clone(),
            config: config.path.display().to_string(),
            config_error: self.config_error.load_full().map(|e| (*e).clone()),
            unified: self.unified.metrics(),
        }
    }

    /// Stops every child (concurrently) and every task; returns when all are gone or after a
    /// bound long enough for the stop sequence (stdin close, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let bound = self.config().settings.shutdown_grace * 3 + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within {} s", bound.as_secs_f64());
        }
    }
}

/// Releases a notification hold and lets the surface task announce the net change.
pub(crate) struct NotifyHold {
    orch: Arc<Orchestrator>,
}

impl Drop for NotifyHold {
    fn drop(&mut self) {
        self.orch.notify_holds.release();
        self.orch.hub.mark_surface_dirty();
    }
}

/// Rebuilds the surface after every burst of child changes and tells the host once per net
/// change of each list (compared with what the host was last told).
async fn surface_task(
    orch: std::sync::Weak<Orchestrator>,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    mut announced: Fingerprint,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = hub.surface_dirty() => {}
        }
        tokio::time::sleep(SURFACE_DEBOUNCE).await;
        let Some(orch) = orch.upgrade() else { return };
        let before = orch.notify_holds.mark();
        orch.refresh_surface();
        let now = orch.surface().fingerprint;
        let quiet = may_announce(before, orch.notify_holds.mark());
        drop(orch);
        if !quiet {
            continue;
        }
        for host in hub.hosts() {
            if announced.tools != now.tools {
                tracing::debug!("tools changed; notifying host");
                let _ = host.notify_tool_list_changed().await;
            }
            if announced.prompts != now.prompts {
                let _ = host.notify_prompt_list_changed().await;
            }
            if announced.resources != now.resources {
                let _ = host.notify_resource_list_changed().await;
            }
        }
        announced = now;
    }
}
