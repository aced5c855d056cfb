//! A run's events as log lines (target `mcp_orchestrator::workflow`), and the append of an
//! event from a step task, where a failed write only loses a line.

use serde_json::Value;

use super::Engine;
use crate::{report::EventKind, store::Lease};

/// Records an event from a step task (its attempts), where a failed write only loses a line.
pub(super) async fn record(
    engine: &Engine,
    lease: &Lease,
    kind: EventKind,
    step: Option<&str>,
    detail: Value,
) {
    log_event(&lease.run_id, "", kind, step, &detail);
    if let Err(e) = engine
        .store
        .event(lease, kind, step, &detail, engine.clock.now_ms())
        .await
    {
        tracing::debug!(error = %e, "event not recorded");
    }
}

pub(super) fn log_event(
    run: &str,
    workflow: &str,
    kind: EventKind,
    step: Option<&str>,
    detail: &Value,
) {
    tracing::info!(
        target: "mcp_orchestrator::workflow",
        run,
        workflow,
        step,
        detail = %detail,
        "{}",
        kind.as_str()
    );
}
