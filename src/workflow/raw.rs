//! A workflow file as serde sees it: no defaults applied, nothing checked beyond shape.
//!
//! Every struct denies unknown keys, so a misspelt `dependsOnn` is an error naming
//! `steps[0].dependsOnn` rather than a step that silently depends on nothing. The types also
//! serialize (absent keys stay absent) because the canonical body the store keeps is made from
//! them. Values whose rules need a good message (`version`, `timeout`, templates) are kept as
//! JSON and checked in [`super::validate`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole document.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a workflow document")]
pub struct RawDefinition {
    /// The workflow's name.
    pub name: String,
    /// Its version: a string (a number is refused in validation, with a hint to quote it).
    pub version: Value,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Milliseconds, or a string like `"3m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Value>,
    /// The input's JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// `sequential`, `parallel`, `priority`, `resource_aware` or `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The steps, in order.
    pub steps: Vec<RawStep>,
    /// The run's output template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// One step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a step")]
pub struct RawStep {
    /// Its name.
    pub name: String,
    /// A server id (with `action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<String>,
    /// The server's own tool name (with `mcp` or `capability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A host-facing tool name (alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// A capability some server lists (with `action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The call's arguments, a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// One attempt's time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Value>,
    /// Attempts after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// The seed's marker; steps are parallel unless ordered, so it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
    /// Step names it waits for.
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// A whole reference or a CEL expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// What undoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<RawCompensation>,
    /// Scheduling priority under `strategy: priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// What it needs under `strategy: resource_aware`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<RawResources>,
    /// Safe to repeat after a crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
}

/// A step's compensation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a compensation")]
pub struct RawCompensation {
    /// A server id; defaults to the step's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<String>,
    /// The server's own tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A host-facing tool name (alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Its arguments, a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// Attempts after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A step's resource needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "resources")]
pub struct RawResources {
    /// CPUs, fractions allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Memory in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
}
