//! The data the orchestrator reports and a client reads: server states, status and
//! capabilities reports, metrics, and how a unified request was routed. Plain serde types, built
//! with or without the `server` feature, so the client SDK shares them without compiling the
//! orchestrator.

#[macro_use]
mod workflow;
mod jobs;

use std::collections::BTreeMap;

use indexmap::IndexMap;
pub use jobs::{
    ArtifactKind, ArtifactReport, JobKind, JobReport, JobStatus, JobsReport, Lineage, ServiceReport,
};
use serde::{Deserialize, Serialize};
pub use workflow::{
    DefinitionEntry, EventKind, EventReport, RunFailure, RunReport, RunStatus, StepReport,
    StepStatus, WorkflowRun, WorkflowsReport,
};

/// The contract's server states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Spawned, handshake or first listing under way.
    Starting,
    /// Initialized and its lists fetched; calls are routed to it.
    Running,
    /// Running but missed health pings; calls still go to it until it is restarted.
    Unhealthy,
    /// Crashed or was found hung; waiting out the backoff before the next start.
    Restarting,
    /// Crashed too often within the restart window; stays so until a config change or an
    /// explicit restart.
    Failed,
    /// Some `required_env` variable is unset; never started.
    MissingEnv,
    /// Its `command` is neither next to the orchestrator nor on `PATH` (for the project's own
    /// servers: not built yet); `last_error` says how to build or install it. Not retried until
    /// a restart or a config change.
    NotInstalled,
    /// `disabled: true` in the config.
    Disabled,
    /// Stopped by the orchestrator (shutdown or removal).
    Stopped,
}

impl ServerState {
    /// Whether a server in this state keeps its last good catalogue on the surface: it is
    /// coming back (starting again, or waiting out a restart backoff).
    pub fn keeps_catalogue(self) -> bool {
        matches!(self, Self::Starting | Self::Restarting)
    }

    /// Every state, in declaration order.
    pub const ALL: &'static [ServerState] = &[
        Self::Starting,
        Self::Running,
        Self::Unhealthy,
        Self::Restarting,
        Self::Failed,
        Self::MissingEnv,
        Self::NotInstalled,
        Self::Disabled,
        Self::Stopped,
    ];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Unhealthy => "unhealthy",
            Self::Restarting => "restarting",
            Self::Failed => "failed",
            Self::MissingEnv => "missing_env",
            Self::NotInstalled => "not_installed",
            Self::Disabled => "disabled",
            Self::Stopped => "stopped",
        }
    }

    /// Whether calls may be routed to the child.
    pub fn serves_calls(self) -> bool {
        matches!(self, Self::Running | Self::Unhealthy)
    }

    /// Whether the state will not change without outside action: what one-shot commands such as
    /// `status` wait for.
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Starting | Self::Restarting)
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a server's definition came from: the config file, or one of the discovery sources
/// (`orchestrator.discovery`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ServerSource {
    /// `servers` or `mcpServers` in `mcp_servers.json`.
    #[default]
    Config,
    /// An `MCP_SERVER_<ID>_URL` variable.
    Env,
    /// A DNS SRV record.
    Dns,
    /// A labelled Kubernetes Service.
    Kubernetes,
}

impl ServerSource {
    /// The discovery sources, in precedence order (the first wins an id two of them found).
    pub const DISCOVERED: [ServerSource; 3] = [Self::Env, Self::Dns, Self::Kubernetes];

    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Env => "env",
            Self::Dns => "dns",
            Self::Kubernetes => "kubernetes",
        }
    }
}

impl std::fmt::Display for ServerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One discovery source as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryReport {
    /// `env`, `dns` or `kubernetes`.
    pub source: ServerSource,
    /// Servers in its last good set (some may be shadowed by a config server of the same id).
    pub servers: Vec<String>,
    /// Seconds since its last good answer; `None` before the first one.
    pub last_good_age_s: Option<f64>,
    /// Why its last attempt failed; the last good set stays in force meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Ids it found that another definition took (the config file, or a source before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<String>,
}

/// What `status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls flow.
    Closed,
    /// Calls are skipped until the cool-down ends.
    Open,
    /// One probe is allowed to decide.
    HalfOpen,
}

/// Percentiles of a series, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest in the window.
    pub max: u64,
}

/// A process group's resource use at one reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// CPU since the previous reading, percent of one core.
    pub cpu_percent: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// Processes (the child and its descendants).
    pub processes: u64,
    /// CPU time used since start of the live processes, seconds.
    pub cpu_seconds_total: f64,
}

/// One point of resource history: a step's mean CPU and peak memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// The step's start, unix ms.
    pub at: i64,
    /// Mean CPU over the step, percent of one core.
    pub cpu_percent: f64,
    /// Peak resident memory over the step, bytes.
    pub rss_bytes: u64,
    /// Threads at the step's last reading.
    pub threads: u64,
    /// Open file descriptors at the step's last reading.
    pub open_fds: u64,
    /// Median latency of the calls answered during the step, ms (none without calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    /// 99th percentile latency of the calls answered during the step, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
}

/// An alert rule that is pending, firing, or held back by its cooldown, for one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The rule's name.
    pub rule: String,
    /// What it watches (`error_rate`, …).
    pub metric: String,
    /// The server it is about (`-` for orchestrator-wide metrics).
    pub subject: String,
    /// `pending` (breaching, waiting out `for`), `firing`, or `suppressed` (breaching within
    /// the cooldown after it last fired).
    pub state: String,
    /// The metric's last value.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// When it entered this state, unix ms.
    pub since: i64,
}

/// What status shows for a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Calls since start.
    pub calls: u64,
    /// Of which failed (JSON-RPC error or `isError` result).
    pub errors: u64,
    /// Total call latency over the window, µs.
    pub latency_us: Option<Percentiles>,
    /// Time spent in the orchestrator itself (total minus waiting on the child), µs.
    pub overhead_us: Option<Percentiles>,
    /// The last error message.
    pub last_error: Option<String>,
}

/// The whole report, in the contract's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// Per server, in config order.
    pub servers: IndexMap<String, ServerReport>,
    /// Unified tool → vendor chain.
    pub routing: BTreeMap<String, Vec<String>>,
    /// The config file in use.
    pub config: String,
    /// Why the last reload was refused (the running config is the previous one), if it was.
    pub config_error: Option<String>,
    /// Per unified tool that has been called: counts, errors, latency, overhead.
    #[serde(default)]
    pub unified: BTreeMap<String, MetricsSnapshot>,
    /// Workflow definitions and runs, when workflows are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflows: Option<WorkflowsReport>,
    /// Job types, jobs and artifacts, when jobs are configured or have run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsReport>,
    /// The orchestrator process's own resource use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<ResourceSample>,
    /// Alerts pending, firing or held back by their cooldown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertReport>,
    /// The hosts using this orchestrator: handshake-era sessions connected now, and stateless
    /// (2026-07-28) clients seen recently, with their era and extensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostReport>,
    /// The discovery sources in force (`orchestrator.discovery`): their sets, ages and errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery: Vec<DiscoveryReport>,
}

/// One host as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    /// `legacy` (an `initialize` session) or `modern` (stateless requests).
    pub era: String,
    /// The client's name and version, as it gave them.
    pub client: String,
    /// The protocol version it uses.
    pub protocol_version: String,
    /// Protocol extensions it declared (`io.modelcontextprotocol/tasks`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Seconds since its last request (stateless hosts; a session is connected now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_s: Option<f64>,
    /// Its open `subscriptions/listen` streams (stateless hosts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_streams: Option<usize>,
}

/// One server's line in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerReport {
    /// Contract state.
    pub state: ServerState,
    /// Unset required variables (names only).
    pub missing_env: Vec<String>,
    /// Process id.
    pub pid: Option<u32>,
    /// Restarts so far.
    pub restarts: u32,
    /// Tool names as the child calls them.
    pub tools: Vec<String>,
    /// Last failure with stderr context (secrets redacted).
    pub last_error: Option<String>,
    /// Seconds since it reached running.
    pub uptime_s: Option<f64>,
    /// Display name from the config.
    pub name: Option<String>,
    /// Description from the config.
    pub description: Option<String>,
    /// Negotiated protocol version.
    pub protocol_version: Option<String>,
    /// Its protocol era: `legacy` (`initialize`, sessions) or `modern` (2026-07-28, stateless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<String>,
    /// Protocol extensions it declared (`io.modelcontextprotocol/tasks`, `…/skills`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// The child's name and version.
    pub server_info: Option<String>,
    /// Prompt count.
    pub prompts: usize,
    /// Resource count.
    pub resources: usize,
    /// Calls routed to it: counts, errors, latency and router overhead percentiles.
    pub metrics: MetricsSnapshot,
    /// Its circuit breaker, once it has served a unified tool.
    #[serde(default)]
    pub circuit: Option<CircuitState>,
    /// Tools whose definitions changed since they were pinned (see `pin_tools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools_changed: Vec<String>,
    /// Whether those tools are withheld from the host until approved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tools_withheld: bool,
    /// Its process group's resource use (CPU, memory, threads, fds) at the last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ResourceSample>,
    /// Calls in flight now.
    #[serde(default)]
    pub in_flight: usize,
    /// Where its definition came from: `config`, `env`, `dns` or `kubernetes`.
    #[serde(default)]
    pub source: ServerSource,
}

impl StatusReport {
    /// Human-readable rendering for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!("config: {}\n", self.config);
        if let Some(e) = &self.config_error {
            out.push_str(&format!(
                "config reload refused (previous config still running): {e}\n"
            ));
        }
        let width = self
            .servers
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(6)
            .max(6);
        out.push_str(&format!(
            "{:width$}  {:13}  {:>7}  {:>8}  {:>5}  {:>8}  {:>6}  {:>6}  {:>9}  {:>5}  {:>7}\n",
            "SERVER",
            "STATE",
            "PID",
            "RESTARTS",
            "TOOLS",
            "UPTIME",
            "CALLS",
            "ERRORS",
            "P50/P99ms",
            "CPU%",
            "RSS MiB"
        ));
        for (id, s) in &self.servers {
            let pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            let up = s
                .uptime_s
                .map(|u| format!("{u:.1}s"))
                .unwrap_or_else(|| "-".into());
            let lat = s
                .metrics
                .latency_us
                .map(|p| format!("{:.1}/{:.1}", p.p50 as f64 / 1000.0, p.p99 as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            let (cpu, rss) = s.usage.map_or(("-".into(), "-".into()), |u| {
                (
                    format!("{:.1}", u.cpu_percent),
                    format!("{:.1}", u.rss_bytes as f64 / 1_048_576.0),
                )
            });
            out.push_str(&format!(
                "{id:width$}  {:13}  {pid:>7}  {:>8}  {:>5}  {up:>8}  {:>6}  {:>6}  {lat:>9}  {cpu:>5}  {rss:>7}\n",
                s.state.as_str(),
                s.restarts,
                s.tools.len(),
                s.metrics.calls,
                s.metrics.errors,
            ));
            if s.source != ServerSource::Config {
                out.push_str(&format!("{:width$}  discovered: {}\n", "", s.source));
            }
            if !s.missing_env.is_empty() {
                out.push_str(&format!(
                    "{:width$}  missing env: {}\n",
                    "",
                    s.missing_env.join(", ")
                ));
            }
            if !s.tools_changed.is_empty() {
                out.push_str(&format!(
                    "{:width$}  tool definitions changed since pinned{}: {} (approve: mcp-orchestrator approve {id})\n",
                    "",
                    if s.tools_withheld { ", withheld" } else { "" },
                    s.tools_changed.join(", ")
                ));
            }
            if let Some(e) = &s.last_error {
                let first = e.lines().next().unwrap_or_default();
                out.push_str(&format!("{:width$}  last error: {first}\n", ""));
            }
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "alert {} ({} of {}): {} since {} — value {}, threshold {}\n",
                a.rule, a.metric, a.subject, a.state, a.since, a.value, a.threshold
            ));
        }
        if let Some(u) = &self.orchestrator {
            out.push_str(&format!(
                "orchestrator: cpu {:.1}%, rss {:.1} MiB, {} threads, {} fds\n",
                u.cpu_percent,
                u.rss_bytes as f64 / 1_048_576.0,
                u.threads,
                u.open_fds
            ));
        }
        if !self.routing.is_empty() {
            out.push_str("\nrouting:\n");
            for (tool, chain) in &self.routing {
                let m = self.unified.get(tool);
                let calls = m
                    .map(|m| format!("  ({} calls, {} errors)", m.calls, m.errors))
                    .unwrap_or_default();
                out.push_str(&format!("  {tool}: {}{calls}\n", chain.join(" → ")));
            }
        }
        if !self.discovery.is_empty() {
            out.push_str("\ndiscovery:\n");
            for d in &self.discovery {
                out.push_str(&d.to_text());
            }
        }
        if let Some(w) = &self.workflows {
            out.push_str(&w.to_text());
        }
        if let Some(j) = &self.jobs {
            out.push_str(&j.to_text());
        }
        if !self.hosts.is_empty() {
            out.push_str("\nhosts:\n");
            for h in &self.hosts {
                let extensions = if h.extensions.is_empty() {
                    String::new()
                } else {
                    format!(", extensions: {}", h.extensions.join(", "))
                };
                out.push_str(&format!(
                    "  {} ({} {}{extensions})\n",
                    h.client, h.era, h.protocol_version
                ));
            }
        }
        out
    }
}

impl DiscoveryReport {
    /// One line (two with an error) of the text report.
    pub fn to_text(&self) -> String {
        let age = self
            .last_good_age_s
            .map_or("no good answer yet".to_owned(), |a| {
                format!("last good {a:.0}s ago")
            });
        let servers = if self.servers.is_empty() {
            "none".to_owned()
        } else {
            self.servers.join(", ")
        };
        let mut out = format!("  {}: {servers} ({age})\n", self.source);
        if !self.shadowed.is_empty() {
            out.push_str(&format!(
                "    shadowed by another definition: {}\n",
                self.shadowed.join(", ")
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("    failing, keeping the last good set: {e}\n"));
        }
        out
    }
}

/// Everything the host would see, by server: what `capabilities` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapabilitiesReport {
    /// The orchestrator's own tools.
    pub orchestrator: Vec<String>,
    /// Unified tool → vendor chain.
    pub unified: std::collections::BTreeMap<String, Vec<String>>,
    /// Per server, in config order.
    pub servers: IndexMap<String, ServerCapabilities>,
}

/// One server's part of the surface.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCapabilities {
    /// Its state.
    pub state: ServerState,
    /// Its tools as the host sees them.
    pub tools: Vec<ToolEntry>,
    /// Its prompts as the host sees them.
    pub prompts: Vec<String>,
    /// Resource URIs and templates it serves.
    pub resources: Vec<String>,
    /// Its protocol era (`legacy` or `modern`), once connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<String>,
    /// Protocol extensions it declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

/// One tool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolEntry {
    /// Host-facing name.
    pub name: String,
    /// The child's own name.
    pub tool: String,
    /// Its description.
    pub description: Option<String>,
}

/// One attempt, as the result reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// The vendor.
    pub vendor: String,
    /// How it went.
    pub outcome: AttemptOutcome,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// Time spent on it.
    pub ms: f64,
}

/// How one attempt at a vendor went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The vendor answered.
    Ok,
    /// The vendor failed (a fallback or retry may follow).
    Failed,
    /// The vendor was not tried (not running, missing env, circuit open, past the deadline).
    Skipped,
    /// The request itself was wrong; its answer went back without a fallback.
    CallerError,
}

impl AttemptOutcome {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::CallerError => "caller_error",
        }
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AttemptOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How a unified request was served.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Routing {
    /// The vendor that answered.
    pub vendor: Option<String>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Total time.
    pub total_ms: f64,
    /// Time spent in the orchestrator itself (total minus vendors and backoff sleeps).
    pub overhead_ms: f64,
    /// Answered from the cache.
    pub cached: bool,
}
