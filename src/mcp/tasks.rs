//! MCP Tasks (the 2026-07-28 tasks extension, SEP-2663) over the store: for a host that declared
//! the extension, `job_submit` and `workflow__*` answer with a `CreateTaskResult` once the job or
//! run is stored, and `tasks/get`, `tasks/update`, `tasks/cancel` read and act on the store, so a
//! task outlives a restart of this process and is served by any replica on the same store.
//!
//! A task id is `job-<uuid>` or `run-<uuid>`: the prefix routes it, the UUID (v4, 122 random
//! bits) is the job's or run's own id, so ids are unguessable and stable across restarts.
//!
//! What a finished task holds is what the call would have returned without a task: a workflow's
//! `{run_id, status, output, error}`, a job's report. A run or job that ended failed is a
//! *completed* task whose result has `isError` (a tool's failure is a result, not a JSON-RPC
//! error); `failed` is left for a task the store can no longer answer for.

use rmcp::{
    ErrorData as McpError,
    model::{
        CallToolResult, ContentBlock, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject,
        Task, TaskPayload, TaskStatus,
    },
};
use serde_json::{Value, json};

use crate::{
    engine::{EngineError, Submit},
    jobs::{JobError, Jobs},
    report::{JobReport, JobStatus, RunReport, RunStatus},
    store::Request,
};

const JOB: &str = "job-";
const RUN: &str = "run-";
/// How often a host should poll.
const POLL_MS: u64 = 500;

/// What a task id names.
enum Target<'a> {
    Job(&'a str),
    Run(&'a str),
}

fn target(task_id: &str) -> Result<Target<'_>, McpError> {
    if let Some(id) = task_id.strip_prefix(JOB) {
        Ok(Target::Job(id))
    } else if let Some(id) = task_id.strip_prefix(RUN) {
        Ok(Target::Run(id))
    } else {
        Err(unknown(task_id))
    }
}

fn unknown(task_id: &str) -> McpError {
    McpError::invalid_params(format!("unknown task `{task_id}`"), None)
}

/// Submits a job as a task.
pub async fn submit_job(
    jobs: &std::sync::Arc<Jobs>,
    arguments: JsonObject,
) -> Result<CreateTaskResult, McpError> {
    let job = jobs
        .submit(Value::Object(arguments))
        .await
        .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
    Ok(CreateTaskResult::new(job_task(&job)))
}

/// Starts a workflow run as a task.
pub async fn start_run(
    jobs: &Jobs,
    workflow: &str,
    arguments: JsonObject,
) -> Result<CreateTaskResult, McpError> {
    let engine = jobs.engine();
    let run_id = engine
        .submit(workflow, Value::Object(arguments), Submit::default())
        .await
        .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
    let report = engine.report(&run_id).await.map_err(engine_error)?;
    Ok(CreateTaskResult::new(run_task(&report)))
}

/// `tasks/get`.
pub async fn get(jobs: &Jobs, task_id: &str) -> Result<GetTaskResult, McpError> {
    let detailed = match target(task_id)? {
        Target::Job(id) => {
            let job = jobs.get(id).await.map_err(|e| job_error(e, task_id))?;
            let task = job_task(&job);
            let payload = match job.status {
                JobStatus::Pending | JobStatus::Running => TaskPayload::Working,
                JobStatus::Cancelled => TaskPayload::Cancelled,
                JobStatus::Completed | JobStatus::Failed => {
                    let failed = job.status == JobStatus::Failed;
                    let text = match &job.error {
                        Some(e) => format!("job {} failed: {e}", job.job_id),
                        None => format!("job {} completed", job.job_id),
                    };
                    completed(
                        text,
                        serde_json::to_value(&job).unwrap_or(Value::Null),
                        failed,
                    )
                }
            };
            DetailedTask::new(task, payload)
        }
        Target::Run(id) => {
            let report = jobs.engine().report(id).await.map_err(|e| match e {
                EngineError::UnknownRun(_) => unknown(task_id),
                e => engine_error(e),
            })?;
            let task = run_task(&report);
            let payload = match report.status {
                RunStatus::Pending | RunStatus::Running | RunStatus::Paused => TaskPayload::Working,
                RunStatus::Cancelled => TaskPayload::Cancelled,
                status => {
                    let value = json!({
                        "run_id": report.run_id,
                        "status": status,
                        "output": report.output,
                        "error": report.error,
                    });
                    let text = format!(
                        "workflow {} run {} {status}",
                        report.workflow, report.run_id
                    );
                    completed(text, value, status != RunStatus::Completed)
                }
            };
            DetailedTask::new(task, payload)
        }
    };
    Ok(GetTaskResult::new(detailed))
}

/// `tasks/cancel`: cooperative; a task that has ended stays as it ended.
pub async fn cancel(jobs: &Jobs, task_id: &str) -> Result<(), McpError> {
    match target(task_id)? {
        Target::Job(id) => match jobs.cancel(id).await {
            Ok(_) | Err(JobError::Ended { .. }) => Ok(()),
            Err(e) => Err(job_error(e, task_id)),
        },
        Target::Run(id) => match jobs.engine().control(id, Request::Cancel).await {
            Ok(_) | Err(EngineError::Ended { .. }) => Ok(()),
            Err(EngineError::UnknownRun(_)) => Err(unknown(task_id)),
            Err(e) => Err(engine_error(e)),
        },
    }
}

/// `tasks/update`: jobs and runs never ask the host for input, so answers are acknowledged and
/// ignored (as the extension says of unknown keys); an unknown task is an error.
pub async fn update(jobs: &Jobs, task_id: &str) -> Result<(), McpError> {
    get(jobs, task_id).await.map(|_| ())
}

fn job_task(job: &JobReport) -> Task {
    let status = match job.status {
        JobStatus::Pending | JobStatus::Running => TaskStatus::Working,
        JobStatus::Completed | JobStatus::Failed => TaskStatus::Completed,
        JobStatus::Cancelled => TaskStatus::Cancelled,
    };
    let updated = job.finished_at.or(job.started_at).unwrap_or(job.created_at);
    Task::new(
        format!("{JOB}{}", job.job_id),
        status,
        timestamp(job.created_at),
        timestamp(updated),
    )
    .with_status_message(format!("job {}", job.status))
    .with_poll_interval_ms(POLL_MS)
}

fn run_task(run: &RunReport) -> Task {
    let status = match run.status {
        RunStatus::Pending | RunStatus::Running | RunStatus::Paused => TaskStatus::Working,
        RunStatus::Cancelled => TaskStatus::Cancelled,
        _ => TaskStatus::Completed,
    };
    Task::new(
        format!("{RUN}{}", run.run_id),
        status,
        timestamp(run.created_at),
        timestamp(run.finished_at.unwrap_or(run.created_at)),
    )
    .with_status_message(format!("run {}", run.status))
    .with_poll_interval_ms(POLL_MS)
}

/// A completed task's result: the `CallToolResult` the call would have returned.
fn completed(text: String, value: Value, is_error: bool) -> TaskPayload {
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(value);
    let result = match serde_json::to_value(result) {
        Ok(Value::Object(m)) => m,
        _ => JsonObject::new(),
    };
    TaskPayload::Completed { result }
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn job_error(e: JobError, task_id: &str) -> McpError {
    match e {
        JobError::UnknownJob(_) => unknown(task_id),
        e => McpError::internal_error(e.to_string(), None),
    }
}

fn engine_error(e: EngineError) -> McpError {
    McpError::internal_error(e.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_795_943_336_359), "2026-11-29T09:08:56.359Z");
    }

    #[test]
    fn task_ids_route_by_prefix() {
        assert!(matches!(target("job-abc"), Ok(Target::Job("abc"))));
        assert!(matches!(target("run-abc"), Ok(Target::Run("abc"))));
        let e = target("abc").err().unwrap();
        assert_eq!(e.message, "unknown task `abc`");
    }
}
