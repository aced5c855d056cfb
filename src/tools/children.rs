//! The children's tools, as the merged surface names them: the last source, which owns every
//! name the others do not and answers a name that routes nowhere with why (a server that is
//! down, a withheld definition, or nothing by that name).

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};

use super::ToolSource;
use crate::{
    dispatch::{
        BoxFuture, CallContext, CallOutcome, CallRequest, Caller, ToolCaller,
        child::ChildDispatcher,
    },
    error::{ItemKind, RouteError},
    naming::SEPARATOR,
    registry::{Registry, surface::Route},
    supervisor::ChildHandle,
};

/// Every child tool on the surface.
pub struct Children {
    registry: Arc<Registry>,
    dispatcher: Arc<ChildDispatcher>,
}

impl Children {
    /// The children of `registry`, called through `dispatcher`.
    pub fn new(registry: Arc<Registry>, dispatcher: Arc<ChildDispatcher>) -> Self {
        Self {
            registry,
            dispatcher,
        }
    }

    /// The route of a tool; if its server is (re)starting or being reloaded, waits a little for
    /// it to come back, so a call made during a restart is served rather than refused.
    async fn route(&self, name: &str) -> Result<Route, RouteError> {
        if let Some(route) = self.registry.surface().tool_routes.get(name) {
            return Ok(route.clone());
        }
        if let Some(owner) = owner_by_prefix(&self.registry, name)
            && let Some(child) = self.dispatcher.wait_until_serving(owner.id()).await
            && child.peer().is_some()
        {
            self.registry.refresh_surface();
            if let Some(route) = self.registry.surface().tool_routes.get(name) {
                return Ok(route.clone());
            }
        }
        Err(unroutable(&self.registry, ItemKind::Tool, name))
    }
}

impl ToolSource for Children {
    fn reserved(&self) -> &'static [&'static str] {
        &[]
    }

    fn tools(&self, _caller: Caller) -> Vec<Tool> {
        Arc::unwrap_or_clone(self.dispatcher.catalog().tools)
    }

    fn owns(&self, _name: &str, _caller: Caller) -> bool {
        true
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Option<JsonObject>,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>> {
        Box::pin(async move {
            let route = self.route(name).await?;
            let mut request = CallRequest::child(route.server, route.name);
            request.arguments = arguments;
            self.dispatcher.call(request, cx).await
        })
    }
}

/// The child whose id is the namespace of `name`, if any.
pub fn owner_by_prefix(registry: &Registry, name: &str) -> Option<ChildHandle> {
    let (prefix, _) = name.split_once(SEPARATOR)?;
    registry
        .children()
        .iter()
        .find(|c| crate::naming::sanitize(c.id()) == prefix)
        .cloned()
}

/// The error for a name that routes nowhere: if its prefix is a known server that is down, say
/// so (the usual case right after a crash); a withheld tool says how to approve it; otherwise it
/// is unknown.
pub fn unroutable(registry: &Registry, kind: ItemKind, name: &str) -> RouteError {
    if kind == ItemKind::Tool
        && let Some(server) = registry.surface().withheld.get(name)
    {
        return RouteError::Withheld {
            name: name.to_owned(),
            server: server.to_string(),
        };
    }
    match owner_by_prefix(registry, name) {
        Some(child) if !child.state().serves_calls() => {
            let status = child.status();
            RouteError::Unavailable {
                kind,
                name: name.to_owned(),
                server: child.id().to_string(),
                state: status.state,
                last_error: status.last_error,
            }
        }
        _ => RouteError::Unknown {
            kind,
            name: name.to_owned(),
        },
    }
}
