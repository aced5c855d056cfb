//! The OpenTelemetry side of the metrics: the status report's gauges as OTLP readings, refreshed
//! on an interval for the exporter's callbacks. The call counters and latency histograms are
//! recorded as calls happen (`otel::record_call`); these are the quantities that exist only as
//! state (a server's state, in-flight calls, process CPU and memory, store counts). Labels are
//! the Prometheus exposition's bounded sets.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{
    mcp::StatusSource,
    otel::{Gauges, Reading},
    report::{CircuitState, StatusReport},
};

/// How often the readings are refreshed: often enough for any export interval users pick, rare
/// enough that building the report (a store count) costs nothing measurable.
const REFRESH: Duration = Duration::from_secs(5);

/// Keeps `gauges` fresh from `status` until `stop`.
pub async fn refresh(gauges: &Gauges, status: StatusSource, stop: CancellationToken) {
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => gauges.set(readings(&status().await)),
        }
    }
}

/// The gauges of one report.
pub fn readings(r: &StatusReport) -> Vec<Reading> {
    let mut out = Vec::new();
    let mut push = |gauge: &'static str, labels: Vec<(&'static str, String)>, value: f64| {
        out.push(Reading {
            gauge,
            labels,
            value,
        });
    };
    for (id, s) in &r.servers {
        let server = || vec![("server", id.clone())];
        // Only the state a server is in: a 0 for every other state (Prometheus' one-hot form,
        // for its own queries) would be noise in an OTLP backend that sums a gauge's series.
        push(
            "mcp_orchestrator.server.state",
            vec![
                ("server", id.clone()),
                ("state", s.state.as_str().to_owned()),
            ],
            1.0,
        );
        push("mcp_orchestrator.in_flight", server(), s.in_flight as f64);
        push("mcp_orchestrator.restarts", server(), f64::from(s.restarts));
        if let Some(c) = s.circuit {
            let open = matches!(c, CircuitState::Open);
            push(
                "mcp_orchestrator.circuit_open",
                server(),
                f64::from(u8::from(open)),
            );
        }
        if let Some(u) = s.usage {
            push(
                "mcp_orchestrator.process.cpu.utilization",
                server(),
                u.cpu_percent / 100.0,
            );
            push(
                "mcp_orchestrator.process.memory.usage",
                server(),
                u.rss_bytes as f64,
            );
        }
    }
    if let Some(u) = r.orchestrator {
        let own = || vec![("server", "orchestrator".to_owned())];
        push(
            "mcp_orchestrator.process.cpu.utilization",
            own(),
            u.cpu_percent / 100.0,
        );
        push(
            "mcp_orchestrator.process.memory.usage",
            own(),
            u.rss_bytes as f64,
        );
    }
    if let Some(w) = &r.workflows {
        for (status, n) in &w.totals {
            push(
                "mcp_orchestrator.workflow.runs",
                vec![("status", status.clone())],
                *n as f64,
            );
        }
    }
    if let Some(j) = &r.jobs {
        for (status, n) in &j.totals {
            push(
                "mcp_orchestrator.jobs",
                vec![("status", status.clone())],
                *n as f64,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otel::GAUGES;

    #[test]
    fn every_reading_names_a_registered_gauge() {
        let report: StatusReport = serde_json::from_value(serde_json::json!({
            "servers": {"a": {
                "state": "running", "missing_env": [], "restarts": 1, "tools": [],
                "prompts": 0, "resources": 0, "in_flight": 2,
                "metrics": {"calls": 0, "errors": 0},
            }},
            "routing": {},
            "config": "mcp_servers.json",
        }))
        .unwrap();
        let rs = readings(&report);
        assert!(rs.iter().all(|r| GAUGES.iter().any(|g| g.0 == r.gauge)));
        assert!(rs.contains(&Reading {
            gauge: "mcp_orchestrator.in_flight",
            labels: vec![("server", "a".into())],
            value: 2.0,
        }));
    }
}
