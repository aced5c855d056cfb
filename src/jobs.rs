//! Jobs: durable single runs (a tool call, a workflow run, or an external service's
//! `POST /execute`) in the [`Store`], run by a bounded, priority-ordered, type-fair worker pool
//! under the same leases and fences as workflow runs, so a job runs on one replica and one that
//! dies has its jobs taken over.
//!
//! - [`spec`]: the three submission shapes, resolved against the configured types;
//! - [`run`]: one job's execution, by kind, and its end;
//! - [`maintain`]: claiming, renewing, relaying cancels, removing expired jobs, service health;
//! - [`fair`]: the order claimable jobs are taken in, pure;
//! - [`service`]: the external service contract.
//!
//! After a crash, a job found running is run again only when that is safe: a workflow job (the
//! engine resumes its run), a tool whose annotations say read-only or idempotent, or a type
//! marked `idempotent`. Anything else fails with a message saying so, rather than repeating an
//! effect nobody asked for twice.

mod fair;
mod maintain;
mod run;
pub mod service;
pub mod spec;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use arc_swap::ArcSwap;
use rmcp::model::Tool;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    artifacts::{ArtifactError, Artifacts, NewArtifact},
    config::{JobType, JobsConfig},
    dispatch::{BoxFuture, ToolCaller},
    engine::{Engine, clock::Clock},
    report::{ArtifactReport, JobKind, JobReport, JobStatus, JobsReport, ServiceReport},
    shutdown::Drain,
    store::{JobFilter, Lease, NewJob, Store, StoreError},
};
use spec::{Resolved, Submission, check_arguments};

/// How often a waiter re-reads a job another replica runs.
const REMOTE_POLL: Duration = Duration::from_millis(250);

/// Why a job request failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The submission is malformed.
    #[error("invalid job: {0}")]
    Invalid(String),
    /// No configured type has this name.
    #[error("unknown job type `{name}` (configured: {}); `services list` shows the job types", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownType {
        /// The name asked for.
        name: String,
        /// The configured names.
        known: Vec<String>,
    },
    /// No host-facing tool has this name.
    #[error("unknown tool `{0}`; `list` shows the tools")]
    UnknownTool(String),
    /// No loaded workflow has this name.
    #[error("unknown workflow `{0}`; `workflow list` shows the loaded ones")]
    UnknownWorkflow(String),
    /// The payload does not satisfy the tool's input schema.
    #[error("invalid arguments for tool `{tool}`: {message}")]
    Arguments {
        /// The tool.
        tool: String,
        /// What is wrong.
        message: String,
    },
    /// No job has this id.
    #[error("unknown job `{0}`; `jobs list` shows the jobs")]
    UnknownJob(String),
    /// The job has ended; it cannot be cancelled.
    #[error("job `{id}` has already ended ({status})")]
    Ended {
        /// The job.
        id: String,
        /// How.
        status: JobStatus,
    },
    /// An artifact reference or registration failed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The host-facing tools a tool job may call, as the table of tool sources lists them: set by
/// the composition root once that table exists.
pub trait ToolIndex: Send + Sync {
    /// The tool a host would reach by `name`, with its input schema.
    fn tool(&self, name: &str) -> Option<Tool>;

    /// Waits (bounded) for children still starting, whose tools are not listed yet: a job
    /// submitted as the orchestrator starts is not refused for a tool seconds from existing.
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A job running here.
struct Active {
    cancel: CancellationToken,
    lease: Lease,
    group: String,
}

/// An external service's last health check: `Ok`, or what it said; when (unix ms).
#[derive(Debug, Clone)]
struct Health {
    result: Result<(), String>,
    at: i64,
}

/// The job system: submit, cancel, wait, read; and the pool that runs them.
pub struct Jobs {
    store: Store,
    artifacts: Artifacts,
    caller: Arc<dyn ToolCaller>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    config: ArcSwap<JobsConfig>,
    lease_ttl: Duration,
    tools: OnceLock<Arc<dyn ToolIndex>>,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
    /// Whether the last look at the store left claimable jobs waiting: a new submission then
    /// queues behind them (priority order) instead of taking a free slot first.
    backlog: std::sync::atomic::AtomicBool,
    active: Mutex<HashMap<String, Active>>,
    ends: Mutex<HashMap<String, watch::Sender<bool>>>,
    health: Mutex<BTreeMap<String, Health>>,
    dead: Mutex<Vec<String>>,
    pump: Notify,
    tracker: TaskTracker,
    /// Cancelled when the drain is over: jobs still running are abandoned, leases handed back.
    shutdown: CancellationToken,
    /// Started first: nothing new is claimed, running jobs may finish.
    drain: Drain,
}

/// What a job system is built from.
pub struct Parts {
    /// The store (the engine's).
    pub artifacts: Artifacts,
    /// Tool calls go here.
    pub caller: Arc<dyn ToolCaller>,
    /// Workflow jobs run here; its owner id is the jobs' too.
    pub engine: Arc<Engine>,
    /// Timestamps and leases.
    pub clock: Arc<dyn Clock>,
    /// The `jobs` section.
    pub config: JobsConfig,
    /// How long a lease lasts unrenewed.
    pub lease_ttl: Duration,
    /// Where tasks hang.
    pub tracker: TaskTracker,
    /// Shutdown: the end of the drain.
    pub shutdown: CancellationToken,
    /// The drain (below `shutdown`).
    pub drain: Drain,
}

impl Jobs {
    /// A job system; nothing runs until [`Jobs::start`].
    pub fn new(p: Parts) -> Arc<Self> {
        let slots = Arc::new(Semaphore::new(p.config.max_concurrent));
        Arc::new(Self {
            store: p.artifacts.store().clone(),
            artifacts: p.artifacts,
            caller: p.caller,
            engine: p.engine,
            clock: p.clock,
            config: ArcSwap::from_pointee(p.config),
            lease_ttl: p.lease_ttl,
            tools: OnceLock::new(),
            http: reqwest::Client::new(),
            slots,
            backlog: std::sync::atomic::AtomicBool::new(false),
            active: Mutex::default(),
            ends: Mutex::default(),
            health: Mutex::default(),
            dead: Mutex::default(),
            pump: Notify::new(),
            tracker: p.tracker,
            shutdown: p.shutdown,
            drain: p.drain,
        })
    }

    /// Sets how tool names are looked up (the table of tool sources).
    pub fn set_tools(&self, tools: Arc<dyn ToolIndex>) {
        let _ = self.tools.set(tools);
    }

    /// Replaces the `jobs` section (a config reload). The pool's size stays as started.
    pub fn set_config(&self, config: JobsConfig) {
        self.config.store(Arc::new(config));
    }

    /// The `jobs` section in force.
    pub fn config(&self) -> Arc<JobsConfig> {
        self.config.load_full()
    }

    /// The workflow engine (a task of a `workflow__*` call is its run).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Registers an artifact now (by the pool's clock).
    pub async fn register_artifact(&self, new: NewArtifact) -> Result<ArtifactReport, JobError> {
        Ok(self.artifacts.register(new, self.clock.now_ms()).await?)
    }

    /// The artifact registry.
    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    /// Starts the pool's background work (claiming the jobs a crash left among the rest).
    pub fn start(self: &Arc<Self>) {
        let jobs = self.clone();
        self.tracker.spawn(async move { jobs.maintain().await });
    }

    /// Checks and stores a job; returns it as stored (pending). A worker here takes it at once
    /// when a slot is free.
    pub async fn submit(self: &Arc<Self>, submission: Value) -> Result<JobReport, JobError> {
        let config = self.config();
        let mut r = Submission::from_json(submission)?.resolve(&config)?;
        self.check_target(&r).await?;
        let inputs = self.artifacts.resolve(&mut r.payload).await?;
        let now = self.clock.now_ms();
        // A draining process runs nothing new: the job is stored free, for another replica.
        let queued =
            self.backlog.load(std::sync::atomic::Ordering::Acquire) || self.drain.is_draining();
        let permit = (!queued)
            .then(|| self.slots.clone().try_acquire_owned().ok())
            .flatten();
        let until = now + ms(self.lease_ttl);
        let claim = permit.as_ref().map(|_| (self.engine.owner().id(), until));
        let group = r
            .job_type
            .clone()
            .unwrap_or_else(|| r.kind.as_str().to_owned());
        let (report, lease) = store_job(&self.store, r, inputs, now, claim).await?;
        match (lease, permit) {
            (Some(lease), Some(permit)) => self.spawn(lease, group, permit),
            _ => self.pump.notify_one(),
        }
        Ok(report)
    }

    /// Refuses a target that cannot run: an unknown tool or workflow, arguments that do not fit
    /// the tool's schema.
    async fn check_target(&self, r: &Resolved) -> Result<(), JobError> {
        match r.kind {
            JobKind::Tool => {
                let Some(tools) = self.tools.get() else {
                    return Ok(());
                };
                let tool = match tools.tool(&r.target) {
                    Some(t) => t,
                    None => {
                        tools.settle().await;
                        tools
                            .tool(&r.target)
                            .ok_or_else(|| JobError::UnknownTool(r.target.clone()))?
                    }
                };
                check_arguments(&r.target, &tool.input_schema, &r.payload)
            }
            JobKind::Workflow => {
                if self.engine.definitions().get(&r.target).is_none() {
                    return Err(JobError::UnknownWorkflow(r.target.clone()));
                }
                Ok(())
            }
            JobKind::Service => Ok(()),
        }
    }

    /// One job.
    pub async fn get(&self, id: &str) -> Result<JobReport, JobError> {
        self.store
            .job(id)
            .await?
            .ok_or_else(|| JobError::UnknownJob(id.to_owned()))
    }

    /// Jobs matching `filter`, newest first.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobReport>, JobError> {
        Ok(self.store.jobs(filter).await?)
    }

    /// Cancels a job wherever it runs: a pending one at once; a running one here at once (its
    /// tool call is cancelled, its workflow compensated, its service request aborted); one
    /// running on another replica by a request that replica acts on. Returns the job as it is
    /// after the request.
    pub async fn cancel(&self, id: &str) -> Result<JobReport, JobError> {
        let before = self
            .store
            .cancel_job(id, self.clock.now_ms())
            .await?
            .ok_or_else(|| JobError::UnknownJob(id.to_owned()))?;
        if before.is_terminal() {
            return Err(JobError::Ended {
                id: id.to_owned(),
                status: before,
            });
        }
        if before == JobStatus::Pending {
            // A worker here that claimed it and has not started it finds it cancelled at start.
            self.signal_end(id);
        }
        if let Some(a) = self.active.lock().expect("poisoned").get(id) {
            a.cancel.cancel();
        }
        self.get(id).await
    }

    /// Waits until the job has ended (or `cancel` fires) and returns it as it is then.
    pub async fn wait(&self, id: &str, cancel: &CancellationToken) -> Result<JobReport, JobError> {
        loop {
            let mut ended = self.subscribe_end(id);
            let job = self.get(id).await?;
            if job.status.is_terminal() {
                self.ends.lock().expect("poisoned").remove(id);
                return Ok(job);
            }
            tokio::select! {
                _ = ended.wait_for(|e| *e) => {}
                () = tokio::time::sleep(REMOTE_POLL) => {}
                () = cancel.cancelled() => return Ok(job),
            }
        }
    }

    fn subscribe_end(&self, id: &str) -> watch::Receiver<bool> {
        self.ends
            .lock()
            .expect("poisoned")
            .entry(id.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe()
    }

    fn signal_end(&self, id: &str) {
        if let Some(tx) = self.ends.lock().expect("poisoned").remove(id) {
            let _ = tx.send(true);
        }
    }

    /// The configured job types with the last health check of each service.
    pub fn services(&self) -> Vec<ServiceReport> {
        let config = self.config();
        let health = self.health.lock().expect("poisoned");
        config
            .types
            .iter()
            .map(|(name, t)| {
                let check = health.get(name).map(|h| (&h.result, h.at));
                service_report(name, t, check)
            })
            .collect()
    }

    /// The `jobs` section of the status report.
    pub async fn status(&self) -> JobsReport {
        let running_here = self.active.lock().expect("poisoned").len();
        JobsReport {
            types: self.services(),
            totals: self.store.job_totals().await.unwrap_or_default(),
            running_here,
            artifacts: self.store.artifact_count().await.unwrap_or_default(),
        }
    }
}

/// A job type as `services` shows it, with an external service's last health check (`Ok`, or
/// what it said) and when it was made; a service never checked is `unknown`.
pub fn service_report(
    name: &str,
    t: &JobType,
    check: Option<(&Result<(), String>, i64)>,
) -> ServiceReport {
    let (kind, target) = t.target.shown();
    let health = match check {
        Some((Ok(()), _)) => "healthy",
        Some((Err(_), _)) => "unhealthy",
        None => "unknown",
    };
    ServiceReport {
        job_type: name.to_owned(),
        kind,
        target,
        health: (kind == JobKind::Service).then(|| health.to_owned()),
        detail: check.and_then(|(r, _)| r.as_ref().err().cloned()),
        checked_at: check.map(|(_, at)| at),
    }
}

/// Stores a job for a later worker, without a pool: `jobs submit` when no instance runs. The
/// next `serve` on the store runs it (its tool or workflow is checked then).
pub async fn enqueue(
    artifacts: &Artifacts,
    config: &JobsConfig,
    submission: Value,
    now: i64,
) -> Result<JobReport, JobError> {
    let mut r = Submission::from_json(submission)?.resolve(config)?;
    let inputs = artifacts.resolve(&mut r.payload).await?;
    Ok(store_job(artifacts.store(), r, inputs, now, None).await?.0)
}

/// Writes a resolved job, pending (claimed with `claim`), and returns it as stored.
async fn store_job(
    store: &Store,
    r: Resolved,
    inputs: Vec<String>,
    now: i64,
    claim: Option<(&str, i64)>,
) -> Result<(JobReport, Option<Lease>), JobError> {
    let id = uuid::Uuid::new_v4().to_string();
    let lease = store
        .create_job(&NewJob {
            id: &id,
            kind: r.kind,
            job_type: r.job_type.as_deref(),
            target: &r.target,
            payload: &r.payload,
            metadata: &r.metadata,
            priority: r.priority,
            ttl_ms: Some(r.ttl_ms),
            inputs: &inputs,
            now,
            claim,
        })
        .await?;
    tracing::info!(job = %id, kind = %r.kind, target = %r.target, "job submitted");
    let report = JobReport {
        job_id: id,
        kind: r.kind,
        job_type: r.job_type,
        target: r.target,
        status: JobStatus::Pending,
        payload: r.payload,
        metadata: r.metadata,
        priority: r.priority,
        result: None,
        error: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        attempts: 0,
        inputs,
        artifacts: Vec::new(),
        cancel_requested: false,
    };
    Ok((report, lease))
}

/// A duration in the store's unit.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
