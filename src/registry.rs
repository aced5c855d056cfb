//! The registry of children: one supervisor per configured server, the merged surface built from
//! their lists, tool-definition pins, and the config in force. Config and children are swapped
//! whole on reload ([`reload`]).
//!
//! - [`surface`]: the merged tool/prompt/resource lists and the routes back to their owners;
//! - [`pins`]: tool-definition pinning (changed definitions flagged or withheld);
//! - [`holds`]: holding `list_changed` back while a reload is under way;
//! - [`reload`]: applying a new config to the running children;
//! - [`discovered`]: servers found by discovery sources, merged with the file's;
//! - [`status`]: one child's line of the status report.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, PoisonError},
    time::Duration,
};

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub mod discovered;
mod holds;
pub mod pins;
pub mod reload;
pub mod resources;
pub mod status;
pub mod surface;

use self::{
    holds::{Holds, may_announce},
    pins::PinStore,
    surface::{Fingerprint, Surface},
};
use crate::{
    config::{Config, PinPolicy, ServerSpec},
    hub::{Change, Hub},
    report::ServerReport,
    supervisor::ChildHandle,
};

/// How long list_changed bursts are gathered before one notification goes out: a restart flips
/// a child's state several times in a few milliseconds.
const SURFACE_DEBOUNCE: Duration = Duration::from_millis(25);

/// Children, surface, pins and the config in force.
pub struct Registry {
    config: Arc<ArcSwap<Config>>,
    children: ArcSwap<Vec<ChildHandle>>,
    hub: Arc<Hub>,
    surface: ArcSwap<Surface>,
    /// While non-zero (a reload in progress), surface changes are not announced: the reload
    /// announces its net effect once.
    notify_holds: Holds,
    /// The last reload's error, shown by status until a reload succeeds.
    pub(crate) config_error: ArcSwapOption<String>,
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
    /// Names a bare (un-namespaced) child tool must not take: the tools listed before the
    /// children's (see `crate::tools::Sources`). Set once, by [`Registry::start`].
    reserved: std::sync::OnceLock<Vec<String>>,
    pins: std::sync::Mutex<PinStore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// The children's (and this process's) resource use and its history.
    resources: resources::Resources,
    /// The file's config as read and the discovery sources' last good sets, whose merge is the
    /// config in force.
    discovered: std::sync::Mutex<discovered::Discovered>,
}

impl Registry {
    /// A registry for `config` whose tasks will run on `tracker` under `shutdown`. Nothing runs
    /// until [`Registry::start`]: the layers above are built on it first.
    pub fn new(config: Config, tracker: TaskTracker, shutdown: CancellationToken) -> Arc<Self> {
        for w in &config.warnings {
            tracing::warn!(warning = %w, "config warning");
        }
        let pin_file =
            (config.settings.pin_file.clone()).or_else(|| crate::paths::pin_file(&config.path));
        let config = Arc::new(config);
        Arc::new(Self {
            pins: std::sync::Mutex::new(PinStore::load(pin_file)),
            discovered: std::sync::Mutex::new(discovered::Discovered::new(config.clone())),
            config: Arc::new(ArcSwap::new(config)),
            children: ArcSwap::default(),
            hub: Hub::new(),
            surface: ArcSwap::default(),
            notify_holds: Holds::default(),
            config_error: ArcSwapOption::empty(),
            reload_lock: tokio::sync::Mutex::new(()),
            reserved: std::sync::OnceLock::new(),
            tracker,
            shutdown,
            resources: resources::Resources::default(),
        })
    }

    /// Starts every configured child (those with missing env or disabled are only recorded) and
    /// the task that keeps the surface current. `reserved` are the names a bare child tool must
    /// not take.
    pub fn start(self: &Arc<Self>, reserved: Vec<String>) {
        let _ = self.reserved.set(reserved);
        let config = self.config();
        let children = config
            .servers
            .iter()
            .map(|s| self.spawn_child(s.clone()))
            .collect();
        self.children.store(Arc::new(children));
        self.refresh_surface();
        self.tracker.spawn(surface_task(
            Arc::downgrade(self),
            self.hub.clone(),
            self.shutdown.clone(),
            self.surface().fingerprint,
        ));
        self.tracker.spawn(resources::sampler(
            Arc::downgrade(self),
            self.shutdown.clone(),
        ));
    }

    /// The children's resource use.
    pub fn resources(&self) -> &resources::Resources {
        &self.resources
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

    /// The config in force as it changes: for a layer that reads it per request without holding
    /// the registry.
    pub fn config_handle(&self) -> Arc<ArcSwap<Config>> {
        self.config.clone()
    }

    /// Installs a new config and child list (reload).
    pub(crate) fn install(&self, config: Config, children: Vec<ChildHandle>) {
        self.config.store(Arc::new(config));
        self.children.store(Arc::new(children));
    }

    /// The shared hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The shutdown tree's token: fires when the orchestrator stops.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The task tracker every task of the registry runs on (the shutdown tree's).
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
        let reserved: Vec<&str> = (self.reserved.get().into_iter().flatten())
            .map(String::as_str)
            .collect();
        let surface = Surface::build_with(
            statuses.iter().map(|(id, s, ns)| (id, s, *ns)),
            &reserved,
            &withheld,
        );
        let previous = self.surface.swap(Arc::new(surface));
        // Rebuilds happen on every state change; say each rename or collision once.
        for w in &self.surface.load().warnings {
            if !previous.warnings.contains(w) {
                tracing::warn!(warning = %w, "tool name changed for the host");
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

    /// The last reload's error, shown by `status` until a reload succeeds.
    pub fn config_error(&self) -> Option<String> {
        self.config_error.load_full().map(|e| (*e).clone())
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
        NotifyHold {
            registry: self.clone(),
        }
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

    /// Waits (together, at most `limit`) for the children that are on a start, so that a host's
    /// first look at the lists is complete. Children that come up later are announced with
    /// `list_changed` as usual.
    pub async fn wait_started(&self, limit: Duration) {
        let children = self.children();
        crate::join::join_all(children.iter().map(|c| c.wait_started(limit))).await;
    }

    /// Every server's line of the status report, in config order. Circuit states are the
    /// unified tools' to add.
    pub fn server_reports(&self) -> Vec<(String, ServerReport)> {
        // Pins are compared on rebuilds; a child that came up a moment ago is compared now.
        self.refresh_surface();
        let config = self.config();
        self.children()
            .iter()
            .map(|c| {
                let mut r = ServerReport::of(c);
                r.usage = self.resources.latest(c.id());
                r.tools_changed = self.changed_tools(c.id());
                r.tools_withheld = !r.tools_changed.is_empty()
                    && c.spec().pin_policy(&config.settings) == PinPolicy::Withhold;
                (c.id().to_string(), r)
            })
            .collect()
    }
}

/// Releases a notification hold and lets the surface task announce the net change.
pub(crate) struct NotifyHold {
    registry: Arc<Registry>,
}

impl Drop for NotifyHold {
    fn drop(&mut self) {
        self.registry.notify_holds.release();
        self.registry.hub.mark_surface_dirty();
    }
}

/// Rebuilds the surface after every burst of child changes and tells the host once per net
/// change of each list (compared with what the host was last told).
async fn surface_task(
    registry: std::sync::Weak<Registry>,
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
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let before = registry.notify_holds.mark();
        registry.refresh_surface();
        let now = registry.surface().fingerprint;
        let quiet = may_announce(before, registry.notify_holds.mark());
        drop(registry);
        if !quiet {
            continue;
        }
        if announced.tools != now.tools {
            tracing::debug!("tools changed; notifying hosts");
            hub.announce(Change::Tools).await;
        }
        if announced.prompts != now.prompts {
            hub.announce(Change::Prompts).await;
        }
        if announced.resources != now.resources {
            hub.announce(Change::Resources).await;
        }
        announced = now;
    }
}
