//! The orchestrator's own tools: `orchestrator_status` and `orchestrator_capabilities`.

use std::sync::Arc;

use indexmap::IndexMap;

pub use crate::report::{CapabilitiesReport, ServerCapabilities, ToolEntry};
use rmcp::{
    ErrorData,
    model::{CallToolRequestParams, CallToolResult, ContentBlock, Tool, ToolAnnotations},
};
use serde_json::{Map, Value, json};

use crate::{control, orchestrator::Orchestrator};

/// `orchestrator_status`.
pub const STATUS: &str = "orchestrator_status";
/// `orchestrator_capabilities`.
pub const CAPABILITIES: &str = "orchestrator_capabilities";
/// Names no child tool may take.
pub const NAMES: &[&str] = &[STATUS, CAPABILITIES];

/// Builds the capabilities report from the current surface.
pub fn capabilities(orch: &Orchestrator) -> CapabilitiesReport {
    let surface = orch.surface();
    let mut servers: IndexMap<String, ServerCapabilities> = orch
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
                },
            )
        })
        .collect();
    for t in &surface.tools {
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
        unified: orch.config().routing.clone(),
        servers,
    }
}

/// The tool definitions.
pub fn definitions() -> Vec<Tool> {
    let empty: Map<String, Value> =
        serde_json::from_value(json!({"type": "object", "properties": {}})).unwrap_or_default();
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
            Arc::new(empty.clone()),
        )
        .annotate(read_only()),
        Tool::new(
            CAPABILITIES,
            "Every tool the orchestrator exposes, grouped by server, with the vendor chains of the unified tools.",
            Arc::new(empty),
        )
        .annotate(read_only()),
    ]
}

/// The admin tools of control-socket sessions.
pub fn admin_definitions() -> Vec<Tool> {
    let restart: Map<String, Value> = serde_json::from_value(json!({
        "type": "object",
        "properties": {"server": {"type": "string", "description": "server id"}},
        "required": ["server"]
    }))
    .unwrap_or_default();
    let empty: Map<String, Value> =
        serde_json::from_value(json!({"type": "object", "properties": {}})).unwrap_or_default();
    vec![
        Tool::new(
            control::RESTART,
            "Restart one server now, forgetting its crash history (also revives a failed one).",
            Arc::new(restart.clone()),
        ),
        Tool::new(
            control::APPROVE,
            "Approve one server's tool definitions as it lists them now (they changed since they were pinned).",
            Arc::new(restart),
        ),
        Tool::new(
            control::RELOAD,
            "Re-read the config file and apply it: start added servers, stop removed ones, restart changed ones.",
            Arc::new(empty),
        ),
    ]
}

/// The server named by an admin tool's `server` argument.
fn server_arg(
    orch: &Orchestrator,
    req: &CallToolRequestParams,
) -> Result<crate::supervisor::ChildHandle, ErrorData> {
    let server = req
        .arguments
        .as_ref()
        .and_then(|a| a.get("server"))
        .and_then(Value::as_str)
        .ok_or_else(|| ErrorData::invalid_params("`server` (a server id) is required", None))?;
    orch.child(server).ok_or_else(|| {
        ErrorData::invalid_params(format!("no server `{server}` in the config"), None)
    })
}

/// Runs an admin tool, if `req` names one.
pub async fn call_admin(
    orch: &Arc<Orchestrator>,
    req: &CallToolRequestParams,
) -> Option<Result<CallToolResult, ErrorData>> {
    match req.name.as_ref() {
        control::RESTART => {
            let child = match server_arg(orch, req) {
                Ok(child) => child,
                Err(e) => return Some(Err(e)),
            };
            let server = child.id().to_string();
            child.restart().await;
            let limit = orch.config().settings.startup_timeout;
            let state = child.wait_settled(limit).await;
            let mut r =
                CallToolResult::success(vec![ContentBlock::text(format!("{server}: {state}"))]);
            r.structured_content =
                Some(json!({"server": server, "state": state, "pid": child.status().pid}));
            Some(Ok(r))
        }
        control::APPROVE => {
            let child = match server_arg(orch, req) {
                Ok(child) => child,
                Err(e) => return Some(Err(e)),
            };
            let approved = orch.approve_tools(child.id());
            let text = if approved.is_empty() {
                format!("{}: no changed tool definitions to approve", child.id())
            } else {
                format!("{}: approved {}", child.id(), approved.join(", "))
            };
            let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
            r.structured_content =
                Some(json!({"server": child.id().as_ref(), "approved": approved}));
            Some(Ok(r))
        }
        control::RELOAD => Some(match orch.reload_from_disk().await {
            Ok(summary) => {
                let mut r = CallToolResult::success(vec![ContentBlock::text(format!(
                    "reloaded: {} added, {} removed, {} changed, {} unchanged",
                    summary.added.len(),
                    summary.removed.len(),
                    summary.changed.len(),
                    summary.unchanged.len()
                ))]);
                r.structured_content = serde_json::to_value(&summary).ok();
                Ok(r)
            }
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "reload refused, the previous config keeps running: {e}"
            ))])),
        }),
        _ => None,
    }
}

/// Runs one of the own tools, if `name` is one.
pub fn call(orch: &Orchestrator, name: &str) -> Option<CallToolResult> {
    let (text, value) = match name {
        STATUS => {
            let report = orch.status();
            (report.to_text(), serde_json::to_value(&report))
        }
        CAPABILITIES => {
            let report = capabilities(orch);
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
        }
        _ => return None,
    };
    let value = value.unwrap_or_else(|e| json!({"error": e.to_string()}));
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    Some(result)
}
