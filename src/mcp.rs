//! The orchestrator as an MCP server toward the host: tools come from the table of sources
//! ([`crate::tools`]), prompts and resources from the merged surface, and requests for them go
//! to the owning child through the dispatcher.

#![expect(
    deprecated,
    reason = "logging, roots and resources/subscribe are deprecated by SEP-2577/2026-07-28 but legacy hosts use them"
)]

use std::sync::Arc;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientRequest,
        CompleteRequestParams, CompleteResult, CustomRequest, CustomResult, GetPromptRequestParams,
        GetPromptResponse, GetTaskParams, GetTaskResult, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, Reference, Request, ResultType,
        ServerCapabilities, ServerConfig, ServerResult, SetLevelRequestParams,
        SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams, UpdateTaskParams,
    },
    service::{NotificationContext, RequestContext, SubscriptionContext},
};
use tokio::time::Instant;
use tracing::Instrument as _;

mod artifacts;
mod skills;
mod tasks;

use crate::{
    artifacts::SCHEME,
    dispatch::{
        CallContext, Caller,
        child::{ChildDispatcher, unexpected},
        input::{HostCall, InputRound},
        tasks::ChildTask,
    },
    era::Era,
    error::{ItemKind, RouteError},
    hub::ProgressSink,
    jobs::Jobs,
    otel::{self, TraceContext},
    registry::{Registry, surface::Surface},
    tools::{Sources, children::unroutable},
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

/// Requests of the handshake era that 2026-07-28 removed.
const LEGACY_ONLY: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Makes the full status report on demand.
pub type StatusSource =
    Arc<dyn Fn() -> crate::dispatch::BoxFuture<'static, crate::report::StatusReport> + Send + Sync>;

/// What every host session serves from.
pub struct Services {
    /// The children and their merged surface.
    pub registry: Arc<Registry>,
    /// Requests to children.
    pub children: Arc<ChildDispatcher>,
    /// The host-facing tools.
    pub sources: Sources,
    /// Jobs and the artifact registry (every artifact is a resource too).
    pub jobs: Arc<Jobs>,
    /// The full status report (what `orchestrator_status` answers), for `/metrics`.
    pub status: StatusSource,
}

/// The host-facing MCP server: one per session.
#[derive(Clone)]
pub struct OrchestratorServer {
    services: Arc<Services>,
    /// Set once this session's first list has waited for starting children.
    first_list: Arc<tokio::sync::OnceCell<()>>,
    /// A host, or a control-socket session (admin tools on, never registered as the host).
    caller: Caller,
}

impl OrchestratorServer {
    /// A session for `caller`.
    pub fn new(services: Arc<Services>, caller: Caller) -> Self {
        Self {
            services,
            first_list: Arc::default(),
            caller,
        }
    }

    fn registry(&self) -> &Registry {
        &self.services.registry
    }

    /// The surface as the children are now: the background rebuild lags a state change by its
    /// debounce, and a list must not miss a child that has just come up.
    async fn current_surface(&self) -> Arc<Surface> {
        // Hosts that list once (and models that plan from the first list) would never see the
        // tools of a child still starting: the first list of a session waits for them, bounded.
        self.first_list
            .get_or_init(|| async {
                let limit = self.registry().config().settings.first_list_wait;
                if !limit.is_zero() {
                    self.registry().wait_started(limit).await;
                }
            })
            .await;
        self.registry().refresh_surface();
        self.registry().surface()
    }

    /// What a call needs of this host request: its cancellation, progress token and start.
    fn call_context(&self, cx: &RequestContext<RoleServer>, started: Instant) -> CallContext {
        CallContext {
            cancel: cx.ct.clone(),
            progress: cx
                .meta
                .get_progress_token()
                .map(|token| ProgressSink::Host {
                    peer: cx.peer.clone(),
                    token,
                }),
            started,
            caller: self.caller,
            trace: TraceContext::from_meta(&cx.meta),
            host: Some(host_call(cx, self.registry().hub())),
            input: InputRound::default(),
        }
    }

    /// Forwards a prompt, resource or completion request to its owner and picks its answer out.
    async fn forward<T>(
        &self,
        owner: &Arc<str>,
        request: ClientRequest,
        method: &'static str,
        cx: &RequestContext<RoleServer>,
        started: Instant,
        pick: impl FnOnce(ServerResult) -> Option<T>,
    ) -> Result<T, McpError> {
        let call = self.call_context(cx, started);
        let name = crate::dispatch::child::request_target(&request).to_owned();
        let span = otel::request_span(method, &name, &call.trace);
        let result = self
            .services
            .children
            .request(owner, request, method, &call, None)
            .instrument(span.clone())
            .await;
        otel::set_outcome(&span, result.as_ref().err().map(RouteError::kind));
        let mut result = result?;
        mark_complete(&mut result);
        pick(result).ok_or_else(|| unexpected(owner, method).into())
    }

    /// The caching hints of this session's lists: what every child said of its own (the
    /// shortest freshness, public only if all are), since the orchestrator's own entries change
    /// only with an announced reload; none (rmcp's conservative defaults) while some child gave
    /// none, and for the control socket, whose lists are its own.
    fn cache_hints(&self, surface: &Surface) -> (Option<u64>, Option<CacheScope>) {
        match (self.caller, surface.cache_hints) {
            (Caller::Host, Some(h)) => (
                h.ttl_ms,
                Some(if h.public {
                    CacheScope::Public
                } else {
                    CacheScope::Private
                }),
            ),
            _ => (None, None),
        }
    }

    /// The protocol era of child `id`'s connection.
    fn era_of(&self, id: &str) -> Option<Era> {
        self.registry().child(id).and_then(|c| c.era())
    }

    /// The owner of a resource URI.
    fn resource_owner(&self, uri: &str) -> Result<Arc<str>, McpError> {
        self.registry()
            .surface()
            .resource_owner(uri)
            .cloned()
            .ok_or_else(|| {
                RouteError::Unknown {
                    kind: ItemKind::Resource,
                    name: uri.to_owned(),
                }
                .into()
            })
    }
}

/// Marks a child's answer `resultType: "complete"` where it says nothing: 2026-07-28 hosts need
/// the discriminator, a handshake-era child never sends it, and rmcp takes it off again for
/// handshake-era hosts.
fn mark_complete(result: &mut ServerResult) {
    let result_type = match result {
        ServerResult::CompleteResult(r) => &mut r.result_type,
        ServerResult::GetPromptResult(r) => &mut r.result_type,
        ServerResult::ReadResourceResult(r) => &mut r.result_type,
        ServerResult::CallToolResult(r) => &mut r.result_type,
        _ => return,
    };
    result_type.get_or_insert(ResultType::COMPLETE);
}

/// Who made a host request, in which era, and what it can answer.
fn host_call(cx: &RequestContext<RoleServer>, hub: &crate::hub::Hub) -> HostCall {
    let era = cx.protocol_version().map_or(Era::Legacy, |v| Era::of(&v));
    let capabilities = cx.client_capabilities();
    if era == Era::Modern {
        let client = cx.client_info().map_or_else(
            || "unnamed client".to_owned(),
            |i| format!("{} {}", i.name, i.version),
        );
        let version = cx
            .protocol_version()
            .map(|v| v.to_string())
            .unwrap_or_default();
        let extensions =
            crate::hub::extension_ids(capabilities.as_ref().and_then(|c| c.extensions.as_ref()));
        hub.saw_modern_host(client, &version, extensions);
    }
    HostCall {
        era,
        peer: cx.peer.clone(),
        capabilities,
        // A legacy host set its level once with `logging/setLevel`.
        log_level: cx.meta.log_level().or_else(|| hub.log_level()),
    }
}

impl ServerHandler for OrchestratorServer {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_tasks()
            .build();
        skills::declare(&mut capabilities, self.registry());
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "mcp-orchestrator",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Tools of several MCP servers, each named <server>__<tool>. \
             orchestrator_status shows which servers are up and why others are not.",
            )
    }

    /// Modern hosts' `subscriptions/listen`: every list the surface has, and updates of any
    /// resource (a child's `notifications/resources/updated` reaches the streams naming its URI).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, cx: SubscriptionContext) -> Result<(), McpError> {
        self.services.registry.hub().listen(cx.sink().clone());
        cx.cancelled().await;
        Ok(())
    }

    /// rmcp hands over as "custom" both unknown methods and MCP methods whose params it could
    /// not read; the second kind is a -32602, not a -32601.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        cx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let method = request.method;
        let modern = cx
            .protocol_version()
            .is_some_and(|v| Era::of(&v) == Era::Modern);
        // 2026-07-28 removed the handshake-era methods: to a stateless request they do not exist.
        Err(if modern && LEGACY_ONLY.contains(&method.as_str()) {
            RouteError::UnknownMethod { method }
        } else if MCP_REQUESTS.contains(&method.as_str()) {
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
        if self.caller == Caller::Host {
            self.services.registry.hub().set_host(cx.peer.clone());
        }
    }

    async fn on_roots_list_changed(&self, _cx: NotificationContext<RoleServer>) {
        for c in self.registry().children().iter() {
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
        let surface = self.current_surface().await;
        let mut result = ListToolsResult::with_all_items(self.services.sources.tools(self.caller));
        (result.ttl_ms, result.cache_scope) = self.cache_hints(&surface);
        Ok(result)
    }

    /// A child tool's definition as hosts see it: rmcp's HTTP layer checks a call's
    /// `Mcp-Param-*` headers (SEP-2243) against the schema's `x-mcp-header` entries.
    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.registry()
            .surface()
            .tools
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    async fn call_tool(
        &self,
        mut req: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // A host that declared the tasks extension gets durable work as a task it polls.
        if cx.client_capabilities().is_some_and(|c| c.supports_tasks()) {
            let jobs = &self.services.jobs;
            if req.name == crate::tools::jobs::SUBMIT {
                let args = req.arguments.unwrap_or_default();
                return Ok(CallToolResponse::Task(tasks::submit_job(jobs, args).await?));
            }
            if let Some(workflow) = req.name.strip_prefix(crate::tools::workflows::PREFIX)
                && jobs.engine().definitions().get(workflow).is_some()
            {
                let args = req.arguments.unwrap_or_default();
                return Ok(CallToolResponse::Task(
                    tasks::start_run(jobs, workflow, args).await?,
                ));
            }
        }
        let mut call = self.call_context(&cx, Instant::now());
        call.input = InputRound {
            responses: req.input_responses.take(),
            state: req.request_state.take(),
        };
        let span = otel::request_span("tools/call", &req.name, &call.trace);
        let result = self
            .services
            .sources
            .call(&req.name, req.arguments, &call)
            .instrument(span.clone())
            .await;
        let result = result.map(|mut response| {
            if let CallToolResponse::Complete(r) = &mut response {
                r.result_type.get_or_insert(ResultType::COMPLETE);
            }
            response
        });
        otel::set_outcome(
            &span,
            match &result {
                Err(e) => Some(e.kind()),
                Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => Some("tool_error"),
                Ok(_) => None,
            },
        );
        Ok(result?)
    }

    async fn get_task(
        &self,
        req: GetTaskParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        if let Some(task) = ChildTask::parse(&req.task_id) {
            let call = self.call_context(&cx, Instant::now());
            return Ok(self.services.children.task_get(&task, &call).await?);
        }
        tasks::get(&self.services.jobs, &req.task_id).await
    }

    async fn update_task(
        &self,
        req: UpdateTaskParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Some(task) = ChildTask::parse(&req.task_id) {
            let call = self.call_context(&cx, Instant::now());
            let children = &self.services.children;
            return Ok(children
                .task_update(&task, req.input_responses, &call)
                .await?);
        }
        tasks::update(&self.services.jobs, &req.task_id).await
    }

    async fn cancel_task(
        &self,
        req: CancelTaskParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Some(task) = ChildTask::parse(&req.task_id) {
            let call = self.call_context(&cx, Instant::now());
            return Ok(self.services.children.task_cancel(&task, &call).await?);
        }
        tasks::cancel(&self.services.jobs, &req.task_id).await
    }

    async fn list_prompts(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let surface = self.current_surface().await;
        let mut result = ListPromptsResult::with_all_items(surface.prompts.clone());
        (result.ttl_ms, result.cache_scope) = self.cache_hints(&surface);
        Ok(result)
    }

    async fn get_prompt(
        &self,
        mut req: GetPromptRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let started = Instant::now();
        let Some(route) = self
            .registry()
            .surface()
            .prompt_routes
            .get(&req.name)
            .cloned()
        else {
            return Err(unroutable(self.registry(), ItemKind::Prompt, &req.name).into());
        };
        req.name = route.name.clone();
        let request = ClientRequest::GetPromptRequest(Request::new(req));
        self.forward(
            &route.server,
            request,
            "prompts/get",
            &cx,
            started,
            |r| match r {
                ServerResult::GetPromptResult(r) => Some(GetPromptResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => Some(GetPromptResponse::InputRequired(r)),
                _ => None,
            },
        )
        .await
    }

    async fn list_resources(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let surface = self.current_surface().await;
        let mut resources = surface.resources.clone();
        resources.extend(artifacts::list(self.services.jobs.artifacts()).await);
        let mut result = ListResourcesResult::with_all_items(resources);
        (result.ttl_ms, result.cache_scope) = self.cache_hints(&surface);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let surface = self.current_surface().await;
        let mut result = ListResourceTemplatesResult::with_all_items(surface.templates.clone());
        (result.ttl_ms, result.cache_scope) = self.cache_hints(&surface);
        Ok(result)
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let started = Instant::now();
        if let Some(id) = req.uri.strip_prefix(SCHEME) {
            let read = artifacts::read(self.services.jobs.artifacts(), &req.uri, id).await?;
            return Ok(ReadResourceResponse::Complete(read));
        }
        let owner = self.resource_owner(&req.uri)?;
        let request = ClientRequest::ReadResourceRequest(Request::new(req));
        self.forward(
            &owner,
            request,
            "resources/read",
            &cx,
            started,
            |r| match r {
                ServerResult::ReadResourceResult(r) => Some(ReadResourceResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => {
                    Some(ReadResourceResponse::InputRequired(r))
                }
                _ => None,
            },
        )
        .await
    }

    async fn subscribe(
        &self,
        req: SubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let owner = self.resource_owner(&req.uri)?;
        if self.era_of(&owner) == Some(Era::Modern) {
            let children = &self.services.children;
            return Ok(children.subscribe_by_listen(&owner, &req.uri).await?);
        }
        let request = ClientRequest::SubscribeRequest(Request::new(req));
        self.forward(
            &owner,
            request,
            "resources/subscribe",
            &cx,
            Instant::now(),
            |_| Some(()),
        )
        .await
    }

    async fn unsubscribe(
        &self,
        req: UnsubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let owner = self.resource_owner(&req.uri)?;
        if self.era_of(&owner) == Some(Era::Modern) {
            self.services
                .children
                .unsubscribe_by_listen(&owner, &req.uri);
            return Ok(());
        }
        let request = ClientRequest::UnsubscribeRequest(Request::new(req));
        self.forward(
            &owner,
            request,
            "resources/unsubscribe",
            &cx,
            Instant::now(),
            |_| Some(()),
        )
        .await
    }

    async fn complete(
        &self,
        mut req: CompleteRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let surface = self.registry().surface();
        let owner = match &mut req.r#ref {
            Reference::Prompt(p) => {
                let Some(route) = surface.prompt_routes.get(&p.name).cloned() else {
                    return Err(unroutable(self.registry(), ItemKind::Prompt, &p.name).into());
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
                        kind: ItemKind::Resource,
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
        let request = ClientRequest::CompleteRequest(Request::new(req));
        self.forward(
            &owner,
            request,
            "completion/complete",
            &cx,
            Instant::now(),
            |r| match r {
                ServerResult::CompleteResult(r) => Some(r),
                _ => None,
            },
        )
        .await
    }

    async fn set_level(
        &self,
        req: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // A stateless child has no `logging/setLevel`: the level goes with each request instead.
        self.registry().hub().set_log_level(req.level);
        for c in self.services.registry.children().iter() {
            if c.era() == Some(Era::Modern) {
                continue;
            }
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

    /// SEP-2640 `skills/list`: every running child's skills, in config order of servers, then
    /// each child's own order.
    async fn list_skills(
        &self,
        _req: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListSkillsResult, McpError> {
        Ok(rmcp::model::ListSkillsResult::with_all_items(
            self.current_surface().await.skills.clone(),
        ))
    }

    /// SEP-2640 `skills/get`, routed by the skill's URI to the child serving it.
    async fn get_skill(
        &self,
        req: rmcp::model::GetSkillRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetSkillResult, McpError> {
        skills::get(self, req, cx).await
    }

    /// SEP-2640 `resources/directory/read` of a skill directory.
    async fn read_resource_directory(
        &self,
        req: rmcp::model::ReadResourceDirectoryRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceDirectoryResult, McpError> {
        skills::read_directory(self, req, cx).await
    }
}
