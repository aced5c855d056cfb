//! One server's line of the status report (`status --json`, `orchestrator_status`).

use crate::{report::ServerReport, supervisor::ChildHandle};

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
            era: s.era.map(|e| e.to_string()),
            extensions: s
                .capabilities
                .as_ref()
                .and_then(|c| c.extensions.as_ref())
                .map(|e| e.keys().cloned().collect())
                .unwrap_or_default(),
            server_info: s.server_info.clone(),
            prompts: s.prompts.len(),
            resources: s.resources.len() + s.resource_templates.len(),
            metrics: handle.metrics().snapshot(),
            circuit: None,
            tools_changed: Vec::new(),
            tools_withheld: false,
            usage: None,
            in_flight: handle.in_flight(),
            source: spec.source,
        }
    }
}
