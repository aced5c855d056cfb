//! The composition root: the one place that builds every layer and names their concrete types,
//! and the owner of the shutdown tree (one [`CancellationToken`], one [`TaskTracker`]) that every
//! task hangs from.

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    alerts::Alerts,
    artifacts::Artifacts,
    config::{Config, watch::ConfigWatch},
    dispatch::{Caller, ToolCaller, child::ChildDispatcher},
    engine::{Definitions, Engine, Limits, clock::SystemClock},
    hub::Change,
    jobs::{self, Jobs},
    mcp::Services,
    registry::Registry,
    report::StatusReport,
    store::{Store, StoreError},
    tools::{
        HostTools, Router, Sources, ToolSource,
        children::Children,
        jobs::JobTools,
        own::{self, Admin, Own},
        unified::{Unified, UnifiedSource},
        workflows::{self, Workflows},
    },
};

/// A running orchestrator.
pub struct App {
    services: Arc<Services>,
    unified: Arc<Unified>,
    engine: Arc<Engine>,
    jobs: Arc<Jobs>,
    alerts: Arc<Alerts>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl App {
    /// Opens the store, builds the layers over `config`, starts the children and picks up the
    /// workflow runs a previous process left.
    pub async fn start(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&store_url(&config)).await?;
        tracing::info!(store = store.display_url(), backend = ?store.backend(), "store open");
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let unified = Arc::new(Unified::new(&config));
        let limits = Limits::of(&config.settings);
        let artifacts = Artifacts::new(
            store.clone(),
            config
                .jobs
                .artifacts_dir
                .clone()
                .unwrap_or_else(|| crate::paths::artifacts_dir(&config.path)),
        );
        let jobs_config = config.jobs.clone();
        let registry = Registry::new(config, tracker.clone(), shutdown.clone());
        let children = Arc::new(ChildDispatcher::new(registry.clone()));
        let router = Router::new(children.clone());
        let engine = Engine::new(
            store,
            router.clone(),
            Arc::new(SystemClock),
            limits,
            tracker.clone(),
            shutdown.clone(),
        );
        engine.set_artifacts(artifacts.clone());
        let jobs = Jobs::new(jobs::Parts {
            artifacts,
            caller: router.clone(),
            engine: engine.clone(),
            clock: Arc::new(SystemClock),
            config: jobs_config,
            lease_ttl: limits.lease_ttl,
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
        });
        let alerts = Arc::new(Alerts::default());
        let vendors: Arc<dyn ToolCaller> = children.clone();
        let has_workflows = {
            let engine = engine.clone();
            Arc::new(move || !engine.definitions().is_empty())
        };
        let list: Vec<Arc<dyn ToolSource>> = vec![
            Arc::new(Own::new(
                registry.clone(),
                unified.clone(),
                engine.clone(),
                jobs.clone(),
                alerts.clone(),
            )),
            Arc::new(Admin::new(registry.clone())),
            Arc::new(UnifiedSource::new(
                unified.clone(),
                registry.config_handle(),
                vendors,
            )),
            Arc::new(Workflows::new(engine.clone())),
            Arc::new(JobTools::new(jobs.clone(), has_workflows)),
            Arc::new(Children::new(registry.clone(), children.clone())),
        ];
        let sources = Sources::new(list);
        router.set_sources(sources.clone());
        jobs.set_tools(Arc::new(HostTools::new(sources.clone(), registry.clone())));
        let hub = registry.hub().clone();
        let notifier = tracker.clone();
        jobs.artifacts().set_on_change(Arc::new(move || {
            // Hosts re-list resources: every artifact is one.
            let hub = hub.clone();
            notifier.spawn(async move { hub.announce(Change::Resources).await });
        }));
        registry.start(sources.reserved());
        let status: crate::mcp::StatusSource = {
            let (registry, unified, engine, jobs, alerts) = (
                registry.clone(),
                unified.clone(),
                engine.clone(),
                jobs.clone(),
                alerts.clone(),
            );
            Arc::new(move || {
                let (registry, unified, engine, jobs, alerts) = (
                    registry.clone(),
                    unified.clone(),
                    engine.clone(),
                    jobs.clone(),
                    alerts.clone(),
                );
                Box::pin(async move {
                    own::full_status(&registry, &unified, &engine, &jobs, &alerts).await
                })
            })
        };
        if let Some(gauges) = crate::otel::gauges() {
            let (status, stop) = (status.clone(), shutdown.clone());
            tracker.spawn(async move {
                crate::transport::otlp::refresh(gauges, status, stop).await;
            });
        }
        alerts.start(
            registry.config_handle(),
            status.clone(),
            registry.hub().clone(),
            tracker.clone(),
            shutdown.clone(),
        );
        let app = Self {
            services: Arc::new(Services {
                registry,
                children,
                sources,
                jobs: jobs.clone(),
                status,
            }),
            unified,
            engine,
            jobs,
            alerts,
            tracker,
            shutdown,
        };
        reload_workflows(&app.services, &app.engine, false).await;
        app.engine.start();
        app.jobs.start();
        app.watch_workflows();
        Ok(app)
    }

    /// What host sessions serve from.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The children and their surface.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.services.registry
    }

    /// The status report, as `orchestrator_status` gives it.
    pub async fn status(&self) -> StatusReport {
        own::full_status(
            self.registry(),
            &self.unified,
            &self.engine,
            &self.jobs,
            &self.alerts,
        )
        .await
    }

    /// Reloads the workflows on edits of the dir and on config reloads.
    fn watch_workflows(&self) {
        let dir = self.registry().config().workflows_dir.clone();
        let mut watch = ConfigWatch::directory(&dir)
            .inspect_err(|e| {
                tracing::debug!(dir = %dir.display(), error = %e, "workflows dir not watched (create it and reload)");
            })
            .ok();
        let services = self.services.clone();
        let engine = self.engine.clone();
        let jobs = self.jobs.clone();
        let stop = self.shutdown.clone();
        let handle = self.registry().config_handle();
        self.tracker.spawn(async move {
            // A config reload swaps the config: its servers are what steps are checked against.
            let mut seen = handle.load_full();
            let mut poll = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    Some(()) = next(&mut watch) => {}
                    _ = poll.tick() => {
                        let now = handle.load_full();
                        if Arc::ptr_eq(&now, &seen) {
                            continue;
                        }
                        jobs.set_config(now.jobs.clone());
                        seen = now;
                    }
                }
                reload_workflows(&services, &engine, true).await;
            }
        });
    }

    /// Stops every child (concurrently) and every task; returns when all are gone or after a
    /// bound long enough for the stop sequence (stdin close, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let grace = self.registry().config().settings.shutdown_grace;
        let bound = grace * 3 + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                bound_s = bound.as_secs_f64(),
                "some tasks did not stop within the bound"
            );
        }
        self.engine.store().close().await;
    }
}

/// The store a config names (`orchestrator.store`), or its default SQLite file.
pub fn store_url(config: &Config) -> String {
    match &config.settings.store {
        Some(url) => url.expose().to_owned(),
        None => crate::paths::store_url(&config.path),
    }
}

/// Loads the workflows dir again; with `live`, steps are checked against the running servers'
/// tools too. A file that no longer validates is reported and its previous definition stays
/// loaded (runs are pinned to theirs anyway), the config's rule. Hosts are told when the
/// `workflow__*` tools changed.
async fn reload_workflows(services: &Services, engine: &Engine, live: bool) {
    let config = services.registry.config();
    let live = live.then(|| {
        let names = services
            .sources
            .tools(Caller::Host)
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        workflows::Live::of(&services.children.catalog(), names)
    });
    let mut loaded = workflows::load(&config, live.as_ref());
    let previous = engine.definitions();
    // A broken file keeps its previous definition, as a broken config keeps the previous config.
    for e in &loaded.errors {
        if let Some(old) = previous.iter().find(|d| d.file == e.file)
            && !loaded.definitions.iter().any(|d| d.name == old.name)
        {
            loaded.definitions.push((**old).clone());
        }
    }
    for e in &loaded.errors {
        tracing::warn!(error = %e, "workflow file not loaded");
    }
    let changed = previous
        .iter()
        .map(|d| &d.sha256)
        .ne(loaded.definitions.iter().map(|d| &d.sha256));
    engine.set_definitions(Definitions::new(loaded));
    if changed {
        services.registry.hub().announce(Change::Tools).await;
    }
}

async fn next(watch: &mut Option<ConfigWatch>) -> Option<()> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}
