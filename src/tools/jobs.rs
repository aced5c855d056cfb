//! Jobs and artifacts as host-facing tools: `job_submit`, `job_status`, `job_list`,
//! `job_cancel`, `artifact_register`, `artifact_list`, `artifact_get`, `artifact_lineage`.
//! Listed when job types are configured or workflows are loaded, so a plain router keeps its
//! small surface; callable always (the names are reserved either way).

use std::{sync::Arc, time::Duration};

use base64::Engine as _;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use super::{ToolSource, answer, object_schema, string};
use crate::{
    artifacts::NewArtifact,
    dispatch::{BoxFuture, CallContext, CallOutcome, Caller},
    error::RouteError,
    jobs::{JobError, Jobs},
    report::{ArtifactKind, JobStatus},
    store::{ArtifactFilter, JobFilter},
};

/// Submits a job.
pub const SUBMIT: &str = "job_submit";
/// One job.
pub const STATUS: &str = "job_status";
/// Jobs by filter.
pub const LIST: &str = "job_list";
/// Cancels a job.
pub const CANCEL: &str = "job_cancel";
/// Registers an artifact.
pub const REGISTER: &str = "artifact_register";
/// Artifacts by filter.
pub const ARTIFACTS: &str = "artifact_list";
/// One artifact.
pub const ARTIFACT: &str = "artifact_get";
/// An artifact's lineage.
pub const LINEAGE: &str = "artifact_lineage";

const NAMES: &[&str] = &[
    SUBMIT, STATUS, LIST, CANCEL, REGISTER, ARTIFACTS, ARTIFACT, LINEAGE,
];

/// The longest `job_status` waits when asked to.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// The job and artifact tools.
pub struct JobTools {
    jobs: Arc<Jobs>,
    /// Whether workflows are loaded (the tools are listed then too).
    workflows: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl JobTools {
    /// The tools over `jobs`; `workflows` says whether any workflow is loaded.
    pub fn new(jobs: Arc<Jobs>, workflows: Arc<dyn Fn() -> bool + Send + Sync>) -> Self {
        Self { jobs, workflows }
    }

    async fn answer(
        &self,
        name: &str,
        args: JsonObject,
        cx: &CallContext,
    ) -> Result<CallOutcome, JobError> {
        let jobs = &self.jobs;
        Ok(match name {
            SUBMIT => {
                let job = jobs.submit(Value::Object(args)).await?;
                answer(
                    format!(
                        "job {} submitted ({} {}); job_status shows its progress",
                        job.job_id, job.kind, job.target
                    ),
                    json!({"job_id": job.job_id, "status": job.status}),
                    false,
                )
            }
            STATUS => {
                let id = arg(&args, "job_id")?;
                let wait = args
                    .get("wait_seconds")
                    .and_then(Value::as_f64)
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| Duration::from_secs_f64(s).min(MAX_WAIT));
                let job = match wait {
                    Some(limit) => {
                        match tokio::time::timeout(limit, jobs.wait(&id, &cx.cancel)).await {
                            Ok(job) => job?,
                            // Still running: its state now.
                            Err(_) => jobs.get(&id).await?,
                        }
                    }
                    None => jobs.get(&id).await?,
                };
                let text = match (&job.status, &job.error) {
                    (JobStatus::Failed, Some(e)) => format!("job {id} failed: {e}"),
                    (status, _) => format!("job {id}: {status}"),
                };
                let value = serde_json::to_value(&job).unwrap_or(Value::Null);
                answer(text, value, false)
            }
            LIST => {
                let filter = JobFilter {
                    status: opt(&args, "status")
                        .map(|s| {
                            JobStatus::parse(&s)
                                .ok_or_else(|| JobError::Invalid(format!("unknown status `{s}`")))
                        })
                        .transpose()?,
                    job_type: opt(&args, "type"),
                    limit: limit(&args),
                    after: opt(&args, "cursor"),
                };
                let list = jobs.list(&filter).await?;
                let next = (list.len() == filter.limit as usize)
                    .then(|| list.last().map(|j| j.job_id.clone()))
                    .flatten();
                answer(
                    format!("{} job(s)", list.len()),
                    json!({"jobs": list, "next_cursor": next}),
                    false,
                )
            }
            CANCEL => {
                let id = arg(&args, "job_id")?;
                let job = jobs.cancel(&id).await?;
                answer(
                    format!("cancel requested for job {id} (now {})", job.status),
                    serde_json::to_value(&job).unwrap_or(Value::Null),
                    false,
                )
            }
            REGISTER => {
                let new = ArtifactInput::from_json(Value::Object(args))?.into_new()?;
                let a = jobs.register_artifact(new).await?;
                answer(
                    format!("artifact {} registered ({})", a.id, a.name),
                    serde_json::to_value(&a).unwrap_or(Value::Null),
                    false,
                )
            }
            ARTIFACTS => {
                let filter = ArtifactFilter {
                    kind: opt(&args, "type").map(|t| kind(&t)).transpose()?,
                    job_id: opt(&args, "job_id"),
                    run_id: opt(&args, "run_id"),
                    tag: opt(&args, "tag"),
                    limit: limit(&args),
                };
                let list = jobs.artifacts().list(&filter).await?;
                answer(
                    format!("{} artifact(s)", list.len()),
                    json!({"artifacts": list}),
                    false,
                )
            }
            ARTIFACT => {
                let a = jobs.artifacts().get(&arg(&args, "artifact_id")?).await?;
                answer(
                    format!("artifact {} ({}, {})", a.id, a.name, a.kind),
                    serde_json::to_value(&a).unwrap_or(Value::Null),
                    false,
                )
            }
            _ => {
                let l = jobs
                    .artifacts()
                    .lineage(&arg(&args, "artifact_id")?)
                    .await?;
                answer(
                    format!(
                        "artifact {}: {} ancestor(s), {} descendant(s)",
                        l.artifact.id,
                        l.ancestors.len(),
                        l.descendants.len()
                    ),
                    serde_json::to_value(&l).unwrap_or(Value::Null),
                    false,
                )
            }
        })
    }
}

impl ToolSource for JobTools {
    fn reserved(&self) -> &'static [&'static str] {
        NAMES
    }

    fn tools(&self, _caller: Caller) -> Vec<Tool> {
        if self.jobs.config().types.is_empty() && !(self.workflows)() {
            return Vec::new();
        }
        tools()
    }

    fn owns(&self, name: &str, _caller: Caller) -> bool {
        NAMES.contains(&name)
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            self.answer(name, arguments.unwrap_or_default(), cx)
                .await
                .map_err(|e| RouteError::InvalidParams(e.to_string()))
        })
    }
}

fn arg(args: &JsonObject, key: &str) -> Result<String, JobError> {
    string(args, key).map_err(|e| JobError::Invalid(e.to_string()))
}

fn opt(args: &JsonObject, key: &str) -> Option<String> {
    args.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn limit(args: &JsonObject) -> u32 {
    args.get("limit")
        .and_then(Value::as_u64)
        .map_or(100, |n| n.clamp(1, 1_000) as u32)
}

fn kind(s: &str) -> Result<ArtifactKind, JobError> {
    ArtifactKind::parse(s).ok_or_else(|| {
        let known: Vec<&str> = ArtifactKind::ALL.iter().map(|k| k.as_str()).collect();
        JobError::Invalid(format!(
            "unknown artifact type `{s}` (one of {})",
            known.join(", ")
        ))
    })
}

/// An artifact to register, as `artifact_register` and `POST /artifacts` take it.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactInput {
    /// Its name.
    pub name: String,
    /// What it is (default `other`).
    #[serde(rename = "type", default)]
    pub kind: Option<ArtifactKind>,
    /// What it holds.
    #[serde(default)]
    pub description: Option<String>,
    /// Inline content as text, kept content-addressed.
    #[serde(default)]
    pub content: Option<String>,
    /// Inline content as base64.
    #[serde(default)]
    pub content_base64: Option<String>,
    /// Where it is kept instead (a path or URI).
    #[serde(default)]
    pub storage_location: Option<String>,
    /// `sha256:<hex>`, checked against the content when it can be read.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Its size, for content not readable from here.
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// Its media type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free metadata.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Provenance: the job that made it.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Provenance: the service that made it.
    #[serde(default)]
    pub service_id: Option<String>,
    /// Provenance: the workflow run that made it.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Provenance: that run's step.
    #[serde(default)]
    pub step: Option<String>,
    /// The artifacts it was made from.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

impl ArtifactInput {
    /// Parses the JSON a caller sent.
    pub fn from_json(v: Value) -> Result<Self, JobError> {
        serde_path_to_error::deserialize(v)
            .map_err(|e| JobError::Invalid(format!("artifact {}: {}", e.path(), e.inner())))
    }

    /// As an artifact to register.
    pub fn into_new(self) -> Result<NewArtifact, JobError> {
        let content = match (self.content, self.content_base64) {
            (Some(text), None) => Some(text.into_bytes()),
            (None, Some(b64)) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| {
                        JobError::Invalid(format!("`content_base64` is not base64: {e}"))
                    })?,
            ),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(JobError::Invalid(
                    "give `content` or `content_base64`, not both".into(),
                ));
            }
        };
        if self.metadata.as_ref().is_some_and(|m| !m.is_object()) {
            return Err(JobError::Invalid("`metadata` must be a JSON object".into()));
        }
        Ok(NewArtifact {
            name: self.name,
            kind: self.kind,
            description: self.description,
            content,
            storage_location: self.storage_location,
            checksum: self.checksum,
            size_bytes: self.size_bytes,
            mime_type: self.mime_type,
            tags: self.tags,
            metadata: self.metadata,
            job_id: self.job_id,
            service_id: self.service_id,
            run_id: self.run_id,
            step: self.step,
            dependencies: self.dependencies,
        })
    }
}

fn tools() -> Vec<Tool> {
    let read_only = |mut t: Tool| {
        let mut a = ToolAnnotations::default();
        a.read_only_hint = Some(true);
        t.annotations = Some(a);
        t
    };
    let id = |key: &str| json!({ key: {"type": "string"} });
    let kinds: Vec<&str> = ArtifactKind::ALL.iter().map(|k| k.as_str()).collect();
    vec![
        Tool::new(
            SUBMIT,
            "Submits a job and returns its id at once: {\"type\", \"payload\", \"metadata\"} for a configured job type, {\"tool\", \"arguments\"} for a tool call, or {\"workflow\", \"input\"}; optional priority and ttl (seconds kept once finished). A payload string `artifact://<id>` is replaced by that artifact's descriptor and recorded as a dependency.",
            object_schema(
                json!({
                    "type": {"type": "string", "description": "A configured job type (services list)."},
                    "payload": {"type": "object"},
                    "tool": {"type": "string"},
                    "arguments": {"type": "object"},
                    "workflow": {"type": "string"},
                    "input": {"type": "object"},
                    "metadata": {"type": "object"},
                    "priority": {"type": "integer"},
                    "ttl": {"type": "number"}
                }),
                &[],
            ),
        ),
        read_only(Tool::new(
            STATUS,
            "A job's state, result or error, timestamps and artifacts; `wait_seconds` waits (up to 300 s) for it to end.",
            object_schema(
                json!({"job_id": {"type": "string"}, "wait_seconds": {"type": "number"}}),
                &["job_id"],
            ),
        )),
        read_only(Tool::new(
            LIST,
            "Jobs, newest first; filters: status, type; pages: limit, cursor (the last page's next_cursor).",
            object_schema(
                json!({
                    "status": {"type": "string", "enum": JobStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()},
                    "type": {"type": "string"},
                    "limit": {"type": "integer"},
                    "cursor": {"type": "string"}
                }),
                &[],
            ),
        )),
        Tool::new(
            CANCEL,
            "Cancels a job: its tool call is cancelled, its workflow compensated, its service request aborted.",
            object_schema(id("job_id"), &["job_id"]),
        ),
        Tool::new(
            REGISTER,
            "Registers an artifact: inline `content` (or `content_base64`), kept content-addressed, or a `storage_location` (a local file's sha256 is checked against `checksum`). Provenance: job_id, run_id, step, dependencies (artifact ids).",
            object_schema(
                json!({
                    "name": {"type": "string"},
                    "type": {"type": "string", "enum": kinds},
                    "description": {"type": "string"},
                    "content": {"type": "string"},
                    "content_base64": {"type": "string"},
                    "storage_location": {"type": "string"},
                    "checksum": {"type": "string", "description": "sha256:<hex>"},
                    "size_bytes": {"type": "integer"},
                    "mime_type": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "metadata": {"type": "object"},
                    "job_id": {"type": "string"},
                    "run_id": {"type": "string"},
                    "step": {"type": "string"},
                    "dependencies": {"type": "array", "items": {"type": "string"}}
                }),
                &["name"],
            ),
        ),
        read_only(Tool::new(
            ARTIFACTS,
            "Artifacts, newest first; filters: type, job_id, run_id, tag, limit.",
            object_schema(
                json!({
                    "type": {"type": "string", "enum": kinds},
                    "job_id": {"type": "string"},
                    "run_id": {"type": "string"},
                    "tag": {"type": "string"},
                    "limit": {"type": "integer"}
                }),
                &[],
            ),
        )),
        read_only(Tool::new(
            ARTIFACT,
            "One artifact's descriptor and provenance; its content is the resource artifact://<id>.",
            object_schema(id("artifact_id"), &["artifact_id"]),
        )),
        read_only(Tool::new(
            LINEAGE,
            "What an artifact was made from and what was made from it, transitively.",
            object_schema(id("artifact_id"), &["artifact_id"]),
        )),
    ]
}
