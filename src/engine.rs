//! The workflow engine: runs definitions' steps through the [`ToolCaller`] seam, keeps every
//! state change in the [`Store`], and picks runs back up after a crash.
//!
//! - [`schedule`]: the strategies, pure;
//! - [`driver`]: one task per run: readiness, conditions, failure, cancel, pause, the deadline;
//! - [`step`]: one step's attempts (templating, the call, retries with backoff);
//! - [`saga`]: compensation of completed steps in reverse completion order;
//! - [`log`]: events as log lines;
//! - [`recover`]: what a claimed run's stored steps mean after a restart;
//! - [`owner`]: who holds a lease, and whether that process is gone;
//! - [`clock`]: wall-clock time for timestamps and leases, injectable.
//!
//! A run is driven by whichever worker holds its lease (one per process; several replicas share
//! one PostgreSQL). Every write is fenced by the lease, so a worker whose lease moved can no
//! longer change the run.

pub mod clock;
mod driver;
mod log;
mod owner;
mod recover;
mod saga;
pub mod schedule;
mod step;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use arc_swap::ArcSwap;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::{ResourceLimits, Settings},
    dispatch::ToolCaller,
    hub::ProgressSink,
    report::{DefinitionEntry, EventReport, RunReport, RunStatus, WorkflowsReport},
    store::{NewDefinition, NewRun, Request, Store, StoreError},
    workflow::{Definition, Loaded},
};
use clock::Clock;
use owner::Owner;

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
}

/// The loaded definitions.
#[derive(Default)]
pub struct Definitions {
    by_name: BTreeMap<String, Arc<Definition>>,
    errors: Vec<String>,
}

impl Definitions {
    /// From a load of the workflows dir.
    pub fn new(loaded: Loaded) -> Self {
        Self {
            by_name: loaded
                .definitions
                .into_iter()
                .map(|d| (d.name.clone(), Arc::new(d)))
                .collect(),
            errors: loaded.errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The definition called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Definition>> {
        self.by_name.get(name)
    }

    /// Every definition, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.by_name.values()
    }

    /// Files that did not validate, as `file: key: message`.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A run this process drives.
struct Active {
    controls: mpsc::UnboundedSender<Request>,
    done: watch::Receiver<bool>,
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
    /// Progress sinks of runs submitted here, until their driver takes them.
    progress: Mutex<HashMap<String, ProgressSink>>,
    /// Definitions already written to the store (insert-if-absent costs a round trip).
    stored: Mutex<HashSet<String>>,
    /// Lease holders found dead at the last look, whose runs may be taken at once.
    dead: Mutex<Vec<String>>,
    pump: Notify,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Engine {
    /// An engine over `store`, calling tools through `caller`. Nothing runs until
    /// [`Engine::start`].
    pub fn new(
        store: Store,
        caller: Arc<dyn ToolCaller>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        tracker: TaskTracker,
        shutdown: CancellationToken,
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
            progress: Mutex::default(),
            stored: Mutex::default(),
            dead: Mutex::default(),
            pump: Notify::new(),
            tracker,
            shutdown,
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

    /// The loaded definitions.
    pub fn definitions(&self) -> Arc<Definitions> {
        self.defs.load_full()
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
        self.store_definition(&def).await?;
        let id = create_run(
            &self.store,
            &def,
            &input,
            options.priority,
            self.clock.now_ms(),
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
        self.pump.notify_one();
        Ok(id)
    }

    async fn store_definition(&self, def: &Definition) -> Result<(), StoreError> {
        if self.stored.lock().expect("poisoned").contains(&def.sha256) {
            return Ok(());
        }
        self.store
            .put_definition(&NewDefinition {
                sha256: &def.sha256,
                name: &def.name,
                version: &def.version,
                body: &def.body,
            })
            .await?;
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
        loop {
            let done = self
                .active
                .lock()
                .expect("poisoned")
                .get(run_id)
                .map(|a| a.done.clone());
            let report = self
                .store
                .report(run_id)
                .await?
                .ok_or_else(|| EngineError::UnknownRun(run_id.to_owned()))?;
            if report.status.is_terminal() {
                return Ok(report);
            }
            match done {
                // Driven here: wake on its end.
                Some(mut done) => {
                    tokio::select! {
                        _ = done.wait_for(|d| *d) => {}
                        () = cancel.cancelled() => return Ok(report),
                    }
                }
                // Pending, or driven by another replica: poll the store.
                None => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        () = cancel.cancelled() => return Ok(report),
                    }
                }
            }
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

    /// The maintenance loop: claim, renew, relay. Runs until shutdown.
    async fn maintain(self: Arc<Self>) {
        let tick =
            (self.limits.lease_ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut renew = tokio::time::interval(tick);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = renew.tick() => {
                    self.find_dead_owners().await;
                    self.renew_leases().await;
                    self.relay_requests().await;
                }
                () = self.pump.notified() => {}
            }
            self.claim_runs().await;
        }
    }

    async fn find_dead_owners(&self) {
        match self.store.lease_owners().await {
            Ok(owners) => {
                let dead = owners
                    .into_iter()
                    .filter(|o| self.owner.is_dead(o))
                    .collect();
                *self.dead.lock().expect("poisoned") = dead;
            }
            Err(e) => tracing::warn!(error = %e, "could not read the store's lease holders"),
        }
    }

    async fn renew_leases(&self) {
        let leases: Vec<_> = self
            .active
            .lock()
            .expect("poisoned")
            .values()
            .map(|a| a.lease.clone())
            .collect();
        let ttl = ms(self.limits.lease_ttl);
        for lease in leases {
            if let Err(e) = self.store.renew(&lease, self.clock.now_ms(), ttl).await {
                // A lease that moved is the driver's to notice at its next write; it stops then.
                tracing::warn!(run = %lease.run_id, error = %e, "lease not renewed");
            }
        }
    }

    async fn relay_requests(&self) {
        match self.store.requests(self.owner.id()).await {
            Ok(requests) => {
                let active = self.active.lock().expect("poisoned");
                for (run, request) in requests {
                    if let Some(a) = active.get(&run) {
                        let _ = a.controls.send(request);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read control requests"),
        }
    }

    /// Claims waiting runs while run slots are free, highest priority first.
    async fn claim_runs(self: &Arc<Self>) {
        loop {
            let free = self.runs.available_permits();
            if free == 0 || self.shutdown.is_cancelled() {
                return;
            }
            let dead = self.dead.lock().expect("poisoned").clone();
            let now = self.clock.now_ms();
            let ids = match self
                .store
                .claimable(now, &dead, u32::try_from(free).unwrap_or(u32::MAX))
                .await
            {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for runs to claim");
                    return;
                }
            };
            let mut started = 0;
            for id in ids {
                if self.active.lock().expect("poisoned").contains_key(&id) {
                    continue;
                }
                let Ok(permit) = self.runs.clone().try_acquire_owned() else {
                    return;
                };
                let lease = match self
                    .store
                    .claim(&id, self.owner.id(), now, ms(self.limits.lease_ttl), &dead)
                    .await
                {
                    Ok(Some(lease)) => lease,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(run = %id, error = %e, "could not claim run");
                        continue;
                    }
                };
                started += 1;
                self.drive(lease, permit);
            }
            if started == 0 {
                return;
            }
        }
    }

    /// Starts the task that drives a claimed run.
    fn drive(
        self: &Arc<Self>,
        lease: crate::store::Lease,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let (controls, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = watch::channel(false);
        let run_id = lease.run_id.clone();
        self.active.lock().expect("poisoned").insert(
            run_id.clone(),
            Active {
                controls,
                done,
                lease: lease.clone(),
            },
        );
        let progress = self.progress.lock().expect("poisoned").remove(&run_id);
        let engine = self.clone();
        self.tracker.spawn(async move {
            let outcome = driver::drive(engine.clone(), lease.clone(), rx, progress).await;
            if let Err(e) = &outcome {
                tracing::warn!(target: "mcp_orchestrator::workflow", run = %run_id, error = %e, "run left to another worker");
            }
            // Free the lease so a restart or another replica picks the run up at once.
            if let Err(e) = engine.store.release(&lease).await
                && !matches!(e, StoreError::StaleLease { .. })
            {
                tracing::debug!(run = %run_id, error = %e, "lease not released");
            }
            engine.active.lock().expect("poisoned").remove(&run_id);
            let _ = done_tx.send(true);
            drop(permit);
            engine.pump.notify_one();
        });
    }
}

/// Stores a run of `def` for a later worker, without an engine: `workflow run --detach` when no
/// instance runs. The next `serve` on the store picks it up.
pub async fn enqueue(
    store: &Store,
    def: &Definition,
    input: &Value,
    priority: i64,
    now: i64,
) -> Result<String, EngineError> {
    check_input(def, input)?;
    store
        .put_definition(&NewDefinition {
            sha256: &def.sha256,
            name: &def.name,
            version: &def.version,
            body: &def.body,
        })
        .await?;
    create_run(store, def, input, priority, now).await
}

async fn create_run(
    store: &Store,
    def: &Definition,
    input: &Value,
    priority: i64,
    now: i64,
) -> Result<String, EngineError> {
    let id = uuid::Uuid::new_v4().to_string();
    let steps: Vec<&str> = def.steps.iter().map(|s| s.name.as_str()).collect();
    store
        .create_run(&NewRun {
            id: &id,
            workflow: &def.name,
            definition_sha: &def.sha256,
            input,
            priority,
            deadline_at: def.timeout.map(|t| now + ms(t)),
            steps: &steps,
            now,
        })
        .await?;
    Ok(id)
}

/// Checks what the `input` schema's `type: object` and `required` demand; the child validates
/// the rest when it is called.
fn check_input(def: &Definition, input: &Value) -> Result<(), EngineError> {
    let Some(schema) = &def.input_schema else {
        return Ok(());
    };
    let invalid = |message: String| EngineError::InvalidInput {
        workflow: def.name.clone(),
        message,
    };
    let Some(object) = input.as_object() else {
        return Err(invalid("the input must be a JSON object".into()));
    };
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let missing: Vec<&str> = required.filter(|k| !object.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(invalid(format!("missing {}", missing.join(", "))));
    }
    Ok(())
}

/// A duration in the store's unit.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
