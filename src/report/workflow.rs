//! Workflow runs as the store keeps them and a client reads them: run and step states, the
//! events of a run, and one run's report.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Defines a state enum with its contract spelling, parsing and terminal test in one place, so
/// the store's text columns, the JSON reports and the CLI agree.
macro_rules! states {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract's spelling (also the store's).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value spelt `s`, if one is.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

states! {
    /// A workflow run's state.
    RunStatus {
        /// Stored, not yet picked up by a worker.
        Pending = "pending",
        /// A worker is driving it.
        Running = "running",
        /// Starts no new step until resumed; survives a restart paused.
        Paused = "paused",
        /// Every step completed or was skipped.
        Completed = "completed",
        /// A step failed and there was nothing to compensate, or compensation failed.
        Failed = "failed",
        /// Cancelled by a caller; completed steps were compensated.
        Cancelled = "cancelled",
        /// A step failed and every completed step was compensated.
        Compensated = "compensated",
    }
}

impl RunStatus {
    /// Whether the run has ended (nothing will change it again).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Compensated
        )
    }
}

states! {
    /// A step's state within a run.
    StepStatus {
        /// Waiting for its dependencies or a slot.
        Pending = "pending",
        /// Its tool call is under way.
        Running = "running",
        /// Its tool returned a result.
        Completed = "completed",
        /// Its tool failed after every retry.
        Failed = "failed",
        /// Its condition was false, or everything it depends on was skipped.
        Skipped = "skipped",
        /// Stopped (or never started) because the run failed or was cancelled.
        Cancelled = "cancelled",
        /// Its compensation is running.
        Compensating = "compensating",
        /// Its compensation succeeded.
        Compensated = "compensated",
        /// Its compensation failed after every retry; needs a human.
        CompensationFailed = "compensation_failed",
        /// It was running when the process died and is not safe to repeat.
        Unknown = "unknown",
    }
}

impl StepStatus {
    /// Whether the step counts as done for its dependants' sake.
    pub const fn is_done(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped)
    }
}

states! {
    /// What happened in a run; kept per run and written as log lines.
    EventKind {
        /// The run started (or resumed after a restart).
        WorkflowStarted = "workflow_started",
        /// A step's call started (one event per attempt).
        StepStarted = "step_started",
        /// A step completed.
        StepCompleted = "step_completed",
        /// A step's attempt failed (`detail.final` says whether retries are exhausted).
        StepFailed = "step_failed",
        /// A step was skipped.
        StepSkipped = "step_skipped",
        /// A step was cancelled.
        StepCancelled = "step_cancelled",
        /// A running step found after a restart was not safe to repeat.
        StepUnknown = "step_unknown",
        /// Compensation of the completed steps began.
        WorkflowCompensationStarted = "workflow_compensation_started",
        /// A step's compensation succeeded.
        StepCompensated = "step_compensated",
        /// A step's compensation failed after its retries.
        StepCompensationFailed = "step_compensation_failed",
        /// The run was paused.
        WorkflowPaused = "workflow_paused",
        /// The run was resumed.
        WorkflowResumed = "workflow_resumed",
        /// The run was cancelled.
        WorkflowCancelled = "workflow_cancelled",
        /// The run failed.
        WorkflowFailed = "workflow_failed",
        /// The run completed.
        WorkflowCompleted = "workflow_completed",
    }
}

/// One step of a run, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step's name in the definition.
    pub name: String,
    /// Its state.
    pub status: StepStatus,
    /// Calls made so far (retries included).
    pub attempts: u32,
    /// Its result, once completed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub output: Option<Value>,
    /// Why it failed, or why its compensation did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started_at: Option<i64>,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished_at: Option<i64>,
}

/// One run, as `workflow status` and the SDK's `workflow_status` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run id (a UUID).
    pub run_id: String,
    /// The definition's name.
    pub workflow: String,
    /// The sha256 of the definition the run is pinned to.
    pub definition: String,
    /// Its state.
    pub status: RunStatus,
    /// The run's input.
    pub input: Value,
    /// Its output, once completed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub output: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished_at: Option<i64>,
    /// Steps in definition order.
    pub steps: Vec<StepReport>,
}

/// What a `workflow__<name>` call returns: the run's id and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// The run id: `workflow_status` and `workflow_cancel` take it.
    pub run_id: String,
    /// How it ended (or where it stood when the caller stopped waiting).
    pub status: RunStatus,
    /// Its output, when completed.
    #[serde(default)]
    pub output: Option<Value>,
    /// Why it did not complete.
    #[serde(default)]
    pub error: Option<String>,
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    /// Its order within the store (increasing).
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// What happened.
    pub kind: EventKind,
    /// The step it concerns.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<String>,
    /// Details (attempt, error, duration).
    #[serde(skip_serializing_if = "Value::is_null", default)]
    pub detail: Value,
}

/// The `workflows` section of the status report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowsReport {
    /// The store, password removed: `sqlite://…` or `postgres://…`.
    #[serde(default)]
    pub store: String,
    /// The store's size on disk, in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub store_bytes: Option<u64>,
    /// Loaded definitions by name, with their sha256.
    pub definitions: Vec<DefinitionEntry>,
    /// Files in the workflows dir that did not validate: file, key, message.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<String>,
    /// Runs not yet ended.
    pub active_runs: u64,
    /// Runs by state, over the store's whole history.
    pub totals: std::collections::BTreeMap<String, u64>,
    /// Mean duration of ended runs, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub average_duration_ms: Option<f64>,
    /// The most recent failed runs: id, workflow, error.
    pub last_failures: Vec<RunFailure>,
}

impl WorkflowsReport {
    /// The status table's `workflows` section.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "\nworkflows (store {}{}):\n",
            self.store,
            self.store_bytes
                .map(|b| format!(", {} KiB", b / 1024))
                .unwrap_or_default()
        );
        for d in &self.definitions {
            out.push_str(&format!(
                "  {} {} ({} steps, {})\n",
                d.name, d.version, d.steps, d.file
            ));
        }
        for e in &self.errors {
            out.push_str(&format!("  error: {e}\n"));
        }
        let totals: Vec<String> = self
            .totals
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        out.push_str(&format!(
            "  runs: {} active; {}{}\n",
            self.active_runs,
            if totals.is_empty() {
                "none yet".into()
            } else {
                totals.join(", ")
            },
            self.average_duration_ms
                .map(|ms| format!("; average {ms:.0} ms"))
                .unwrap_or_default()
        ));
        for f in &self.last_failures {
            out.push_str(&format!(
                "  {} {} {}: {}\n",
                f.status,
                f.workflow,
                f.run_id,
                f.error.as_deref().unwrap_or("-")
            ));
        }
        out
    }
}

/// A loaded definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionEntry {
    /// Its name.
    pub name: String,
    /// Its version string.
    pub version: String,
    /// The sha256 of its canonical form.
    pub sha256: String,
    /// The file it came from.
    pub file: String,
    /// Its step count.
    pub steps: usize,
}

/// A failed run, in brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The run id.
    pub run_id: String,
    /// The definition's name.
    pub workflow: String,
    /// Its end state (`failed` or `compensated`).
    pub status: RunStatus,
    /// Why.
    pub error: Option<String>,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_parse_and_serde() {
        for s in StepStatus::ALL {
            assert_eq!(StepStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
        }
        for s in EventKind::ALL {
            assert_eq!(EventKind::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(StepStatus::parse("nope"), None);
        assert!(RunStatus::Compensated.is_terminal() && !RunStatus::Paused.is_terminal());
    }
}
