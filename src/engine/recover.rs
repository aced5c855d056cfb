//! What a claimed run's stored state means: a fresh run starts; a run a crash interrupted
//! continues where it stood. Completed steps are never repeated; a step that was running is
//! repeated only when that is safe (the tool says it is read-only or idempotent, or the step says
//! `idempotent: true`), otherwise it is `unknown` and the run fails and compensates.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::driver::{Driver, Ending, Stop};
use crate::{
    dispatch::Catalog,
    report::{EventKind, RunStatus, StepStatus},
    store::{Request, RunRecord},
    workflow::{Step, Target},
};

/// How long recovery waits for a step's server to come up before judging the step.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Driver {
    /// Loads the run's steps into the driver and settles what a crash left undecided.
    pub(super) async fn recover(&mut self, run: &RunRecord) -> Result<(), Stop> {
        let store = self.engine.store.clone();
        let steps = store.steps(&run.id).await?;
        let mut completed: Vec<(i64, usize)> = Vec::new();
        let mut resumed = false;
        for record in &steps {
            let Some(i) = self.def.step(&record.name).map(|s| s.index) else {
                continue;
            };
            self.status[i] = record.status;
            self.attempts[i] = record.attempts;
            if record.status != StepStatus::Pending {
                resumed = true;
            }
            if let Some(output) = &record.output {
                self.results.insert(record.name.clone(), output.clone());
            }
            if let Some(seq) = record.completed_seq {
                completed.push((seq, i));
            }
        }
        completed.sort_unstable();
        self.completed = completed.into_iter().map(|(_, i)| i).collect();
        if resumed {
            self.recover_servers().await?;
        }

        let catalog = self.catalog_for_running_steps().await;
        for i in 0..self.status.len() {
            let name = self.def.steps[i].name.clone();
            match self.status[i] {
                StepStatus::Running
                    if catalog
                        .as_ref()
                        .is_some_and(|c| safe_to_repeat(&self.def.steps[i], c)) =>
                {
                    self.status[i] = StepStatus::Pending;
                    self.set_step(&name, StepStatus::Pending, None, None)
                        .await?;
                    tracing::info!(run = %run.id, step = %name, "repeating a step that was running when the orchestrator stopped: it is safe to repeat");
                }
                StepStatus::Running => {
                    self.status[i] = StepStatus::Unknown;
                    let error = "it was running when the orchestrator stopped and is not safe to repeat (its tool has no idempotentHint or readOnlyHint, and the step does not say `idempotent: true`)";
                    let (status, kind) = (StepStatus::Unknown, EventKind::StepUnknown);
                    let detail = json!({"error": error});
                    self.step_logged(&name, status, None, Some(error), kind, detail)
                        .await?;
                    self.ending
                        .get_or_insert(Ending::Failure(format!("step `{name}`: {error}")));
                }
                // A compensation the crash interrupted runs again.
                StepStatus::Compensating => self.status[i] = StepStatus::Completed,
                StepStatus::Failed | StepStatus::Unknown => {
                    let reason = run
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("step `{name}` failed"));
                    self.ending.get_or_insert(Ending::Failure(reason));
                }
                StepStatus::Cancelled => {
                    self.ending.get_or_insert(Ending::Cancel);
                }
                _ => {}
            }
        }

        match run.requested {
            Some(Request::Cancel) => {
                self.ending.get_or_insert(Ending::Cancel);
            }
            Some(Request::Pause) => self.paused = true,
            Some(Request::Resume) | None => self.paused = run.status == RunStatus::Paused,
        }
        if let Some(request) = run.requested {
            store.clear_request(&self.lease, request).await?;
        }
        if self.ending.is_some() {
            self.paused = false;
        }
        if let Some(at) = run.deadline_at {
            let left = at.saturating_sub(self.engine.clock.now_ms()).max(0);
            self.deadline = Some(Instant::now() + std::time::Duration::from_millis(left as u64));
        }
        let status = if self.paused {
            RunStatus::Paused
        } else {
            RunStatus::Running
        };
        let detail = json!({"resumed": resumed, "paused": self.paused});
        self.run_logged(status, None, None, EventKind::WorkflowStarted, detail)
            .await
    }

    /// The catalog to judge interrupted steps by. After a restart the children are still starting
    /// and list no tools yet, which would make every step look unsafe to repeat: wait (bounded)
    /// until the servers of the running steps have settled.
    /// `None` when no step was running (a fresh run: every run's start, so no catalog is built).
    async fn catalog_for_running_steps(&self) -> Option<Catalog> {
        if !self.status.contains(&StepStatus::Running) {
            return None;
        }
        let catalog = self.engine.caller.catalog();
        let mut servers: Vec<String> = Vec::new();
        for (i, status) in self.status.iter().enumerate() {
            if *status != StepStatus::Running {
                continue;
            }
            match &self.def.steps[i].target {
                Target::Server { server, .. } => servers.push(server.clone()),
                Target::Capability { capability, .. } => servers.extend(
                    catalog
                        .servers
                        .iter()
                        .filter(|s| s.capabilities.iter().any(|c| c == capability))
                        .map(|s| s.id.to_string()),
                ),
                Target::Tool { .. } => {}
            }
        }
        if servers.is_empty() {
            return Some(catalog);
        }
        for server in &servers {
            self.engine.caller.wait_settled(server, SETTLE_LIMIT).await;
        }
        Some(self.engine.caller.catalog())
    }

    /// Which server ran each completed step, from the events (a capability step's compensation
    /// runs there).
    async fn recover_servers(&mut self) -> Result<(), Stop> {
        let events = self.engine.store.events(&self.lease.run_id, 0).await?;
        for e in events {
            if e.kind != EventKind::StepCompleted {
                continue;
            }
            let (Some(step), Some(server)) =
                (e.step, e.detail.get("server").and_then(Value::as_str))
            else {
                continue;
            };
            if let Some(i) = self.def.step(&step).map(|s| s.index) {
                self.servers[i] = Some(Arc::from(server));
            }
        }
        Ok(())
    }
}

/// Whether repeating the step's call cannot do harm twice.
pub(super) fn safe_to_repeat(step: &Step, catalog: &Catalog) -> bool {
    if step.idempotent {
        return true;
    }
    let safe = |tool: Option<&rmcp::model::Tool>| {
        tool.and_then(|t| t.annotations.as_ref())
            .is_some_and(|a| a.read_only_hint == Some(true) || a.idempotent_hint == Some(true))
    };
    match &step.target {
        Target::Server { server, tool } => safe(catalog.server(server).and_then(|s| s.tool(tool))),
        Target::Tool { name } => safe(catalog.tools.iter().find(|t| t.name == *name)),
        Target::Capability { capability, tool } => {
            let mut offering = catalog
                .servers
                .iter()
                .filter(|s| s.capabilities.iter().any(|c| c == capability))
                .peekable();
            offering.peek().is_some() && offering.all(|s| safe(s.tool(tool)))
        }
    }
}
