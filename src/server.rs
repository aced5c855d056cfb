//! The orchestrator as an MCP server toward the host: lists come from the merged surface, requests
//! go to the owning child.

#![expect(
    deprecated,
    reason = "logging, roots and resources/subscribe are deprecated by SEP-2577/2026-07-28 but legacy hosts use them"
)]

pub mod forward;

use std::sync::Arc;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, ClientRequest, CompleteRequestParams,
        CompleteResult, CustomRequest, CustomResult, DiscoverRequestMethod, DiscoverResult,
        GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, Reference, Request, ServerCapabilities,
        ServerConfig, ServerResult, SetLevelRequestParams, SubscribeRequestParams,
        UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext},
};

use crate::{
    error::RouteError,
    naming::SEPARATOR,
    orchestrator::Orchestrator,
    own_tools,
    unified::{self, UnifiedTool},
};

/// Requests a host may send that MCP defines.
const MCP_REQUESTS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
];

/// The host-facing MCP server.
#[derive(Clone)]
pub struct OrchestratorServer {
    orch: Arc<Orchestrator>,
    /// A control-socket session: admin tools on, and never registered as the host.
    control: bool,
}

impl OrchestratorServer {
    /// The server a host talks to.
    pub fn new(orch: Arc<Orchestrator>) -> Self {
        Self {
            orch,
            control: false,
        }
    }

    /// The server a control-socket client talks to.
    pub fn control(orch: Arc<Orchestrator>) -> Self {
        Self {
            orch,
            control: true,
        }
    }

    /// The error for a name that routes nowhere: if its prefix is a known server that is down,
    /// say so (the usual case right after a crash), otherwise it is unknown.
    fn unroutable(&self, kind: &'static str, name: &str) -> RouteError {
        if kind == "tool"
            && let Some(server) = self.orch.surface().withheld.get(name)
        {
            return RouteError::Withheld {
                name: name.to_owned(),
                server: server.to_string(),
            };
        }
        let down = self.owner_by_prefix(name);
        match down {
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
}

impl OrchestratorServer {
    /// The surface as the children are now: the background rebuild lags a state change by its
    /// debounce, and a list must not miss a child that has just come up.
    fn current_surface(&self) -> Arc<crate::surface::Surface> {
        self.orch.refresh_surface();
        self.orch.surface()
    }

    /// The child whose id is the namespace of `name`, if any.
    fn owner_by_prefix(&self, name: &str) -> Option<crate::supervisor::ChildHandle> {
        let (prefix, _) = name.split_once(SEPARATOR)?;
        self.orch
            .children()
            .iter()
            .find(|c| crate::naming::sanitize(c.id()) == prefix)
            .cloned()
    }

    /// The route of a tool; if its server is (re)starting or being reloaded, waits a little for
    /// it to come back, so a call made during a restart is served rather than refused.
    async fn tool_route(&self, name: &str) -> Option<crate::surface::Route> {
        if let Some(route) = self.orch.surface().tool_routes.get(name) {
            return Some(route.clone());
        }
        let owner = self.owner_by_prefix(name)?;
        if forward::wait_until_serving(&self.orch, owner.id()).await {
            self.orch.refresh_surface();
            return self.orch.surface().tool_routes.get(name).cloned();
        }
        None
    }
}

impl ServerHandler for OrchestratorServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_logging()
                .enable_completions()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcp-orchestrator",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Tools of several MCP servers, each named <server>__<tool>. \
             orchestrator_status shows which servers are up and why others are not.",
        )
    }

    /// Look like a pre-2026-07-28 server: dual-era hosts probe `server/discover` and fall back to
    /// `initialize` on -32601, and the proxy only implements handshake-era semantics.
    async fn discover(&self, _cx: RequestContext<RoleServer>) -> Result<DiscoverResult, McpError> {
        Err(McpError::method_not_found::<DiscoverRequestMethod>())
    }

    /// rmcp hands over as "custom" both unknown methods and MCP methods whose params it could
    /// not read; the second kind is a -32602, not a -32601.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let method = request.method;
        Err(if MCP_REQUESTS.contains(&method.as_str()) {
            RouteError::MalformedParams { method }
        } else {
            RouteError::UnknownMethod { method }
        }
        .into())
    }

    async fn on_initialized(&self, cx: NotificationContext<RoleServer>) {
        tracing::info!(
            client = ?cx.peer.peer_info().map(|i| i.client_info.name.clone()),
            "host initialized"
        );
        if !self.control {
            self.orch.hub().set_host(cx.peer.clone());
        }
    }

    async fn on_roots_list_changed(&self, _cx: NotificationContext<RoleServer>) {
        for c in self.orch.children().iter() {
            if let Some(peer) = c.peer() {
                let _ = peer.notify_roots_list_changed().await;
            }
        }
    }

    async fn list_tools(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let surface = self.current_surface();
        let mut tools = own_tools::definitions();
        tools.extend(unified::definitions(&self.orch.config()));
        if self.control {
            tools.extend(own_tools::admin_definitions());
        }
        tools.extend(surface.tools.iter().cloned());
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        req: CallToolRequestParams,
        mut cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        forward::mark_started(&mut cx);
        if let Some(result) = own_tools::call(&self.orch, &req.name) {
            return Ok(result.into());
        }
        if self.control
            && let Some(result) = own_tools::call_admin(&self.orch, &req).await
        {
            return result.map(Into::into);
        }
        if let Some(tool) = UnifiedTool::from_name(&req.name) {
            return unified::route::call(&self.orch, tool, req.arguments, &cx)
                .await
                .map(Into::into);
        }
        let Some(route) = self.tool_route(&req.name).await else {
            return Err(self.unroutable("tool", &req.name).into());
        };
        let mut params = req;
        params.name = route.name.clone().into();
        let result = forward::request(
            &self.orch,
            &route.server,
            ClientRequest::CallToolRequest(Request::new(params)),
            "tools/call",
            &cx,
            None,
        )
        .await?;
        match result {
            ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(CallToolResponse::InputRequired(r)),
            ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
            other => Err(forward::unexpected(&route.server, "tools/call", &other)),
        }
    }

    async fn list_prompts(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(
            self.current_surface().prompts.clone(),
        ))
    }

    async fn get_prompt(
        &self,
        mut req: GetPromptRequestParams,
        mut cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        forward::mark_started(&mut cx);
        let Some(route) = self.orch.surface().prompt_routes.get(&req.name).cloned() else {
            return Err(self.unroutable("prompt", &req.name).into());
        };
        req.name = route.name.clone();
        let result = forward::request(
            &self.orch,
            &route.server,
            ClientRequest::GetPromptRequest(Request::new(req)),
            "prompts/get",
            &cx,
            None,
        )
        .await?;
        match result {
            ServerResult::GetPromptResult(r) => Ok(GetPromptResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(GetPromptResponse::InputRequired(r)),
            other => Err(forward::unexpected(&route.server, "prompts/get", &other)),
        }
    }

    async fn list_resources(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(
            self.current_surface().resources.clone(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.current_surface().templates.clone(),
        ))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        mut cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        forward::mark_started(&mut cx);
        let Some(owner) = self.orch.surface().resource_owner(&req.uri).cloned() else {
            return Err(RouteError::Unknown {
                kind: "resource",
                name: req.uri,
            }
            .into());
        };
        let result = forward::request(
            &self.orch,
            &owner,
            ClientRequest::ReadResourceRequest(Request::new(req)),
            "resources/read",
            &cx,
            None,
        )
        .await?;
        match result {
            ServerResult::ReadResourceResult(r) => Ok(ReadResourceResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(ReadResourceResponse::InputRequired(r)),
            other => Err(forward::unexpected(&owner, "resources/read", &other)),
        }
    }

    async fn subscribe(
        &self,
        req: SubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let Some(owner) = self.orch.surface().resource_owner(&req.uri).cloned() else {
            return Err(RouteError::Unknown {
                kind: "resource",
                name: req.uri,
            }
            .into());
        };
        forward::request(
            &self.orch,
            &owner,
            ClientRequest::SubscribeRequest(Request::new(req)),
            "resources/subscribe",
            &cx,
            None,
        )
        .await?;
        Ok(())
    }

    async fn unsubscribe(
        &self,
        req: UnsubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let Some(owner) = self.orch.surface().resource_owner(&req.uri).cloned() else {
            return Err(RouteError::Unknown {
                kind: "resource",
                name: req.uri,
            }
            .into());
        };
        forward::request(
            &self.orch,
            &owner,
            ClientRequest::UnsubscribeRequest(Request::new(req)),
            "resources/unsubscribe",
            &cx,
            None,
        )
        .await?;
        Ok(())
    }

    async fn complete(
        &self,
        mut req: CompleteRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let surface = self.orch.surface();
        let owner = match &mut req.r#ref {
            Reference::Prompt(p) => {
                let Some(route) = surface.prompt_routes.get(&p.name).cloned() else {
                    return Err(self.unroutable("prompt", &p.name).into());
                };
                p.name = route.name;
                route.server
            }
            Reference::Resource(r) => match surface
                .template_owners
                .iter()
                .zip(surface.templates.iter())
                .find(|(_, t)| t.uri_template == r.uri)
                .map(|((_, owner), _)| owner.clone())
                .or_else(|| surface.resource_owner(&r.uri).cloned())
            {
                Some(owner) => owner,
                None => {
                    return Err(RouteError::Unknown {
                        kind: "resource",
                        name: r.uri.clone(),
                    }
                    .into());
                }
            },
            _ => {
                return Err(McpError::invalid_params(
                    "unsupported completion reference",
                    None,
                ));
            }
        };
        let result = forward::request(
            &self.orch,
            &owner,
            ClientRequest::CompleteRequest(Request::new(req)),
            "completion/complete",
            &cx,
            None,
        )
        .await?;
        match result {
            ServerResult::CompleteResult(r) => Ok(r),
            other => Err(forward::unexpected(&owner, "completion/complete", &other)),
        }
    }

    async fn set_level(
        &self,
        req: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        for c in self.orch.children().iter() {
            let declares_logging = c
                .status()
                .capabilities
                .is_some_and(|caps| caps.logging.is_some());
            if let (true, Some(peer)) = (declares_logging, c.peer())
                && let Err(e) = peer.set_level(req.clone()).await
            {
                tracing::debug!(server = %c.id(), error = %e, "logging/setLevel not forwarded");
            }
        }
        Ok(())
    }
}
