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
    shutdown::Drain,
    store::{Released, Store, StoreError},
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
    /// Below `shutdown`: the engine's and the jobs pool's work, cancelled when the drain ends so
    /// that leases are handed back before the children stop.
    work: CancellationToken,
    /// Below `work`: started first, on SIGTERM.
    drain: Drain,
}

impl App {
    /// Opens the store, builds the layers over `config`, starts the children and picks up the
    /// workflow runs a previous process left.
    pub async fn start(config: Config) -> Result<Self, StoreError> {
        let store = Store::open(&store_url(&config)).await?;
        tracing::info!(store = store.display_url(), backend = ?store.backend(), "store open");
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let work = shutdown.child_token();
        let drain = Drain::under(&work);
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
            work.clone(),
            drain.clone(),
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
            shutdown: work.clone(),
            drain: drain.clone(),
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
        crate::discovery::start(&registry);
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
            work,
            drain,
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

    /// Whether the process is draining; host transports refuse new requests while it is.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }

    /// The first phase of a graceful stop (SIGTERM): takes no new work (readiness turns 503, new
    /// MCP requests are refused, nothing is claimed) and waits until the requests, runs and jobs
    /// in flight have ended or `orchestrator.drain_timeout` has passed. Runs whose running steps
    /// have all ended are handed back during the drain already. [`App::shutdown`] follows.
    pub async fn drain_in_flight(&self) {
        self.drain.begin();
        let limit = self.registry().config().settings.drain_timeout;
        let (requests, leased) = self.drain.in_flight();
        tracing::info!(
            requests,
            runs_and_jobs = leased,
            drain_timeout_s = limit.as_secs_f64(),
            "draining: readiness is 503, new requests are refused"
        );
        let began = tokio::time::Instant::now();
        if tokio::time::timeout(limit, self.drain.settled())
            .await
            .is_ok()
        {
            let ms = began.elapsed().as_millis() as u64;
            tracing::info!(ms, "drained: nothing in flight");
        } else {
            let (requests, leased) = self.drain.in_flight();
            tracing::warn!(
                requests,
                runs_and_jobs = leased,
                "drain_timeout passed with work in flight; it is abandoned and its leases handed back"
            );
        }
    }

    /// Hands back the leases of the runs and jobs still held here: their tasks cancel what still
    /// runs and release their own leases; a last sweep by owner releases whatever a task could
    /// not (bounded, as the store may be what failed). A step left `running` is judged by the next
    /// holder as after a crash: repeated only if safe to repeat.
    async fn hand_back_leases(&self) {
        // The drivers' own bound for cancelled steps to come back is 2 s (engine/driver.rs).
        const BOUND: Duration = Duration::from_secs(3);
        self.work.cancel();
        if tokio::time::timeout(BOUND, self.drain.leased_settled())
            .await
            .is_err()
        {
            tracing::warn!("some runs or jobs did not stop in time; their leases are swept");
        }
        let owner = self.engine.owner().id();
        match tokio::time::timeout(BOUND, self.engine.store().release_owner(owner)).await {
            Ok(Ok(released)) if released == Released::default() => {}
            Ok(Ok(released)) => {
                tracing::info!(
                    runs = released.runs,
                    jobs = released.jobs,
                    "leases handed back by the final sweep"
                );
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "leases not handed back; they expire"),
            Err(_) => tracing::warn!("the store did not answer; leases expire instead"),
        }
    }

    /// Stops taking work, hands back the leases of runs and jobs still held (see
    /// [`App::drain_in_flight`] for the graceful first phase), then stops every child
    /// (concurrently) and every task; returns when all are gone or after a bound long enough for
    /// the stop sequence (stdin close, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        self.drain.begin();
        self.hand_back_leases().await;
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
