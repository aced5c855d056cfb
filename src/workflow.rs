//! Workflow definitions: files in the seed format (YAML or JSON) → a validated step graph.
//!
//! Two phases, like the config: [`raw`] is pure serde (every unknown key an error, named by its
//! path through `serde_path_to_error`), and [`validate`] turns it into a [`Definition`]: targets
//! checked against the configured [`World`], `dependsOn` resolved to indices, cycles refused,
//! templates and conditions compiled, and every step a template or condition names checked to be
//! upstream of the step that names it. Nothing here runs a step: the engine does, against these
//! types.
//!
//! The document is pinned by the sha256 of its canonical JSON ([`Definition::body`]), the same
//! for the YAML and the JSON spelling of one document; the store keeps the body and
//! [`parse_stored`] reads it back, so a run resumes against exactly the definition it started
//! with.
//!
//! References in `params`, compensation `params`, `output` and `condition` (see [`template`]):
//! - a whole string `$input`, `$input.a.b`, `$steps.<step>.result`, `$steps.<step>.result.<path>`
//!   or `$artifacts.<id>[.<path>]` is replaced by the value, keeping its JSON type; a missing
//!   path, or a step with no result in scope (skipped), gives `null`;
//! - `${input.a}` inside a longer string interpolates: strings are inserted as they are, other
//!   values as compact JSON, and a missing value as the empty string (not the text `null`);
//! - `$$` is a literal `$`; elsewhere in a string a `$` not followed by `{` or `$` is literal too,
//!   but a string that *starts* with `$` must be a reference, `${…}` or `$$`.
//!
//! Paths are `.key` (letters, digits, `_`, `-`) and `[n]`. A `condition` that is one whole
//! reference is true when its value is truthy (JavaScript's rule: `null`, `false`, `0`, `""`,
//! `[]` and `{}` are false); any other condition is a CEL expression over `input` and `steps`
//! (see [`condition`]).
//!
//! Each step's `parallel: true` of the seed is accepted and means nothing more: steps already
//! run in parallel unless `dependsOn` orders them.

mod canonical;
mod condition;
mod duration;
mod graph;
mod load;
mod raw;
mod template;
mod validate;

#[cfg(test)]
mod tests;

use std::{path::PathBuf, time::Duration};

use rmcp::model::JsonObject;

pub use condition::Condition;
pub use graph::{dot, mermaid};
pub use load::{Loaded, load_dir, parse, parse_stored};
pub use template::{Scope, Template};

/// A validated workflow definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Its name, `^[a-zA-Z0-9_-]{1,54}$`; the host sees it as [`Definition::tool_name`].
    pub name: String,
    /// Its version string, as written.
    pub version: String,
    /// What it does; the host-facing tool's description.
    pub description: Option<String>,
    /// The whole run's time limit.
    pub timeout: Option<Duration>,
    /// The JSON Schema of the run's input; the tool's `inputSchema`.
    pub input_schema: Option<JsonObject>,
    /// How ready steps are ordered and bounded.
    pub strategy: Strategy,
    /// The steps, in file order (a step's `index` is its place here).
    pub steps: Vec<Step>,
    /// What the run returns; `None`: every step's result by step name.
    pub output: Option<Template>,
    /// Hex SHA-256 of [`Definition::body`]: the version of the definition a run is pinned to.
    pub sha256: String,
    /// The document as canonical JSON (keys sorted, compact): what the store keeps.
    pub body: String,
    /// The file it came from (`<store:SHA>` for a stored definition).
    pub file: PathBuf,
}

impl Definition {
    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The host-facing tool that runs this workflow.
    pub fn tool_name(&self) -> String {
        format!("workflow__{}", self.name)
    }

    /// The steps that list step `i` in their `dependsOn`, in file order.
    #[cfg(test)]
    pub fn dependants(&self, i: usize) -> Vec<usize> {
        self.steps
            .iter()
            .filter(|s| s.depends_on.contains(&i))
            .map(|s| s.index)
            .collect()
    }

    /// Every step step `i` depends on, directly or through others.
    #[cfg(test)]
    pub fn upstream(&self, i: usize) -> std::collections::BTreeSet<usize> {
        let deps: Vec<&[usize]> = self.steps.iter().map(|s| s.depends_on.as_slice()).collect();
        validate::upstream_of(&deps, i)
    }
}

/// How the engine picks among ready steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// One step at a time, in file order among the ready ones.
    Sequential,
    /// Every ready step at once, up to `max_concurrent_steps`.
    #[default]
    Parallel,
    /// Ready steps by `priority`, highest first.
    Priority,
    /// Ready steps while their `resources` fit what is free.
    ResourceAware,
    /// Concurrency adjusted to how steps fare.
    Adaptive,
}

impl Strategy {
    /// Every strategy, in declaration order.
    pub const ALL: &'static [Strategy] = &[
        Self::Sequential,
        Self::Parallel,
        Self::Priority,
        Self::ResourceAware,
        Self::Adaptive,
    ];

    /// The file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Parallel => "parallel",
            Self::Priority => "priority",
            Self::ResourceAware => "resource_aware",
            Self::Adaptive => "adaptive",
        }
    }

    /// The strategy spelt `s`, if one is.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its name, unique in the definition.
    pub name: String,
    /// Its place in [`Definition::steps`].
    pub index: usize,
    /// What it calls.
    pub target: Target,
    /// The call's arguments (always an object once rendered).
    pub params: Template,
    /// One attempt's time limit.
    pub timeout: Option<Duration>,
    /// Attempts after the first (default 0).
    pub retries: u32,
    /// The steps it waits for, as indices into [`Definition::steps`], in the file's order.
    pub depends_on: Vec<usize>,
    /// Run only when this holds; otherwise the step is skipped.
    pub condition: Option<Condition>,
    /// What undoes it when the run fails after it completed.
    pub compensation: Option<Compensation>,
    /// Higher runs first under [`Strategy::Priority`] (default 0).
    pub priority: i64,
    /// What it needs under [`Strategy::ResourceAware`].
    pub resources: Resources,
    /// Safe to repeat after a crash even if its tool does not say so.
    pub idempotent: bool,
}

/// The call that undoes a completed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Compensation {
    /// What it calls. For a [`Target::Capability`] step with `action` only, this is a
    /// [`Target::Capability`] too: the engine runs it on the server that ran the step.
    pub target: Target,
    /// Its arguments; may reference the step's own result and anything upstream of it.
    pub params: Template,
    /// Attempts after the first (default 2).
    pub retries: u32,
}

/// What a step (or a compensation) calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A configured server's own tool.
    Server {
        /// The server id from the config.
        server: String,
        /// That server's own tool name.
        tool: String,
    },
    /// A host-facing tool: `chat`, `embed`, `workflow__x`, `server__tool`.
    Tool {
        /// Its host-facing name.
        name: String,
    },
    /// A tool on any running server whose config lists the capability, healthiest first.
    Capability {
        /// The capability.
        capability: String,
        /// The server's own tool name.
        tool: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server { server, tool } => write!(f, "{server}/{tool}"),
            Self::Tool { name } => f.write_str(name),
            Self::Capability { capability, tool } => write!(f, "capability:{capability}/{tool}"),
        }
    }
}

/// What a step needs to run, for [`Strategy::ResourceAware`]; zero is "nothing declared".
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resources {
    /// CPUs (fractions allowed).
    pub cpu: f64,
    /// Memory in MiB.
    pub memory_mb: u64,
}

/// Why a workflow file is not a usable definition: the file, the key and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {}{message}", .file.display(), at_prefix(.at))]
pub struct WorkflowError {
    /// The file.
    pub file: PathBuf,
    /// The key, as a path like `steps[2].dependsOn[0]`; empty for the whole file.
    pub at: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn at_prefix(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{at}: ")
    }
}

/// The live surface's answer to "does server `s` have tool `t`?": `None` when it cannot tell.
pub type LiveTool<'a> = &'a dyn Fn(&str, &str) -> Option<bool>;

/// What a definition is checked against: the configured servers and, when one runs, the live
/// tool surface.
pub struct World<'a> {
    /// Whether `id` is a configured server.
    pub servers: &'a dyn Fn(&str) -> bool,
    /// Whether some configured server lists the capability.
    pub capability: &'a dyn Fn(&str) -> bool,
    /// The live surface, when one runs: `Some(true)`/`Some(false)` when the server is up and has
    /// or lacks the tool, `None` when that cannot be told (the server is not up): no error then.
    pub tool: Option<LiveTool<'a>>,
    /// The host-facing tool names known now, when known.
    pub host_tool: Option<&'a dyn Fn(&str) -> bool>,
}

fn anything(_: &str) -> bool {
    true
}

impl World<'static> {
    /// Accepts every server, capability and tool: used to re-read stored definitions, which were
    /// checked when they were loaded and must still resume if the config changed since.
    pub fn permissive() -> World<'static> {
        World {
            servers: &anything,
            capability: &anything,
            tool: None,
            host_tool: None,
        }
    }
}
