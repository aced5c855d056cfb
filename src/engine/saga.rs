//! Compensation: when a run fails or is cancelled, the `compensation` of every completed step
//! runs, in reverse completion order. A compensation that fails is retried, then recorded as
//! `compensation_failed`, logged as an error and named in the run's error; never dropped.

use serde_json::json;

use super::{
    driver::{Driver, Stop, render_object},
    step,
};
use crate::report::{EventKind, StepStatus};

/// What compensation did.
#[derive(Debug, Default)]
pub(super) struct Saga {
    /// Steps compensated (now or before a restart).
    pub compensated: usize,
    /// Steps whose compensation failed.
    pub failed: Vec<String>,
}

impl Driver {
    pub(super) async fn compensate(&mut self) -> Result<Saga, Stop> {
        let mut saga = Saga {
            compensated: self
                .status
                .iter()
                .filter(|s| **s == StepStatus::Compensated)
                .count(),
            failed: self
                .status
                .iter()
                .enumerate()
                .filter(|(_, s)| **s == StepStatus::CompensationFailed)
                .map(|(i, _)| self.def.steps[i].name.clone())
                .collect(),
        };
        let order: Vec<usize> = self
            .completed
            .iter()
            .rev()
            .copied()
            .filter(|i| {
                self.status[*i] == StepStatus::Completed
                    && self.def.steps[*i].compensation.is_some()
            })
            .collect();
        if order.is_empty() {
            return Ok(saga);
        }
        let names: Vec<&str> = order
            .iter()
            .map(|i| self.def.steps[*i].name.as_str())
            .collect();
        self.event(
            EventKind::WorkflowCompensationStarted,
            None,
            json!({"steps": names}),
        )
        .await?;
        for i in order {
            let name = self.def.steps[i].name.clone();
            let Some(compensation) = self.def.steps[i].compensation.clone() else {
                continue;
            };
            self.status[i] = StepStatus::Compensating;
            self.set_step(&name, StepStatus::Compensating, None, None)
                .await?;
            let rendered = render_object(&compensation.params, &self.scope());
            let outcome = match rendered {
                Err(e) => Err(format!("params: {e}")),
                Ok(arguments) => {
                    // Not the run's cancellation: a cancelled run is exactly when compensation
                    // must go through. Only shutdown interrupts it (it runs again at the next
                    // start).
                    let cancel = self.engine.shutdown.child_token();
                    step::call_with_retries(
                        &self.engine,
                        &compensation.target,
                        self.servers[i].as_deref(),
                        &arguments,
                        self.def.steps[i].timeout,
                        1..=1 + compensation.retries,
                        &cancel,
                        None,
                    )
                    .await
                    .0
                    .map_err(|f| f.message)
                }
            };
            if self.engine.shutdown.is_cancelled() {
                return Err(Stop::Shutdown);
            }
            match outcome {
                Ok(_) => {
                    self.status[i] = StepStatus::Compensated;
                    let (status, kind) = (StepStatus::Compensated, EventKind::StepCompensated);
                    self.step_logged(&name, status, None, None, kind, serde_json::Value::Null)
                        .await?;
                    saga.compensated += 1;
                }
                Err(error) => {
                    tracing::error!(
                        target: "mcp_orchestrator::workflow",
                        run = %self.lease.run_id,
                        step = %name,
                        %error,
                        "compensation failed after its retries; the step's effect remains"
                    );
                    self.status[i] = StepStatus::CompensationFailed;
                    let status = StepStatus::CompensationFailed;
                    let kind = EventKind::StepCompensationFailed;
                    let detail = json!({"error": error});
                    self.step_logged(&name, status, None, Some(&error), kind, detail)
                        .await?;
                    saga.failed.push(name);
                }
            }
        }
        Ok(saga)
    }
}
