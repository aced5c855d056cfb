//! Jobs and artifacts as the store keeps them and every surface (tools, REST, CLI, SDK) shows
//! them: one set of types, so the four agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

states! {
    /// A job's state (the seed's five).
    JobStatus {
        /// Stored, waiting for a worker.
        Pending = "pending",
        /// A worker runs it.
        Running = "running",
        /// It produced its result.
        Completed = "completed",
        /// It failed; `error` says why and what to do.
        Failed = "failed",
        /// Cancelled before it ended.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether the job has ended.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

states! {
    /// What a job runs.
    JobKind {
        /// One call of a host-facing tool.
        Tool = "tool",
        /// One run of a workflow (its run id is the job's id).
        Workflow = "workflow",
        /// One `POST {service_url}/execute` of an external service.
        Service = "service",
    }
}

states! {
    /// What an artifact is (the seed's types).
    ArtifactKind {
        /// A trained model.
        Model = "model",
        /// A chart or figure.
        Plot = "plot",
        /// A document for people.
        Report = "report",
        /// A log.
        Log = "log",
        /// Measurements.
        Metrics = "metrics",
        /// A data set.
        Data = "data",
        /// A configuration.
        Config = "config",
        /// Anything else.
        Other = "other",
    }
}

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct JobReport {
    /// Its id (a UUID).
    pub job_id: String,
    /// What it runs.
    pub kind: JobKind,
    /// The configured job type it was submitted as, if any.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// The tool, the workflow, or the service URL.
    pub target: String,
    /// Its state.
    pub status: JobStatus,
    /// The payload (tool arguments, workflow input, or the service's payload).
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub payload: Value,
    /// The caller's metadata.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub metadata: Value,
    /// Higher runs first.
    pub priority: i64,
    /// Its result, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", schema(value_type = Option<Object>))]
    pub result: Option<Value>,
    /// Why it failed, and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When a worker first took it (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it ended (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// Times a worker started it (more than one after a restart repeated it).
    pub attempts: u32,
    /// The artifacts its payload referenced.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The artifacts it produced.
    #[serde(default)]
    pub artifacts: Vec<String>,
    /// A cancel not yet acted on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel_requested: bool,
}

/// One artifact with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct ArtifactReport {
    /// Its id (a UUID).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: ArtifactKind,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where it is: a path, a URI, or the content-addressed file of inline content.
    pub storage_location: String,
    /// Its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// `sha256:<hex>` of its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free metadata.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub metadata: Value,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The job that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The external service that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// The workflow run that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The step of that run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The artifacts it was made from.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// An artifact's lineage: what it was made from, transitively, and what was made from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Lineage {
    /// The artifact asked about.
    pub artifact: ArtifactReport,
    /// Its ancestors, nearest first.
    pub ancestors: Vec<ArtifactReport>,
    /// Its descendants, nearest first.
    pub descendants: Vec<ArtifactReport>,
}

/// One configured job type and, for a service, its health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct ServiceReport {
    /// The job type's name.
    #[serde(rename = "type")]
    pub job_type: String,
    /// What it runs.
    pub kind: JobKind,
    /// The tool, the workflow, or the service URL.
    pub target: String,
    /// For a service: `healthy`, `unhealthy` or `unknown` (not checked yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// For an unhealthy service: what its health check said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When it was last checked (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
}

/// The `jobs` section of the status report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobsReport {
    /// The configured job types.
    pub types: Vec<ServiceReport>,
    /// Jobs by state, over the store's history.
    pub totals: BTreeMap<String, u64>,
    /// Jobs running in this process.
    pub running_here: usize,
    /// Artifacts registered.
    pub artifacts: u64,
}

impl JobsReport {
    /// The section as `status` prints it.
    pub fn to_text(&self) -> String {
        let mut out = String::from("\njobs:\n");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for t in &self.types {
            let health = match (t.health.as_deref(), t.checked_at) {
                (Some(h), Some(at)) => {
                    format!("  [{h}, checked {} s ago]", (now - at).max(0) / 1000)
                }
                (Some(h), None) => format!("  [{h}]"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {} ({} {}){health}\n",
                t.job_type, t.kind, t.target
            ));
            if let Some(d) = &t.detail {
                out.push_str(&format!("    {d}\n"));
            }
        }
        let totals: Vec<String> = self
            .totals
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        out.push_str(&format!(
            "  totals: {}; running here: {}; artifacts: {}\n",
            if totals.is_empty() {
                "none".to_owned()
            } else {
                totals.join(", ")
            },
            self.running_here,
            self.artifacts
        ));
        out
    }
}
