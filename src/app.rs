//! The composition root: the one place that builds every layer and names their concrete types,
//! and the owner of the shutdown tree (one [`CancellationToken`], one [`TaskTracker`]) that every
//! task hangs from.

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::Config,
    dispatch::{ToolCaller, child::ChildDispatcher},
    mcp::Services,
    registry::Registry,
    report::StatusReport,
    tools::{
        Sources, ToolSource,
        children::Children,
        own::{self, Admin, Own},
        unified::{Unified, UnifiedSource},
    },
};

/// A running orchestrator.
pub struct App {
    services: Arc<Services>,
    unified: Arc<Unified>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl App {
    /// Builds the layers over `config` and starts the children.
    pub fn start(config: Config) -> Self {
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let unified = Arc::new(Unified::new(&config));
        let registry = Registry::new(config, tracker.clone(), shutdown.clone());
        let children = Arc::new(ChildDispatcher::new(registry.clone()));
        let vendors: Arc<dyn ToolCaller> = children.clone();
        let list: Vec<Arc<dyn ToolSource>> = vec![
            Arc::new(Own::new(registry.clone(), unified.clone())),
            Arc::new(Admin::new(registry.clone())),
            Arc::new(UnifiedSource::new(
                unified.clone(),
                registry.config_handle(),
                vendors,
            )),
            Arc::new(Children::new(registry.clone(), children.clone())),
        ];
        let sources = Sources::new(list);
        registry.start(sources.reserved());
        Self {
            services: Arc::new(Services {
                registry,
                children,
                sources,
            }),
            unified,
            tracker,
            shutdown,
        }
    }

    /// What host sessions serve from.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The children and their surface.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.services.registry
    }

    /// The status report, as `orchestrator_status` gives it.
    pub fn status(&self) -> StatusReport {
        own::status_report(self.registry(), &self.unified)
    }

    /// Stops every child (concurrently) and every task; returns when all are gone or after a
    /// bound long enough for the stop sequence (stdin close, SIGTERM, SIGKILL).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let grace = self.registry().config().settings.shutdown_grace;
        let bound = grace * 3 + Duration::from_secs(2);
        if tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                bound_s = bound.as_secs_f64(),
                "some tasks did not stop within the bound"
            );
        }
    }
}
