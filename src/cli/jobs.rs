//! `jobs`: submit, status, list, cancel, wait. Submit and cancel go through the running
//! instance's control socket when there is one (it runs or stops the job at once), otherwise to
//! the store (the next `serve` on it runs the job). Reads go to the store, which every instance
//! on it shares.

use std::{path::Path, process::ExitCode, time::Duration};

use serde_json::{Map, Value, json};

use super::{
    Failure, output,
    remote::{Remote, refused},
};
use crate::{
    app,
    artifacts::Artifacts,
    config::Config,
    engine::clock::{Clock, SystemClock},
    jobs,
    report::{JobReport, JobStatus},
    store::{JobFilter, Store},
    tools::jobs as tools,
};

/// How often `jobs wait` looks.
const POLL: Duration = Duration::from_millis(250);

/// `jobs` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Submit a job and print its id.
    Submit {
        /// A configured job type (`services list`).
        #[arg(long = "type", value_name = "TYPE", conflicts_with_all = ["tool", "workflow"])]
        job_type: Option<String>,
        /// A host-facing tool to call instead.
        #[arg(long, conflicts_with = "workflow")]
        tool: Option<String>,
        /// A workflow to run instead.
        #[arg(long)]
        workflow: Option<String>,
        /// The payload (tool arguments, workflow input), a JSON object; `artifact://<id>`
        /// strings in it are replaced by that artifact's descriptor. Also spelt `--config JSON`
        /// (the seed's spelling; a JSON value after `jobs submit` is never the config file).
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Metadata, a JSON object.
        #[arg(long)]
        metadata: Option<String>,
        /// Higher runs first.
        #[arg(long, default_value_t = 0)]
        priority: i64,
        /// Seconds to keep the job once finished.
        #[arg(long)]
        ttl: Option<f64>,
        /// Wait for it to end, showing its progress.
        #[arg(long)]
        wait: bool,
    },
    /// A job's state, result or error.
    Status {
        /// The job id.
        id: String,
    },
    /// Jobs, newest first.
    List {
        /// Only jobs in this state.
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this type.
        #[arg(long = "type", value_name = "TYPE")]
        job_type: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Cancel a job.
    Cancel {
        /// The job id.
        id: String,
    },
    /// Wait for a job to end, showing its progress; exits 1 unless it completed.
    Wait {
        /// The job id.
        id: String,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
    },
}

/// Runs one verb.
pub async fn execute(path: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    match args.verb {
        Verb::Submit {
            job_type,
            tool,
            workflow,
            payload,
            metadata,
            priority,
            ttl,
            wait: then_wait,
        } => {
            let payload = object("--payload", &payload)?;
            let mut s = Map::new();
            match (job_type, tool, workflow) {
                (Some(t), None, None) => {
                    s.insert("type".into(), t.into());
                    s.insert("payload".into(), payload);
                }
                (None, Some(t), None) => {
                    s.insert("tool".into(), t.into());
                    s.insert("arguments".into(), payload);
                }
                (None, None, Some(w)) => {
                    s.insert("workflow".into(), w.into());
                    s.insert("input".into(), payload);
                }
                _ => {
                    return Err(Failure {
                        code: 2,
                        message: "name what to run: --type TYPE, --tool NAME or --workflow NAME"
                            .into(),
                    }
                    .into());
                }
            }
            if let Some(m) = metadata {
                s.insert("metadata".into(), object("--metadata", &m)?);
            }
            s.insert("priority".into(), priority.into());
            if let Some(t) = ttl {
                s.insert("ttl".into(), t.into());
            }
            let id = submit(path, s, json, then_wait).await?;
            if then_wait {
                return wait(path, &id, None, json).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Status { id } => {
            let job = read(path, |store| async move { store.job(&id).await }).await?;
            let job = job.ok_or_else(|| unknown_job(path))?;
            show(&job, json);
            Ok(ExitCode::SUCCESS)
        }
        Verb::List {
            status,
            job_type,
            limit,
        } => {
            let status = status
                .map(|s| {
                    JobStatus::parse(&s).ok_or_else(|| Failure {
                        code: 2,
                        message: format!(
                            "unknown status `{s}` (one of pending, running, completed, failed, cancelled)"
                        ),
                    })
                })
                .transpose()?;
            let filter = JobFilter {
                status,
                job_type,
                limit,
                after: None,
            };
            let list = read(path, |store| async move { store.jobs(&filter).await }).await?;
            if json {
                output::json(&json!({"jobs": list}));
            } else if list.is_empty() {
                output::out("no jobs");
            } else {
                output::out(&format!(
                    "{:36}  {:9}  {:24}  {:>8}  ERROR",
                    "ID", "STATUS", "TYPE", "SECONDS"
                ));
                for j in &list {
                    output::out(&format!(
                        "{:36}  {:9}  {:24}  {:>8}  {}",
                        j.job_id,
                        j.status.as_str(),
                        truncate(j.job_type.as_deref().unwrap_or(&j.target), 24),
                        duration(j),
                        truncate(j.error.as_deref().unwrap_or(""), 60)
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Cancel { id } => cancel(path, &id, json).await,
        Verb::Wait { id, timeout } => {
            wait(path, &id, timeout.map(Duration::from_secs_f64), json).await
        }
    }
}

/// Submits through the running instance, else stores the job; prints and returns its id (on
/// stderr when a wait follows, whose answer is the command's output).
async fn submit(
    path: &Path,
    s: Map<String, Value>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<String> {
    if let Some(remote) = Remote::connect(path).await {
        let result = remote.call(tools::SUBMIT, s).await;
        remote.close().await;
        let result = result?;
        let value = result.structured_content.clone().unwrap_or(Value::Null);
        let Some(id) = value["job_id"].as_str().map(str::to_owned) else {
            return Err(refused(&result));
        };
        if quiet {
            output::note(&format!("job {id} submitted"));
        } else if json {
            output::json(&value);
        } else {
            output::out(&id);
        }
        return Ok(id);
    }
    let (config, artifacts) = local(path).await?;
    let now = SystemClock.now_ms();
    let job = jobs::enqueue(&artifacts, &config.jobs, Value::Object(s), now).await;
    artifacts.store().close().await;
    let job = job.map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    if quiet {
        output::note(&format!("job {} stored", job.job_id));
    } else if json {
        output::json(&json!({"job_id": job.job_id, "status": job.status}));
    } else {
        output::out(&job.job_id);
        output::note(
            "no instance is running: the job is stored, and the next `mcp-orchestrator serve` on this config runs it",
        );
    }
    Ok(job.job_id)
}

async fn cancel(path: &Path, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let job: JobReport = if let Some(remote) = Remote::connect(path).await {
        let mut args = Map::new();
        args.insert("job_id".into(), id.into());
        let result = remote.call(tools::CANCEL, args).await;
        remote.close().await;
        let result = result?;
        match result.structured_content.clone() {
            Some(v) if result.is_error != Some(true) => serde_json::from_value(v)?,
            _ => return Err(refused(&result)),
        }
    } else {
        let (_, artifacts) = local(path).await?;
        let store = artifacts.store();
        let before = store.cancel_job(id, SystemClock.now_ms()).await?;
        let job = store.job(id).await?;
        store.close().await;
        match (before, job) {
            (Some(b), Some(_)) if b.is_terminal() => {
                return Err(Failure {
                    code: 1,
                    message: format!("job `{id}` has already ended ({b})"),
                }
                .into());
            }
            (_, Some(job)) => job,
            _ => return Err(unknown_job(path).into()),
        }
    };
    if json {
        output::json(&job);
    } else {
        output::out(&format!(
            "job {id}: {}{}",
            job.status,
            if job.cancel_requested {
                " (cancel requested; the worker running it stops it)"
            } else {
                ""
            }
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls the store until the job ends, telling each change on stderr.
async fn wait(
    path: &Path,
    id: &str,
    timeout: Option<Duration>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, artifacts) = local(path).await?;
    let store = artifacts.store().clone();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut seen: Option<(JobStatus, u32)> = None;
    let job = loop {
        let job = store.job(id).await?.ok_or_else(|| unknown_job(path))?;
        if seen != Some((job.status, job.attempts)) {
            seen = Some((job.status, job.attempts));
            // Progress goes to stderr in either mode: stdout keeps the one answer.
            output::note(&format!(
                "job {id}: {}{}",
                job.status,
                if job.attempts > 1 {
                    format!(" (attempt {})", job.attempts)
                } else {
                    String::new()
                }
            ));
        }
        if job.status.is_terminal() {
            break job;
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            store.close().await;
            return Err(Failure {
                code: 1,
                message: format!("job {id} is still {} after the timeout", job.status),
            }
            .into());
        }
        tokio::time::sleep(POLL).await;
    };
    store.close().await;
    show(&job, json);
    Ok(if job.status == JobStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn show(job: &JobReport, json: bool) {
    if json {
        output::json(job);
        return;
    }
    output::out(&format!(
        "job {} ({} {}): {}",
        job.job_id,
        job.job_type.as_deref().unwrap_or(job.kind.as_str()),
        job.target,
        job.status
    ));
    if let Some(e) = &job.error {
        output::out(&format!("  error: {e}"));
    }
    if let Some(r) = &job.result {
        output::out(&format!("  result: {r}"));
    }
    if !job.inputs.is_empty() {
        output::out(&format!("  inputs: {}", job.inputs.join(", ")));
    }
    if !job.artifacts.is_empty() {
        output::out(&format!("  artifacts: {}", job.artifacts.join(", ")));
    }
}

/// The config and its artifact registry (and store), opened directly.
pub(super) async fn local(path: &Path) -> anyhow::Result<(Config, Artifacts)> {
    let config = super::load(path)?;
    let store = Store::open(&app::store_url(&config)).await?;
    let dir = config
        .jobs
        .artifacts_dir
        .clone()
        .unwrap_or_else(|| crate::paths::artifacts_dir(&config.path));
    Ok((config, Artifacts::new(store, dir)))
}

/// Runs a read on the store and closes it.
async fn read<T, F, Fut>(path: &Path, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::store::StoreError>>,
{
    let (_, artifacts) = local(path).await?;
    let store = artifacts.store().clone();
    let out = f(store.clone()).await;
    store.close().await;
    Ok(out?)
}

fn object(flag: &str, text: &str) -> anyhow::Result<Value> {
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Failure {
            code: 2,
            message: format!("{flag} must be a JSON object"),
        }
        .into()),
        Err(e) => Err(Failure {
            code: 2,
            message: format!("{flag} is not JSON: {e}"),
        }
        .into()),
    }
}

fn unknown_job(path: &Path) -> Failure {
    Failure {
        code: 1,
        message: format!(
            "unknown job (not in the store of {}); `jobs list` shows the jobs",
            path.display()
        ),
    }
}

fn duration(j: &JobReport) -> String {
    match (j.started_at, j.finished_at) {
        (Some(s), Some(f)) => format!("{:.1}", (f - s) as f64 / 1000.0),
        _ => "-".into(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    let first = s.lines().next().unwrap_or_default();
    if first.chars().count() <= n {
        first.to_owned()
    } else {
        let mut t: String = first.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
