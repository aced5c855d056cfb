//! One task per run: starts each step as soon as its dependencies are done (within the
//! strategy, the run's slots and the global step limit), skips what its condition or its skipped
//! dependencies rule out, and ends the run: completed with its output, or failed or cancelled
//! with its completed steps compensated. Pause, resume and cancel arrive on a channel; the
//! workflow's deadline is a timer.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use rmcp::model::JsonObject;
use serde_json::{Value, json};
use tokio::{
    sync::{OwnedSemaphorePermit, mpsc},
    task::JoinSet,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    Engine,
    log::log_event,
    schedule::{self, AdaptiveWidth, Bounds, Slot},
    step::{self, CallFailure, Called},
};
use crate::{
    hub::ProgressSink,
    report::{EventKind, RunStatus, StepStatus},
    store::{Lease, Request, RunUpdate, StepUpdate, StoreError},
    workflow::{Definition, Scope, Template},
};

/// Why a driver stopped without ending its run: the run is left for another worker.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Another worker holds the run now.
    #[error("its lease moved to another worker")]
    Lease,
    /// The orchestrator is shutting down.
    #[error("the orchestrator is shutting down")]
    Shutdown,
    /// The store failed.
    #[error("store: {0}")]
    Store(StoreError),
    /// The run's definition cannot be read back.
    #[error("{0}")]
    Definition(String),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StaleLease { .. } => Self::Lease,
            e => Self::Store(e),
        }
    }
}

/// How a run that will not complete ends.
#[derive(Debug, Clone)]
pub(super) enum Ending {
    /// A step failed (or could not be repeated, or the deadline passed).
    Failure(String),
    /// A caller cancelled it.
    Cancel,
}

/// Artifact id → descriptor, as templates render `$artifacts.<id>`.
type ArtifactLookup = dyn Fn(&str) -> Option<Value> + Send + Sync;

/// What a step task hands back.
type Joined = (usize, Result<Called, CallFailure>, u32, Duration);

/// A run being driven.
pub(super) struct Driver {
    pub(super) engine: Arc<Engine>,
    pub(super) lease: Lease,
    pub(super) def: Arc<Definition>,
    pub(super) input: Value,
    pub(super) status: Vec<StepStatus>,
    pub(super) attempts: Vec<u32>,
    pub(super) results: BTreeMap<String, Value>,
    /// Which server answered each completed step (where its compensation runs).
    pub(super) servers: Vec<Option<Arc<str>>>,
    /// Completed steps, in completion order.
    pub(super) completed: Vec<usize>,
    running: HashMap<usize, CancellationToken>,
    tasks: JoinSet<Joined>,
    pub(super) paused: bool,
    pub(super) ending: Option<Ending>,
    controls: mpsc::UnboundedReceiver<Request>,
    progress: Option<ProgressSink>,
    pub(super) deadline: Option<Instant>,
    adaptive: AdaptiveWidth,
    /// The descriptors of the artifacts the steps reference (`$artifacts.<id>`), read at start.
    artifacts: Arc<ArtifactLookup>,
    /// A step slot acquired while waiting, used by the next start.
    spare: Option<OwnedSemaphorePermit>,
    /// Ready steps wait for slots held by other runs.
    blocked: bool,
    started: Instant,
}

/// Drives the run `lease` holds until it ends or the driver has to stop.
pub(super) async fn drive(
    engine: Arc<Engine>,
    lease: Lease,
    controls: mpsc::UnboundedReceiver<Request>,
    progress: Option<ProgressSink>,
) -> Result<RunStatus, Stop> {
    let run = engine
        .store
        .run(&lease.run_id)
        .await?
        .ok_or_else(|| Stop::Definition(format!("run {} vanished", lease.run_id)))?;
    let def = definition(&engine, &run.workflow, &run.definition_sha).await?;
    let n = def.steps.len();
    let mut driver = Driver {
        adaptive: AdaptiveWidth::new(engine.limits.max_steps),
        engine,
        lease,
        input: run.input.clone(),
        status: vec![StepStatus::Pending; n],
        attempts: vec![0; n],
        results: BTreeMap::new(),
        servers: vec![None; n],
        completed: Vec::new(),
        running: HashMap::new(),
        tasks: JoinSet::new(),
        paused: false,
        ending: None,
        controls,
        progress,
        deadline: None,
        artifacts: Arc::new(|_| None),
        spare: None,
        blocked: false,
        started: Instant::now(),
        def,
    };
    driver.load_artifacts().await;
    driver.recover(&run).await?;
    driver.run().await
}

/// The definition a run is pinned to: the loaded one when its sha matches, else the stored body.
pub(super) async fn definition(
    engine: &Engine,
    name: &str,
    sha: &str,
) -> Result<Arc<Definition>, Stop> {
    if let Some(def) = engine.definitions().get(name)
        && def.sha256 == sha
    {
        return Ok(def.clone());
    }
    let stored = engine.store.definition(sha).await?.ok_or_else(|| {
        Stop::Definition(format!("definition {sha} of `{name}` is not in the store"))
    })?;
    crate::workflow::parse_stored(sha, &stored.body)
        .map(Arc::new)
        .map_err(|e| Stop::Definition(e.to_string()))
}

impl Driver {
    /// Reads the artifacts the steps reference. One that does not exist renders as null and the
    /// step's tool sees that; the reference is logged so the operator can tell why.
    async fn load_artifacts(&mut self) {
        let Some(registry) = self.engine.artifacts.get() else {
            return;
        };
        let ids: std::collections::BTreeSet<String> = self
            .def
            .steps
            .iter()
            .flat_map(|s| s.params.artifacts_referenced())
            .collect();
        let mut found = BTreeMap::new();
        for id in ids {
            match registry.get(&id).await {
                Ok(a) => {
                    found.insert(id, serde_json::to_value(a).unwrap_or(Value::Null));
                }
                Err(e) => {
                    tracing::warn!(run = %self.lease.run_id, artifact = %id, error = %e, "a referenced artifact is not available");
                }
            }
        }
        if !found.is_empty() {
            self.artifacts = Arc::new(move |id| found.get(id).cloned());
        }
    }

    /// Registers the resources a completed step's result carried as artifacts of the step, made
    /// from the artifacts the step referenced.
    async fn register_step_artifacts(&self, i: usize, resources: Vec<rmcp::model::ContentBlock>) {
        let Some(registry) = self.engine.artifacts.get() else {
            return;
        };
        if resources.is_empty() {
            return;
        }
        let step = &self.def.steps[i];
        let mut dependencies: Vec<String> =
            step.params.artifacts_referenced().into_iter().collect();
        if let Some(inputs) = self.input.as_object() {
            // Descriptors resolved into the run's input at submission.
            for v in inputs.values() {
                if let Some(id) = v.get("id").and_then(Value::as_str)
                    && v.get("storage_location").is_some()
                    && !dependencies.iter().any(|d| d == id)
                {
                    dependencies.push(id.to_owned());
                }
            }
        }
        let provenance = crate::artifacts::NewArtifact {
            run_id: Some(self.lease.run_id.clone()),
            step: Some(step.name.clone()),
            dependencies,
            ..Default::default()
        };
        let result = rmcp::model::CallToolResult::success(resources);
        let now = self.engine.clock.now_ms();
        if let Err(e) = registry
            .register_from_result(&result, &provenance, now)
            .await
        {
            tracing::warn!(run = %self.lease.run_id, step = %step.name, error = %e, "the step's resources were not registered as artifacts");
        }
    }

    async fn run(&mut self) -> Result<RunStatus, Stop> {
        loop {
            // A draining process starts no step: the run's next steps are for whoever takes it.
            let draining = self.engine.drain.is_draining();
            if self.ending.is_none() && !self.paused && !draining {
                self.start_ready().await?;
            }
            if self.tasks.is_empty() {
                if let Some(ending) = self.ending.take() {
                    return self.finish_ended(ending).await;
                }
                if self.status.iter().all(|s| s.is_done()) {
                    return self.finish_completed().await;
                }
                if draining {
                    // Every step started here has ended and been recorded: hand the run back
                    // now rather than at the end of the drain, so another replica goes on at once.
                    return Err(Stop::Shutdown);
                }
            }
            let deadline = self.deadline.filter(|_| self.ending.is_none());
            let want_slot = self.blocked && self.spare.is_none() && !self.paused;
            let steps = self.engine.steps.clone();
            tokio::select! {
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match joined {
                        Ok(joined) => self.on_step_end(joined).await?,
                        Err(e) => {
                            // A step task that panicked: the step failed.
                            tracing::error!(run = %self.lease.run_id, error = %e, "step task failed");
                            self.fail(format!("a step's task failed: {e}"));
                        }
                    }
                }
                Some(request) = self.controls.recv() => self.on_control(request).await?,
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.fail("the workflow's timeout passed".into());
                }
                permit = steps.acquire_owned(), if want_slot && !draining => self.spare = permit.ok(),
                // Wakes the loop to stop starting steps (and to hand back an idle run).
                () = self.engine.drain.started(), if !draining => {}
                () = self.engine.shutdown.cancelled() => return self.stop_for_shutdown().await,
            }
        }
    }

    /// The scope references are rendered in.
    pub(super) fn scope(&self) -> Scope<'_> {
        Scope {
            input: &self.input,
            steps: &self.results,
            artifacts: &*self.artifacts,
        }
    }

    /// Skips what must be skipped and starts what the strategy picks among the ready steps.
    async fn start_ready(&mut self) -> Result<(), Stop> {
        let mut ready = Vec::new();
        for i in 0..self.def.steps.len() {
            if self.status[i] != StepStatus::Pending {
                continue;
            }
            let deps = &self.def.steps[i].depends_on;
            if !deps.iter().all(|d| self.status[*d].is_done()) {
                continue;
            }
            if !deps.is_empty() && deps.iter().all(|d| self.status[*d] == StepStatus::Skipped) {
                self.skip(i, "every step it depends on was skipped").await?;
                continue;
            }
            if let Some(condition) = &self.def.steps[i].condition {
                let verdict = condition.evaluate(&self.scope());
                match verdict {
                    Ok(true) => {}
                    Ok(false) => {
                        let why = format!("condition `{}` is false", condition.source());
                        self.skip(i, &why).await?;
                        continue;
                    }
                    Err(e) => {
                        self.step_failed(i, &format!("condition: {e}")).await?;
                        return Ok(());
                    }
                }
            }
            if !schedule::ever_fits(self.def.steps[i].resources, self.engine.limits.resources) {
                self.step_failed(
                    i,
                    "it declares more resources than `orchestrator.resources` has in all",
                )
                .await?;
                return Ok(());
            }
            ready.push(i);
        }
        if ready.is_empty() {
            self.blocked = false;
            return Ok(());
        }
        // Skipping may have made more steps ready (dependants of skipped ones): next turn.
        let slot = |i: usize| Slot {
            index: i,
            priority: self.def.steps[i].priority,
            resources: self.def.steps[i].resources,
        };
        let ready_slots: Vec<Slot> = ready.iter().map(|i| slot(*i)).collect();
        let running_slots: Vec<Slot> = self.running.keys().map(|i| slot(*i)).collect();
        let bounds = |free| Bounds {
            free,
            resources: self.engine.limits.resources,
            width: self.adaptive.width(),
        };
        let free = self.engine.steps.available_permits() + usize::from(self.spare.is_some());
        let strategy = self.def.strategy;
        let picked = schedule::pick(strategy, &ready_slots, &running_slots, bounds(free));
        let wanted = schedule::pick(strategy, &ready_slots, &running_slots, bounds(usize::MAX));
        let mut started = 0;
        for i in picked {
            let Some(permit) = self
                .spare
                .take()
                .or_else(|| self.engine.steps.clone().try_acquire_owned().ok())
            else {
                break;
            };
            if self.ending.is_some() {
                break;
            }
            self.spawn_step(i, permit).await?;
            started += 1;
        }
        self.blocked = wanted.len() > started;
        Ok(())
    }

    /// Renders a step's arguments and starts its task.
    async fn spawn_step(&mut self, i: usize, permit: OwnedSemaphorePermit) -> Result<(), Stop> {
        let step = &self.def.steps[i];
        let rendered = render_object(&step.params, &self.scope());
        let arguments = match rendered {
            Ok(a) => a,
            Err(e) => {
                drop(permit);
                return self.step_failed(i, &format!("params: {e}")).await;
            }
        };
        self.status[i] = StepStatus::Running;
        let cancel = self.engine.shutdown.child_token();
        self.running.insert(i, cancel.clone());
        let first = self.attempts[i] + 1;
        let last = first + step.retries;
        let engine = self.engine.clone();
        let lease = self.lease.clone();
        let def = self.def.clone();
        self.tasks.spawn(async move {
            let _permit = permit;
            let step = &def.steps[i];
            let started = Instant::now();
            let log = step::AttemptLog {
                engine: &engine,
                lease: &lease,
                workflow: &def.name,
                step: &step.name,
            };
            let (outcome, attempts) = step::call_with_retries(
                &engine,
                &step.target,
                None,
                &arguments,
                step.timeout,
                first..=last,
                &cancel,
                Some(log),
            )
            .await;
            (i, outcome, attempts, started.elapsed())
        });
        Ok(())
    }

    async fn on_step_end(&mut self, (i, outcome, attempts, took): Joined) -> Result<(), Stop> {
        let cancel = self.running.remove(&i);
        let name = self.def.steps[i].name.clone();
        self.attempts[i] = attempts;
        match outcome {
            Ok(called) => {
                self.adaptive.observe(took.as_secs_f64() * 1000.0, false);
                self.status[i] = StepStatus::Completed;
                self.completed.push(i);
                self.servers[i] = called.server.clone();
                let detail = json!({
                    "duration_ms": took.as_millis() as u64,
                    "server": called.server.as_deref(),
                });
                let done = StepStatus::Completed;
                self.step_logged(
                    &name,
                    done,
                    Some(&called.result),
                    None,
                    EventKind::StepCompleted,
                    detail,
                )
                .await?;
                self.results.insert(name.clone(), called.result);
                self.register_step_artifacts(i, called.resources).await;
                self.report_progress(&format!("step {name} completed"))
                    .await;
            }
            Err(f) if cancel.is_some_and(|c| c.is_cancelled()) => {
                let _ = f;
                self.status[i] = StepStatus::Cancelled;
                let (status, kind) = (StepStatus::Cancelled, EventKind::StepCancelled);
                self.step_logged(&name, status, None, Some("cancelled"), kind, Value::Null)
                    .await?;
            }
            Err(f) => {
                self.adaptive
                    .observe(took.as_secs_f64() * 1000.0, f.overloaded);
                if let Some(task_id) = &f.task_id {
                    let update = StepUpdate {
                        task_id: Some(task_id),
                        ..self.step_update(&name, StepStatus::Running, None, None)
                    };
                    self.engine.store.set_step(&self.lease, &update).await?;
                }
                self.step_failed(i, &f.message).await?;
            }
        }
        Ok(())
    }

    /// Marks a step failed after its last attempt and fails the run.
    pub(super) async fn step_failed(&mut self, i: usize, error: &str) -> Result<(), Stop> {
        let name = self.def.steps[i].name.clone();
        self.status[i] = StepStatus::Failed;
        let detail = json!({"error": error, "final": true});
        let (status, kind) = (StepStatus::Failed, EventKind::StepFailed);
        self.step_logged(&name, status, None, Some(error), kind, detail)
            .await?;
        self.fail(format!("step `{name}` failed: {error}"));
        Ok(())
    }

    async fn skip(&mut self, i: usize, why: &str) -> Result<(), Stop> {
        let name = self.def.steps[i].name.clone();
        self.status[i] = StepStatus::Skipped;
        let detail = json!({"reason": why});
        self.step_logged(
            &name,
            StepStatus::Skipped,
            None,
            None,
            EventKind::StepSkipped,
            detail,
        )
        .await
    }

    /// Ends the run with a failure (the first reason wins) and cancels the steps still running.
    pub(super) fn fail(&mut self, reason: String) {
        if self.ending.is_none() {
            self.ending = Some(Ending::Failure(reason));
        }
        self.cancel_running();
    }

    fn cancel_running(&self) {
        for token in self.running.values() {
            token.cancel();
        }
    }

    async fn on_control(&mut self, request: Request) -> Result<(), Stop> {
        self.engine
            .store
            .clear_request(&self.lease, request)
            .await?;
        match request {
            Request::Pause if !self.paused && self.ending.is_none() => {
                self.paused = true;
                let kind = EventKind::WorkflowPaused;
                self.run_logged(RunStatus::Paused, None, None, kind, Value::Null)
                    .await?;
            }
            Request::Resume if self.paused => {
                self.paused = false;
                let kind = EventKind::WorkflowResumed;
                self.run_logged(RunStatus::Running, None, None, kind, Value::Null)
                    .await?;
            }
            Request::Cancel if self.ending.is_none() => {
                self.paused = false;
                self.ending = Some(Ending::Cancel);
                self.cancel_running();
            }
            _ => {}
        }
        Ok(())
    }

    async fn finish_completed(&mut self) -> Result<RunStatus, Stop> {
        let output = match &self.def.output {
            Some(t) => t
                .render(&self.scope())
                .unwrap_or_else(|e| json!({"error": format!("output: {e}")})),
            None => Value::Object(
                self.results
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        };
        let detail = json!({"duration_ms": self.started.elapsed().as_millis() as u64});
        let (status, kind) = (RunStatus::Completed, EventKind::WorkflowCompleted);
        self.run_logged(status, Some(&output), None, kind, detail)
            .await?;
        Ok(RunStatus::Completed)
    }

    /// Ends a failed or cancelled run: steps not started are cancelled, completed ones
    /// compensated.
    async fn finish_ended(&mut self, ending: Ending) -> Result<RunStatus, Stop> {
        for i in 0..self.status.len() {
            if self.status[i] == StepStatus::Pending {
                self.status[i] = StepStatus::Cancelled;
                let name = self.def.steps[i].name.clone();
                self.set_step(&name, StepStatus::Cancelled, None, None)
                    .await?;
            }
        }
        let saga = self.compensate().await?;
        let (status, kind, error) = match &ending {
            Ending::Cancel => (
                RunStatus::Cancelled,
                EventKind::WorkflowCancelled,
                "cancelled".to_owned(),
            ),
            Ending::Failure(reason) => {
                let status = if saga.compensated > 0 && saga.failed.is_empty() {
                    RunStatus::Compensated
                } else {
                    RunStatus::Failed
                };
                (status, EventKind::WorkflowFailed, reason.clone())
            }
        };
        let error = if saga.failed.is_empty() {
            error
        } else {
            format!(
                "{error}; compensation failed for {} (needs a human: see the run's events)",
                saga.failed.join(", ")
            )
        };
        let detail = json!({"error": error, "status": status});
        self.run_logged(status, None, Some(&error), kind, detail)
            .await?;
        Ok(status)
    }

    /// The drain is over (or there was none): the steps still running have been cancelled.
    /// Records those that still came back with a result, and leaves the others `running` in the
    /// store, so whoever takes the run over judges them as after a crash (repeated only if safe to
    /// repeat, else `unknown`). Recording them `cancelled` would read as a cancel of the run.
    async fn stop_for_shutdown(&mut self) -> Result<RunStatus, Stop> {
        let bound = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(bound);
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(Ok(joined)) = self.tasks.join_next() => {
                    let (i, outcome, ..) = &joined;
                    if outcome.is_err() {
                        tracing::info!(run = %self.lease.run_id, step = %self.def.steps[*i].name, "step interrupted by the stop; left for the next worker to judge");
                        continue;
                    }
                    if let Err(e) = self.on_step_end(joined).await {
                        tracing::debug!(error = %e, "step end not recorded at shutdown");
                    }
                }
                () = &mut bound => break,
            }
        }
        Err(Stop::Shutdown)
    }

    async fn report_progress(&self, message: &str) {
        if let Some(sink) = &self.progress {
            let done = self.status.iter().filter(|s| s.is_done()).count();
            sink.report(
                done as f64,
                Some(self.status.len() as f64),
                message.to_owned(),
            )
            .await;
        }
    }

    pub(super) async fn set_step(
        &self,
        name: &str,
        status: StepStatus,
        output: Option<&Value>,
        error: Option<&str>,
    ) -> Result<(), Stop> {
        let update = self.step_update(name, status, output, error);
        Ok(self.engine.store.set_step(&self.lease, &update).await?)
    }

    /// A step's new state, stamped now.
    fn step_update<'a>(
        &self,
        name: &'a str,
        status: StepStatus,
        output: Option<&'a Value>,
        error: Option<&'a str>,
    ) -> StepUpdate<'a> {
        StepUpdate {
            name,
            status,
            attempts: None,
            output,
            error,
            task_id: None,
            now: self.engine.clock.now_ms(),
        }
    }

    /// The run's new state and the event that tells of it, in one write (with the lease given up
    /// when the state is an end: the status, the last event and the release are seen together),
    /// and the log line.
    pub(super) async fn run_logged(
        &self,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&str>,
        kind: EventKind,
        detail: Value,
    ) -> Result<(), Stop> {
        log_event(&self.lease.run_id, &self.def.name, kind, None, &detail);
        let update = RunUpdate {
            status,
            output,
            error,
            now: self.engine.clock.now_ms(),
        };
        let release = status.is_terminal();
        Ok(self
            .engine
            .store
            .set_run_logged(&self.lease, &update, kind, &detail, release)
            .await?)
    }

    /// A step's new state and the event that tells of it, in one write, and the log line.
    pub(super) async fn step_logged(
        &self,
        name: &str,
        status: StepStatus,
        output: Option<&Value>,
        error: Option<&str>,
        kind: EventKind,
        detail: Value,
    ) -> Result<(), Stop> {
        log_event(
            &self.lease.run_id,
            &self.def.name,
            kind,
            Some(name),
            &detail,
        );
        let update = self.step_update(name, status, output, error);
        Ok(self
            .engine
            .store
            .set_step_logged(&self.lease, &update, kind, &detail)
            .await?)
    }

    /// Appends an event to the run's log and writes it as a log line.
    pub(super) async fn event(
        &self,
        kind: EventKind,
        step: Option<&str>,
        detail: Value,
    ) -> Result<(), Stop> {
        log_event(&self.lease.run_id, &self.def.name, kind, step, &detail);
        self.engine
            .store
            .event(&self.lease, kind, step, &detail, self.engine.clock.now_ms())
            .await?;
        Ok(())
    }
}

/// Renders a step's params: an object (or nothing, which is no arguments).
pub(super) fn render_object(params: &Template, scope: &Scope<'_>) -> Result<JsonObject, String> {
    match params.render(scope).map_err(|e| e.to_string())? {
        Value::Object(o) => Ok(o),
        Value::Null => Ok(JsonObject::new()),
        other => Err(format!("params must be an object, not {other}")),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
