//! The workflow engine: runs definitions' steps through the [`ToolCaller`] seam, keeps every
//! state change in the [`Store`], and picks runs back up after a crash.
//!
//! - [`schedule`]: the strategies, pure;
//! - [`driver`]: one task per run: readiness, conditions, failure, cancel, pause, the deadline;
//! - [`step`]: one step's attempts (templating, the call, retries with backoff);
//! - [`saga`]: compensation of completed steps in reverse completion order;
//! - [`log`]: events as log lines;
//! - [`recover`]: what a claimed run's stored steps mean after a restart;
//! - [`claim`]: the maintenance loop: claiming runs, renewing leases, relaying requests;
//! - [`submit`]: storing a new run (with or without an engine);
//! - [`definitions`]: the loaded definitions;
//! - [`owner`]: who holds a lease, and whether that process is gone;
//! - [`clock`]: wall-clock time for timestamps and leases, injectable.
//!
//! A run is driven by whichever worker holds its lease (one per process; several replicas share
//! one PostgreSQL). Every write is fenced by the lease, so a worker whose lease moved can no
//! longer change the run.

mod claim;
pub mod clock;
mod definitions;
mod driver;
mod log;
mod owner;
mod recover;
mod saga;
pub mod schedule;
mod step;
mod submit;
#[cfg(test)]
mod tests;

pub use definitions::Definitions;
pub use owner::Owner;
pub use step::step_result;
pub use submit::enqueue;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use arc_swap::ArcSwap;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    artifacts::Artifacts,
    config::{ResourceLimits, Settings},
    dispatch::ToolCaller,
    hub::ProgressSink,
    report::{DefinitionEntry, EventReport, RunReport, RunStatus, WorkflowsReport},
    shutdown::Drain,
    store::{Request, Store, StoreError},
    workflow::Definition,
};
use clock::Clock;
use submit::{check_input, create_run, stored};

/// What can go wrong when asking the engine for something.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No loaded definition has this name.
    #[error("unknown workflow `{0}`; `workflow list` shows the loaded ones")]
    UnknownWorkflow(String),
    /// No run has this id.
    #[error("unknown run `{0}`")]
    UnknownRun(String),
    /// The input does not satisfy the definition's `input` schema.
    #[error("invalid input for workflow `{workflow}`: {message}")]
    InvalidInput {
        /// The workflow.
        workflow: String,
        /// What is wrong.
        message: String,
    },
    /// The run has ended; it cannot be paused, resumed or cancelled.
    #[error("run `{run}` has already ended ({status})")]
    Ended {
        /// The run.
        run: String,
        /// Its end state.
        status: RunStatus,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The limits the engine runs under, from the `orchestrator` settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Runs driven at once.
    pub max_runs: usize,
    /// Steps running at once, across runs.
    pub max_steps: usize,
    /// The budget of `resource_aware` steps.
    pub resources: ResourceLimits,
    /// How long a lease lasts without renewal.
    pub lease_ttl: Duration,
}

impl Limits {
    /// The limits of these settings.
    pub fn of(settings: &Settings) -> Self {
        Self {
            max_runs: settings.max_concurrent_workflows,
            max_steps: settings.max_concurrent_steps,
            resources: settings.resources,
            lease_ttl: settings.lease_ttl,
        }
    }
}

/// Options of one submission.
#[derive(Clone, Default)]
pub struct Submit {
    /// Higher runs are picked first when more wait than `max_concurrent_workflows` allows.
    pub priority: i64,
    /// Where per-step progress goes (a host's `workflow__*` call with a progress token).
    pub progress: Option<ProgressSink>,
    /// The run's id, when the caller has one already (a workflow job's run is the job's id).
    pub id: Option<String>,
}

/// How often a waiter re-reads a run that no driver here signals (another replica drives it).
const REMOTE_POLL: Duration = Duration::from_millis(500);

/// A run this process drives.
struct Active {
    controls: mpsc::UnboundedSender<Request>,
    lease: crate::store::Lease,
}

/// The engine. Shared: the workflow tools, the control socket and the maintenance task hold it.
pub struct Engine {
    store: Store,
    caller: Arc<dyn ToolCaller>,
    clock: Arc<dyn Clock>,
    owner: Owner,
    limits: Limits,
    defs: ArcSwap<Definitions>,
    /// Step slots across runs (`max_concurrent_steps`).
    steps: Arc<Semaphore>,
    /// Run slots (`max_concurrent_workflows`).
    runs: Arc<Semaphore>,
    active: Mutex<HashMap<String, Active>>,
    /// Per run being waited for: turns true when its driver here stops.
    ends: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// Progress sinks of runs submitted here, until their driver takes them.
    progress: Mutex<HashMap<String, ProgressSink>>,
    /// Definitions already written to the store (insert-if-absent costs a round trip).
    stored: Mutex<HashSet<String>>,
    /// Lease holders found dead at the last look, whose runs may be taken at once.
    dead: Mutex<Vec<String>>,
    /// Where `$artifacts.<id>` references resolve and steps' resources are registered.
    artifacts: std::sync::OnceLock<Artifacts>,
    pump: Notify,
    tracker: TaskTracker,
    /// Cancelled when the drain is over: steps still running are abandoned, leases handed back.
    shutdown: CancellationToken,
    /// Started first: nothing new is claimed or started, running steps may finish.
    drain: Drain,
}

impl Engine {
    /// An engine over `store`, calling tools through `caller`. Nothing runs until
    /// [`Engine::start`]. `drain` should hang below `shutdown` (a stop is a drain too).
    pub fn new(
        store: Store,
        caller: Arc<dyn ToolCaller>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        tracker: TaskTracker,
        shutdown: CancellationToken,
        drain: Drain,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            caller,
            owner: Owner::this_process(clock.now_ms()),
            clock,
            limits,
            defs: ArcSwap::default(),
            steps: Arc::new(Semaphore::new(limits.max_steps)),
            runs: Arc::new(Semaphore::new(limits.max_runs)),
            active: Mutex::default(),
            ends: Mutex::default(),
            progress: Mutex::default(),
            stored: Mutex::default(),
            dead: Mutex::default(),
            artifacts: std::sync::OnceLock::new(),
            pump: Notify::new(),
            tracker,
            shutdown,
            drain,
        })
    }

    /// Starts the background work: claiming runs (the ones a crash left, and new ones as slots
    /// free up), renewing leases, and relaying control requests made through the store.
    pub fn start(self: &Arc<Self>) {
        let engine = self.clone();
        self.tracker.spawn(async move { engine.maintain().await });
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Sets the artifact registry: run inputs' `artifact://<id>` strings and steps'
    /// `$artifacts.<id>` references resolve to descriptors, and resources in steps' results are
    /// registered as artifacts of the step.
    pub fn set_artifacts(&self, artifacts: Artifacts) {
        let _ = self.artifacts.set(artifacts);
    }

    /// This process as a lease owner.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The loaded definitions.
    pub fn definitions(&self) -> Arc<Definitions> {
        self.defs.load_full()
    }

    /// The step graph of a run's pinned definition: each step with the steps it depends on, in
    /// definition order (what the dashboard draws). `None` when the definition is gone.
    pub async fn graph(&self, workflow: &str, sha: &str) -> Option<Vec<(String, Vec<String>)>> {
        let def = driver::definition(self, workflow, sha).await.ok()?;
        Some(
            def.steps
                .iter()
                .map(|s| {
                    let deps = s.depends_on.iter();
                    let deps = deps.map(|d| def.steps[*d].name.clone()).collect();
                    (s.name.clone(), deps)
                })
                .collect(),
        )
    }

    /// Replaces the loaded definitions (a reload of the workflows dir). Runs already started
    /// keep the definition they are pinned to.
    pub fn set_definitions(&self, defs: Definitions) {
        self.defs.store(Arc::new(defs));
    }

    /// Stores a new run of `name` and returns its id; a worker (this one, when a slot is free)
    /// picks it up.
    pub async fn submit(
        self: &Arc<Self>,
        name: &str,
        input: Value,
        options: Submit,
    ) -> Result<String, EngineError> {
        let defs = self.definitions();
        let def = defs
            .get(name)
            .ok_or_else(|| EngineError::UnknownWorkflow(name.to_owned()))?
            .clone();
        check_input(&def, &input)?;
        let mut input = input;
        if let Some(a) = self.artifacts.get() {
            a.resolve(&mut input)
                .await
                .map_err(|e| EngineError::InvalidInput {
                    workflow: name.to_owned(),
                    message: e.to_string(),
                })?;
        }
        self.store_definition(&def).await?;
        // A free run slot: the run is stored already claimed and driven at once, rather than on
        // the maintenance loop's next turn. A draining process drives nothing new: the run is
        // stored free, for another replica (or the next start) to claim.
        let permit = if self.drain.is_draining() {
            None
        } else {
            self.runs.clone().try_acquire_owned().ok()
        };
        let now = self.clock.now_ms();
        let until = now + ms(self.limits.lease_ttl);
        let claim = permit.as_ref().map(|_| (self.owner.id(), until));
        let (id, lease) = create_run(
            &self.store,
            options.id,
            &def,
            &input,
            options.priority,
            now,
            claim,
        )
        .await?;
        if let Some(p) = options.progress {
            // The run id first: a host that gives up early can still cancel or look the run up.
            p.report(
                0.0,
                Some(def.steps.len() as f64),
                format!("run {id} started"),
            )
            .await;
            self.progress
                .lock()
                .expect("poisoned")
                .insert(id.clone(), p);
        }
        if let (Some(lease), Some(permit)) = (lease, permit) {
            self.drive(lease, permit);
            return Ok(id);
        }
        self.pump.notify_one();
        Ok(id)
    }

    async fn store_definition(&self, def: &Definition) -> Result<(), StoreError> {
        if self.stored.lock().expect("poisoned").contains(&def.sha256) {
            return Ok(());
        }
        self.store.put_definition(&stored(def)).await?;
        self.stored
            .lock()
            .expect("poisoned")
            .insert(def.sha256.clone());
        Ok(())
    }

    /// Waits until the run has ended (or `cancel` fires) and returns its report.
    pub async fn wait(
        &self,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Result<RunReport, EngineError> {
        let mut first = true;
        loop {
            // Subscribe before reading, so an end between the two is not missed.
            let mut ended = self.subscribe_end(run_id);
            // A run being driven here has not ended (its driver leaves `active` only after its
            // last write, then signals): the first look at the store can wait for that signal.
            let driven_here = self.active.lock().expect("poisoned").contains_key(run_id);
            if std::mem::take(&mut first) && driven_here {
                tokio::select! {
                    _ = ended.wait_for(|e| *e) => {}
                    () = cancel.cancelled() => {}
                }
                continue;
            }
            let report = self
                .store
                .report(run_id)
                .await?
                .ok_or_else(|| EngineError::UnknownRun(run_id.to_owned()))?;
            if report.status.is_terminal() {
                // A run another replica drove never handed its progress sink to a driver here.
                self.progress.lock().expect("poisoned").remove(run_id);
                self.ends.lock().expect("poisoned").remove(run_id);
                return Ok(report);
            }
            // Woken when a driver here ends the run; a run another replica drives is polled.
            tokio::select! {
                _ = ended.wait_for(|e| *e) => {}
                () = tokio::time::sleep(REMOTE_POLL) => {}
                () = cancel.cancelled() => return Ok(report),
            }
        }
    }

    /// A receiver that turns true when a driver here stops driving `run_id`.
    fn subscribe_end(&self, run_id: &str) -> watch::Receiver<bool> {
        self.ends
            .lock()
            .expect("poisoned")
            .entry(run_id.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe()
    }

    /// Tells the waiters of `run_id` that its driver here stopped.
    fn signal_end(&self, run_id: &str) {
        if let Some(tx) = self.ends.lock().expect("poisoned").remove(run_id) {
            let _ = tx.send(true);
        }
    }

    /// Pauses, resumes or cancels a run, wherever it is driven: directly when here, through the
    /// store otherwise (the holder of its lease relays it). Returns the run's state as it was.
    pub async fn control(&self, run_id: &str, request: Request) -> Result<RunStatus, EngineError> {
        let status = self
            .store
            .request(run_id, request)
            .await?
            .ok_or_else(|| EngineError::UnknownRun(run_id.to_owned()))?;
        if status.is_terminal() {
            return Err(EngineError::Ended {
                run: run_id.to_owned(),
                status,
            });
        }
        if let Some(a) = self.active.lock().expect("poisoned").get(run_id) {
            let _ = a.controls.send(request);
        }
        Ok(status)
    }

    /// One run's report.
    pub async fn report(&self, run_id: &str) -> Result<RunReport, EngineError> {
        self.store
            .report(run_id)
            .await?
            .ok_or_else(|| EngineError::UnknownRun(run_id.to_owned()))
    }

    /// One run's events.
    pub async fn events(&self, run_id: &str) -> Result<Vec<EventReport>, EngineError> {
        Ok(self.store.events(run_id, 0).await?)
    }

    /// The `workflows` section of the status report.
    pub async fn status(&self) -> WorkflowsReport {
        let defs = self.definitions();
        let mut report = WorkflowsReport {
            definitions: defs
                .iter()
                .map(|d| DefinitionEntry {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    sha256: d.sha256.clone(),
                    file: d.file.display().to_string(),
                    steps: d.steps.len(),
                })
                .collect(),
            errors: defs.errors().to_vec(),
            store: self.store.display_url().to_owned(),
            store_bytes: self.store.size_bytes().await.ok(),
            ..WorkflowsReport::default()
        };
        match self.store.stats(5).await {
            Ok(stats) => {
                report.active_runs = stats.active;
                report.totals = stats.totals;
                report.average_duration_ms = stats.average_duration_ms;
                report.last_failures = stats.last_failures;
            }
            Err(e) => report.errors.push(format!("store: {e}")),
        }
        report
    }
}

/// A duration in the store's unit.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
