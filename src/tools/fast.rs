//! The forwarding fast path's routing: a host's `tools/call` of a child's tool, which the typed
//! path would send through [`super::children::Children`] to the child, goes to the child's lane
//! instead. Only the plain case is taken: a name the children own, on the surface now, of a
//! running stdio child with room under `max_in_flight`. Anything else (a restarting child to wait
//! for, a full child to refuse, a withheld tool, an unknown name, traces being exported) is
//! handed back, and the typed path does what it always did.

use std::sync::Arc;

use tokio::time::Instant;

use super::Sources;
use crate::{
    dispatch::Caller,
    registry::Registry,
    wire::{
        fast::{FastPath, Reply, Sent},
        scan::CallHead,
    },
};

/// Routes host calls to the children's lanes.
pub struct Forwarder {
    sources: Sources,
    registry: Arc<Registry>,
}

impl Forwarder {
    /// Over `registry`'s children, for the names `sources` leaves to them.
    pub fn new(sources: Sources, registry: Arc<Registry>) -> Self {
        Self { sources, registry }
    }
}

impl FastPath for Forwarder {
    fn forward<'a>(&'a self, call: CallHead<'a>, reply: Reply) -> Result<Sent<'a>, Reply> {
        let started = Instant::now();
        // Exported traces need the typed path's spans and `_meta`.
        if crate::otel::tracing_on() || !self.sources.last_owns(&call.name, Caller::Host) {
            return Err(reply);
        }
        let surface = self.registry.surface();
        let Some(route) = surface.tool_routes.get(call.name.as_ref()) else {
            return Err(reply);
        };
        let Some(child) = self.registry.child(&route.server) else {
            return Err(reply);
        };
        let Some(Ok((lane, guard))) = child.begin_fast_call() else {
            return Err(reply);
        };
        let timeout = child
            .spec()
            .timeout
            .unwrap_or(self.registry.config().settings.default_timeout);
        let tool = route.name.clone();
        Ok(Box::pin(async move {
            lane.call(
                &tool,
                call.arguments,
                &call.meta,
                reply,
                guard,
                timeout,
                started,
            )
            .await;
        }))
    }

    fn cancel(&self, id: &rmcp::model::RequestId) {
        for child in self.registry.children().iter() {
            if let Some(lane) = child.lane()
                && lane.cancel(id)
            {
                return;
            }
        }
    }
}
