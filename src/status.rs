//! The status report: what `status --json` prints and `orchestrator_status` returns.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::supervisor::{ChildHandle, ServerState};

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
    pub unified: BTreeMap<String, crate::metrics::MetricsSnapshot>,
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
    /// The child's name and version.
    pub server_info: Option<String>,
    /// Prompt count.
    pub prompts: usize,
    /// Resource count.
    pub resources: usize,
    /// Calls routed to it: counts, errors, latency and router overhead percentiles.
    pub metrics: crate::metrics::MetricsSnapshot,
    /// Its circuit breaker, once it has served a unified tool.
    #[serde(default)]
    pub circuit: Option<crate::unified::breaker::CircuitState>,
}

impl ServerReport {
    /// The report for one child now.
    pub fn of(handle: &ChildHandle) -> Self {
        let s = handle.status();
        let spec = handle.spec();
        Self {
            state: s.state,
            missing_env: s.missing_env.clone(),
            pid: s.pid,
            restarts: s.restarts,
            tools: s.tools.iter().map(|t| t.name.to_string()).collect(),
            last_error: s.last_error.clone(),
            uptime_s: s
                .running_since
                .map(|t| (t.elapsed().as_secs_f64() * 10.0).round() / 10.0),
            name: spec.name.clone(),
            description: spec.description.clone(),
            protocol_version: s.protocol_version.clone(),
            server_info: s.server_info.clone(),
            prompts: s.prompts.len(),
            resources: s.resources.len() + s.resource_templates.len(),
            metrics: handle.metrics().snapshot(),
            circuit: None,
        }
    }
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
            "{:width$}  {:11}  {:>7}  {:>8}  {:>5}  {:>8}  {:>6}  {:>6}  {:>9}\n",
            "SERVER", "STATE", "PID", "RESTARTS", "TOOLS", "UPTIME", "CALLS", "ERRORS", "P50/P99ms"
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
            out.push_str(&format!(
                "{id:width$}  {:11}  {pid:>7}  {:>8}  {:>5}  {up:>8}  {:>6}  {:>6}  {lat:>9}\n",
                s.state.as_str(),
                s.restarts,
                s.tools.len(),
                s.metrics.calls,
                s.metrics.errors,
            ));
            if !s.missing_env.is_empty() {
                out.push_str(&format!(
                    "{:width$}  missing env: {}\n",
                    "",
                    s.missing_env.join(", ")
                ));
            }
            if let Some(e) = &s.last_error {
                let first = e.lines().next().unwrap_or_default();
                out.push_str(&format!("{:width$}  last error: {first}\n", ""));
            }
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
        out
    }
}
