//! The orchestrator's own tools: [`Own`] (`orchestrator_status`, `orchestrator_capabilities`)
//! for everyone, and [`Admin`] (`orchestrator_restart`, `orchestrator_approve`,
//! `orchestrator_reload`) for control-socket sessions only.

use std::sync::Arc;

use indexmap::IndexMap;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations,
};
use serde_json::{Map, Value, json};

use super::{ToolSource, no_arguments};
use crate::{
    alerts::Alerts,
    dispatch::{BoxFuture, CallContext, CallOutcome, Caller},
    engine::Engine,
    error::RouteError,
    jobs::Jobs,
    registry::Registry,
    report::{CapabilitiesReport, ServerCapabilities, StatusReport, ToolEntry},
    supervisor::ChildHandle,
};

use super::unified::Unified;

/// `orchestrator_status`.
pub const STATUS: &str = "orchestrator_status";
/// `orchestrator_capabilities`.
pub const CAPABILITIES: &str = "orchestrator_capabilities";
/// Admin tool: restart one server (`{"server": "id"}`).
pub const RESTART: &str = "orchestrator_restart";
/// Admin tool: approve one server's changed tool definitions (`{"server": "id"}`).
pub const APPROVE: &str = "orchestrator_approve";
/// Admin tool: reload the config file.
pub const RELOAD: &str = "orchestrator_reload";

const NAMES: &[&str] = &[STATUS, CAPABILITIES];
/// The resource history of the children and the orchestrator (control sessions only).
pub const HISTORY: &str = "orchestrator_metrics_history";

const ADMIN_NAMES: &[&str] = &[RESTART, APPROVE, RELOAD, HISTORY];

/// The status report: every server's state with its vendor circuit, and the routing.
pub fn status_report(registry: &Registry, unified: &Unified) -> StatusReport {
    let config = registry.config();
    StatusReport {
        servers: registry
            .server_reports()
            .into_iter()
            .map(|(id, mut r)| {
                r.circuit = unified.circuit(&id);
                (id, r)
            })
            .collect(),
        routing: config.routing.clone(),
        config: config.path.display().to_string(),
        config_error: registry.config_error(),
        unified: unified.metrics(),
        workflows: None,
        jobs: None,
        orchestrator: registry.resources().latest(crate::registry::resources::OWN),
        alerts: Vec::new(),
        hosts: Vec::new(),
        discovery: registry.discovery_reports(),
    }
}

/// Builds the capabilities report from the current surface.
pub fn capabilities(registry: &Registry) -> CapabilitiesReport {
    let surface = registry.surface();
    let mut servers: IndexMap<String, ServerCapabilities> = registry
        .children()
        .iter()
        .map(|c| {
            (
                c.id().to_string(),
                ServerCapabilities {
                    state: c.state(),
                    tools: Vec::new(),
                    prompts: Vec::new(),
                    resources: Vec::new(),
                    era: c.era().map(|e| e.to_string()),
                    extensions: crate::hub::extension_ids(
                        c.status()
                            .capabilities
                            .as_ref()
                            .and_then(|caps| caps.extensions.as_ref()),
                    ),
                },
            )
        })
        .collect();
    for t in surface.tools.iter() {
        if let Some(route) = surface.tool_routes.get(t.name.as_ref())
            && let Some(s) = servers.get_mut(&*route.server)
        {
            s.tools.push(ToolEntry {
                name: t.name.to_string(),
                tool: route.name.clone(),
                description: t.description.as_ref().map(|d| d.to_string()),
            });
        }
    }
    for p in &surface.prompts {
        if let Some(route) = surface.prompt_routes.get(&p.name)
            && let Some(s) = servers.get_mut(&*route.server)
        {
            s.prompts.push(p.name.clone());
        }
    }
    for r in &surface.resources {
        if let Some(owner) = surface.resource_owners.get(&r.uri)
            && let Some(s) = servers.get_mut(&**owner)
        {
            s.resources.push(r.uri.clone());
        }
    }
    for t in &surface.templates {
        let prefix = t.uri_template.split('{').next().unwrap_or_default();
        if let Some((_, owner)) = surface.template_owners.iter().find(|(p, _)| p == prefix)
            && let Some(s) = servers.get_mut(&**owner)
        {
            s.resources.push(t.uri_template.clone());
        }
    }
    CapabilitiesReport {
        orchestrator: NAMES.iter().map(|s| (*s).to_owned()).collect(),
        unified: registry.config().routing.clone(),
        servers,
    }
}

/// `orchestrator_status` and `orchestrator_capabilities`.
pub struct Own {
    registry: Arc<Registry>,
    unified: Arc<Unified>,
    engine: Arc<Engine>,
    jobs: Arc<Jobs>,
    alerts: Arc<Alerts>,
}

impl Own {
    /// The own tools, reporting on `registry`, the unified tools' state, the workflows and the
    /// jobs.
    pub fn new(
        registry: Arc<Registry>,
        unified: Arc<Unified>,
        engine: Arc<Engine>,
        jobs: Arc<Jobs>,
        alerts: Arc<Alerts>,
    ) -> Self {
        Self {
            registry,
            unified,
            engine,
            jobs,
            alerts,
        }
    }
}

/// The status report with its `workflows` and `jobs` sections (each when configured or used)
/// and the active alerts.
pub async fn full_status(
    registry: &Registry,
    unified: &Unified,
    engine: &Engine,
    jobs: &Jobs,
    alerts: &Alerts,
) -> StatusReport {
    let mut report = status_report(registry, unified);
    report.alerts = alerts.active();
    report.hosts = registry.hub().host_reports();
    let j = jobs.status().await;
    if !j.types.is_empty() || !j.totals.is_empty() || j.artifacts > 0 {
        report.jobs = Some(j);
    }
    let workflows = engine.status().await;
    if !workflows.definitions.is_empty()
        || !workflows.errors.is_empty()
        || !workflows.totals.is_empty()
    {
        report.workflows = Some(workflows);
    }
    report
}

impl ToolSource for Own {
    fn reserved(&self) -> &'static [&'static str] {
        NAMES
    }

    fn tools(&self, _caller: Caller) -> Vec<Tool> {
        definitions()
    }

    fn owns(&self, name: &str, _caller: Caller) -> bool {
        NAMES.contains(&name)
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        _arguments: Option<JsonObject>,
        _cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let (text, value) = if name == STATUS {
                let report = full_status(
                    &self.registry,
                    &self.unified,
                    &self.engine,
                    &self.jobs,
                    &self.alerts,
                )
                .await;
                (report.to_text(), serde_json::to_value(&report))
            } else {
                let report = capabilities(&self.registry);
                let text = format!(
                    "{} tools from {} servers",
                    report
                        .servers
                        .values()
                        .map(|s| s.tools.len())
                        .sum::<usize>(),
                    report.servers.len()
                );
                (text, serde_json::to_value(&report))
            };
            let value = value.unwrap_or_else(|e| json!({"error": e.to_string()}));
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(value);
            Ok(CallToolResponse::Complete(result))
        })
    }
}

fn definitions() -> Vec<Tool> {
    let read_only = || {
        let mut a = ToolAnnotations::default();
        a.read_only_hint = Some(true);
        a.open_world_hint = Some(false);
        a
    };
    vec![
        Tool::new(
            STATUS,
            "State of every MCP server behind the orchestrator: running/failed/missing_env, pid, restarts, tools, last error, uptime; and the vendor routing of the unified tools.",
            no_arguments(),
        )
        .annotate(read_only()),
        Tool::new(
            CAPABILITIES,
            "Every tool the orchestrator exposes, grouped by server, with the vendor chains of the unified tools.",
            no_arguments(),
        )
        .annotate(read_only()),
    ]
}

/// The admin tools: only on the control socket, which is owner-only.
pub struct Admin {
    registry: Arc<Registry>,
}

impl Admin {
    /// Admin tools acting on `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    /// The server named by an admin tool's `server` argument.
    fn server_arg(&self, arguments: Option<&JsonObject>) -> Result<ChildHandle, RouteError> {
        let server = arguments
            .and_then(|a| a.get("server"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RouteError::InvalidParams("`server` (a server id) is required".into())
            })?;
        self.registry
            .child(server)
            .ok_or_else(|| RouteError::InvalidParams(format!("no server `{server}` in the config")))
    }

    async fn run(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<CallToolResult, RouteError> {
        match name {
            RESTART => {
                let child = self.server_arg(arguments.as_ref())?;
                let server = child.id().to_string();
                child.restart().await;
                let limit = self.registry.config().settings.startup_timeout;
                let state = child.wait_settled(limit).await;
                let mut r =
                    CallToolResult::success(vec![ContentBlock::text(format!("{server}: {state}"))]);
                r.structured_content =
                    Some(json!({"server": server, "state": state, "pid": child.status().pid}));
                Ok(r)
            }
            APPROVE => {
                let child = self.server_arg(arguments.as_ref())?;
                let approved = self.registry.approve_tools(child.id());
                let text = if approved.is_empty() {
                    format!("{}: no changed tool definitions to approve", child.id())
                } else {
                    format!("{}: approved {}", child.id(), approved.join(", "))
                };
                let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
                r.structured_content =
                    Some(json!({"server": child.id().as_ref(), "approved": approved}));
                Ok(r)
            }
            HISTORY => {
                let seconds = arguments
                    .as_ref()
                    .and_then(|a| a.get("since_seconds"))
                    .and_then(Value::as_f64)
                    .unwrap_or(3_600.0);
                let history = history(&self.registry, seconds);
                let points: usize = history.values().map(Vec::len).sum();
                let mut r = CallToolResult::success(vec![ContentBlock::text(format!(
                    "{points} history point(s) over {} series",
                    history.len()
                ))]);
                r.structured_content = Some(json!({ "series": history }));
                Ok(r)
            }
            _ => Ok(match self.registry.reload_from_disk().await {
                Ok(summary) => {
                    let mut r = CallToolResult::success(vec![ContentBlock::text(format!(
                        "reloaded: {} added, {} removed, {} changed, {} unchanged",
                        summary.added.len(),
                        summary.removed.len(),
                        summary.changed.len(),
                        summary.unchanged.len()
                    ))]);
                    r.structured_content = serde_json::to_value(&summary).ok();
                    r
                }
                Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
                    "reload refused, the previous config keeps running: {e}"
                ))]),
            }),
        }
    }
}

impl ToolSource for Admin {
    fn reserved(&self) -> &'static [&'static str] {
        ADMIN_NAMES
    }

    fn tools(&self, caller: Caller) -> Vec<Tool> {
        match caller {
            Caller::Control => admin_definitions(),
            Caller::Host => Vec::new(),
        }
    }

    fn owns(&self, name: &str, caller: Caller) -> bool {
        caller == Caller::Control && ADMIN_NAMES.contains(&name)
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        _cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            self.run(name, arguments)
                .await
                .map(CallToolResponse::Complete)
        })
    }
}

/// The resource history of the last `seconds`, by series (server ids and `orchestrator`).
pub fn history(
    registry: &Registry,
    seconds: f64,
) -> std::collections::BTreeMap<String, Vec<crate::report::HistoryPoint>> {
    use crate::engine::clock::{Clock, SystemClock};
    let since = SystemClock.now_ms() - (seconds.max(0.0) * 1000.0) as i64;
    registry.resources().history(since)
}

fn admin_definitions() -> Vec<Tool> {
    let restart: Map<String, Value> = serde_json::from_value(json!({
        "type": "object",
        "properties": {"server": {"type": "string", "description": "server id"}},
        "required": ["server"]
    }))
    .unwrap_or_default();
    vec![
        Tool::new(
            RESTART,
            "Restart one server now, forgetting its crash history (also revives a failed one).",
            Arc::new(restart.clone()),
        ),
        Tool::new(
            APPROVE,
            "Approve one server's tool definitions as it lists them now (they changed since they were pinned).",
            Arc::new(restart),
        ),
        Tool::new(
            RELOAD,
            "Re-read the config file and apply it: start added servers, stop removed ones, restart changed ones.",
            no_arguments(),
        ),
        Tool::new(
            HISTORY,
            "CPU, memory, threads and fds of each child and of the orchestrator over the last `since_seconds` (default 3600), one point per history step.",
            crate::tools::object_schema(json!({"since_seconds": {"type": "number"}}), &[]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_and_admin_definitions_snapshot() {
        insta::assert_json_snapshot!("own_tools", super::definitions());
        insta::assert_json_snapshot!("admin_tools", super::admin_definitions());
    }
}
