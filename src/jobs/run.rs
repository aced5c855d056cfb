//! One job's execution: started under its lease, run by kind (a tool call through the
//! [`ToolCaller`](crate::dispatch::ToolCaller), a workflow run through the engine, a service's
//! `POST /execute`), its artifacts registered, and its end written, fenced.

use std::sync::Arc;

use rmcp::model::{CallToolResponse, JsonObject};
use serde_json::Value;
use tokio::{sync::OwnedSemaphorePermit, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    Active, Jobs,
    service::{self, Execute, Outcome},
};
use crate::{
    artifacts::NewArtifact,
    config::JobTarget,
    dispatch::{CallContext, CallRequest, Caller},
    engine::{Submit, step_result},
    report::{JobKind, JobReport, JobStatus, RunStatus},
    store::{Lease, Request, StoreError},
};

/// How long a service may take when its type sets no `timeout`.
const SERVICE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// How a job ended.
#[derive(Debug)]
struct End {
    status: JobStatus,
    result: Option<Value>,
    error: Option<String>,
}

impl End {
    fn completed(result: Value) -> Self {
        Self {
            status: JobStatus::Completed,
            result: Some(result),
            error: None,
        }
    }

    fn failed(error: impl Into<String>) -> Self {
        Self {
            status: JobStatus::Failed,
            result: None,
            error: Some(error.into()),
        }
    }

    fn cancelled() -> Self {
        Self {
            status: JobStatus::Cancelled,
            result: None,
            error: Some("cancelled while it ran".into()),
        }
    }
}

impl Jobs {
    /// Runs a claimed job on a task of its own, holding `permit` until it ends.
    pub(super) fn spawn(
        self: &Arc<Self>,
        lease: Lease,
        group: String,
        permit: OwnedSemaphorePermit,
    ) {
        let cancel = CancellationToken::new();
        let id = lease.run_id.clone();
        self.active.lock().expect("poisoned").insert(
            id.clone(),
            Active {
                cancel: cancel.clone(),
                lease: lease.clone(),
                group,
            },
        );
        let jobs = self.clone();
        // Until the lease is handed back: the stop waits for it before closing the store.
        let held = self.drain.hold_leased();
        self.tracker.spawn(async move {
            jobs.run(lease, cancel).await;
            jobs.active.lock().expect("poisoned").remove(&id);
            drop(permit);
            jobs.signal_end(&id);
            jobs.pump.notify_one();
            drop(held);
        });
    }

    async fn run(&self, lease: Lease, cancel: CancellationToken) {
        if self.drain.is_draining() {
            let _ = self.store.release_job(&lease).await;
            return;
        }
        let job = match self.store.start_job(&lease, self.clock.now_ms()).await {
            Ok(job) => job,
            // Cancelled before it started, or taken over: nothing of ours to write.
            Err(StoreError::StaleLease { .. }) => return,
            Err(e) => {
                tracing::warn!(job = %lease.run_id, error = %e, "job not started");
                let _ = self.store.release_job(&lease).await;
                return;
            }
        };
        if job.attempts > 1
            && let Some(why) = self.not_safe_to_repeat(&job).await
        {
            tracing::warn!(job = %job.job_id, attempts = job.attempts, "job not repeated after a restart");
            self.finish(&lease, End::failed(why)).await;
            return;
        }
        tracing::info!(job = %job.job_id, kind = %job.kind, target = %job.target, attempt = job.attempts, "job started");
        // A workflow job only waits for its run, which the engine hands back at the drain's
        // start: the job goes with it, so that one replica takes both over without waiting for
        // the drain to end. (A workflow job is safe to take over: the run is found, not repeated.)
        let waits_only = job.kind == JobKind::Workflow;
        let end = tokio::select! {
            end = self.execute(&job, &cancel) => end,
            () = self.drain.started(), if waits_only => {
                let _ = self.store.release_job(&lease).await;
                return;
            }
            () = self.shutdown.cancelled() => {
                // Left running in the store: the next start judges it like a crash.
                let _ = self.store.release_job(&lease).await;
                return;
            }
        };
        self.finish(&lease, end).await;
    }

    async fn finish(&self, lease: &Lease, end: End) {
        let now = self.clock.now_ms();
        match self
            .store
            .finish_job(
                lease,
                end.status,
                end.result.as_ref(),
                end.error.as_deref(),
                now,
            )
            .await
        {
            Ok(()) => {
                tracing::info!(job = %lease.run_id, status = %end.status, error = end.error.as_deref().unwrap_or(""), "job ended");
            }
            Err(e) => tracing::warn!(job = %lease.run_id, error = %e, "job end not written"),
        }
    }

    /// Why a job found running after a restart must not run again, if it must not.
    async fn not_safe_to_repeat(&self, job: &JobReport) -> Option<String> {
        // After a restart the children may still be starting: their tools' annotations decide.
        let tool = match (job.kind, self.tools.get()) {
            (JobKind::Tool, Some(tools)) => match tools.tool(&job.target) {
                Some(t) => Some(t),
                None => {
                    tools.settle().await;
                    tools.tool(&job.target)
                }
            },
            _ => None,
        };
        let typed = job
            .job_type
            .as_ref()
            .and_then(|t| self.config().types.get(t).map(|t| t.idempotent))
            .unwrap_or(false);
        let safe = typed
            || match job.kind {
                // The engine resumes the run by its own rules, step by step.
                JobKind::Workflow => true,
                JobKind::Tool => tool.is_some_and(|t| {
                    t.annotations.as_ref().is_some_and(|a| {
                        a.read_only_hint == Some(true) || a.idempotent_hint == Some(true)
                    })
                }),
                JobKind::Service => false,
            };
        (!safe).then(|| {
            format!(
                "the orchestrator stopped while this job ran, and `{}` is not marked idempotent (a tool's idempotentHint or readOnlyHint, or the job type's `idempotent: true`), so it was not run again: check whether it took effect, then resubmit",
                job.job_type.as_deref().unwrap_or(&job.target)
            )
        })
    }

    async fn execute(&self, job: &JobReport, cancel: &CancellationToken) -> End {
        match job.kind {
            JobKind::Tool => self.call_tool(job, cancel).await,
            JobKind::Workflow => self.run_workflow(job, cancel).await,
            JobKind::Service => self.call_service(job, cancel).await,
        }
    }

    fn timeout(&self, job: &JobReport) -> Option<std::time::Duration> {
        job.job_type
            .as_ref()
            .and_then(|t| self.config().types.get(t).and_then(|t| t.timeout))
    }

    async fn call_tool(&self, job: &JobReport, cancel: &CancellationToken) -> End {
        let arguments: JsonObject = match &job.payload {
            Value::Object(m) => m.clone(),
            _ => JsonObject::new(),
        };
        let mut request = CallRequest::host(job.target.clone()).arguments(arguments);
        if let Some(t) = self.timeout(job) {
            request = request.timeout(t);
        }
        let cx = CallContext {
            cancel: cancel.clone(),
            progress: None,
            started: Instant::now(),
            caller: Caller::Host,
            trace: crate::otel::TraceContext::default(),
            host: None,
            input: Default::default(),
        };
        match self.caller.call(request, &cx).await {
            Ok(CallToolResponse::Complete(result)) => {
                let provenance = NewArtifact {
                    job_id: Some(job.job_id.clone()),
                    dependencies: job.inputs.clone(),
                    ..NewArtifact::default()
                };
                if let Err(e) = self
                    .artifacts
                    .register_from_result(&result, &provenance, self.clock.now_ms())
                    .await
                {
                    return End::failed(format!("the tool's artifacts were not registered: {e}"));
                }
                match step_result(result) {
                    Ok(v) => End::completed(v),
                    Err(f) => End::failed(f.message),
                }
            }
            Ok(_) => End::failed(
                "the tool answered with a task or an input request, which a job cannot follow yet; call it from a host instead",
            ),
            Err(_) if cancel.is_cancelled() => End::cancelled(),
            Err(e) => End::failed(e.to_string()),
        }
    }

    async fn run_workflow(&self, job: &JobReport, cancel: &CancellationToken) -> End {
        // The run's id is the job's: after a restart the run is found, not started twice.
        let exists = match self.store.run(&job.job_id).await {
            Ok(r) => r.is_some(),
            Err(e) => return End::failed(format!("the store failed: {e}")),
        };
        if !exists {
            let options = Submit {
                priority: job.priority,
                progress: None,
                id: Some(job.job_id.clone()),
            };
            if let Err(e) = self
                .engine
                .submit(&job.target, job.payload.clone(), options)
                .await
            {
                return End::failed(e.to_string());
            }
        }
        let mut asked = false;
        let never = CancellationToken::new();
        loop {
            let report = tokio::select! {
                r = self.engine.wait(&job.job_id, &never) => r,
                () = cancel.cancelled(), if !asked => {
                    // Cancel the run (it compensates), then wait for it to end.
                    asked = true;
                    let _ = self.engine.control(&job.job_id, Request::Cancel).await;
                    continue;
                }
            };
            let report = match report {
                Ok(r) => r,
                Err(e) => return End::failed(e.to_string()),
            };
            return match report.status {
                RunStatus::Completed => End::completed(report.output.unwrap_or(Value::Null)),
                RunStatus::Cancelled => End::cancelled(),
                status => End::failed(format!(
                    "workflow run {} ended {status}: {}",
                    report.run_id,
                    report.error.as_deref().unwrap_or("-")
                )),
            };
        }
    }

    async fn call_service(&self, job: &JobReport, cancel: &CancellationToken) -> End {
        let name = job.job_type.clone().unwrap_or_else(|| job.target.clone());
        let url = match job
            .job_type
            .as_ref()
            .and_then(|t| self.config().types.get(t).map(|t| t.target.clone()))
        {
            Some(JobTarget::Service(u)) => u,
            // The type was changed or removed by a reload: the URL it was submitted with.
            _ => job.target.clone(),
        };
        let execute = service::execute(
            &self.http,
            Execute {
                url: &url,
                job_id: &job.job_id,
                job_type: &name,
                payload: &job.payload,
                metadata: &job.metadata,
                timeout: self.timeout(job).unwrap_or(SERVICE_TIMEOUT),
            },
        );
        // Dropping the request aborts it: the service sees its connection close.
        let outcome = tokio::select! {
            o = execute => o,
            () = cancel.cancelled() => return End::cancelled(),
        };
        let (end, listed) = match outcome {
            Err(message) => return End::failed(message),
            Ok(Outcome::Completed { result, artifacts }) => (End::completed(result), artifacts),
            Ok(Outcome::Failed { error, artifacts }) => (End::failed(error), artifacts),
        };
        for a in listed {
            let new = a.into_new(&job.job_id, &name, &job.inputs);
            if let Err(e) = self.artifacts.register(new, self.clock.now_ms()).await {
                return End::failed(format!(
                    "service {} answered, but an artifact it listed was refused: {e}",
                    job.target
                ));
            }
        }
        end
    }
}
