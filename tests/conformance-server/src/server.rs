//! The MCP handler: the tools, prompts, resources, completion, logging, subscriptions and
//! server → client requests that the conformance suite's server scenarios call by name.
//!
//! The names, arguments and result shapes follow the scenario checks of
//! `@modelcontextprotocol/conformance` (see `tests/conformance/README.md`).
//!
//! Two eras ([`Era`]): modern (the default) answers both `initialize` (2025-11-25 and older)
//! and `server/discover` (2026-07-28), and serves the 2026-07-28 scenarios — SEP-2322
//! input-required results ([`crate::mrtr`]), SEP-2575 `subscriptions/listen`
//! ([`crate::listen`]) and diagnostic tools — to requests on that revision only, so an
//! `initialize` session sees exactly the 2025-11-25 server. The SEP-2663 tasks extension
//! ([`crate::tasks`]) and a SEP-2243 `x-mcp-header` tool are 2026-07-28-only too, and exist for
//! the suite's extension and pending scenarios. Legacy answers `server/discover`
//! with -32601 (method not found), which makes dual-era clients fall back to `initialize`.

// Logging, sampling and `resources/subscribe` are deprecated in rmcp (SEP-2577, 2026-07-28), but
// they are exactly the 2025-11-25 features the scenarios exercise.
#![allow(deprecated)]

use std::{
    collections::HashSet,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
        CreateMessageRequestParams, DiscoverRequestMethod, DiscoverResult, ElicitRequestParams,
        GetPromptRequestParams, GetPromptResponse, GetPromptResult, GetTaskParams, GetTaskResult,
        Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
        LoggingMessageNotificationParam, PaginatedRequestParams, ProgressNotificationParam, Prompt,
        PromptArgument, PromptMessage, ProtocolVersion, ReadResourceRequestParams,
        ReadResourceResponse, ReadResourceResult, Reference, Resource, ResourceContents,
        ResourceTemplate, Role, ServerCapabilities, ServerConfig, SetLevelRequestParams,
        SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
        UpdateTaskParams,
    },
    service::{RequestContext, SubscriptionContext},
};
use serde_json::{Map, Value, json};

use crate::{
    http::Reconnect,
    listen::{Change, Generations, Listeners},
    mrtr::{self, Mrtr},
    tasks::{self, Tasks},
};

/// A 1×1 PNG (generated for this crate).
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mNQmPAAAAJkAZEuV/NGAAAAAElFTkSuQmCC";
/// A 4-sample, 8 kHz, 16-bit mono WAV of silence (generated for this crate).
pub const WAV_BASE64: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQgAAAAAAAAAAAAAAA==";

const LOGGER: &str = "mcp-conformance-server";
const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

/// Which protocol revisions the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25 and older over `initialize`, and 2026-07-28 over `server/discover`.
    Modern,
    /// 2025-11-25 and older only: `server/discover` is -32601 (method not found).
    Legacy,
}

/// State every handler shares: stateless HTTP builds a handler per request, and a trigger
/// tool called on one request must reach listen streams opened by others.
#[derive(Debug)]
pub struct Shared {
    era: Era,
    listeners: Listeners,
    generations: Generations,
    mrtr: Mrtr,
    tasks: Tasks,
}

impl Shared {
    /// Fails only if the `requestState` signing key cannot be set up.
    pub fn new(era: Era) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self {
            era,
            listeners: Listeners::default(),
            generations: Generations::default(),
            mrtr: Mrtr::new()?,
            tasks: Tasks::default(),
        }))
    }
}

/// Per-session state. Each HTTP session (and the single stdio session) gets its own.
#[derive(Debug)]
struct Session {
    subscriptions: Mutex<HashSet<String>>,
    /// Minimum level of `notifications/message` sent to the client (`logging/setLevel`).
    log_level: Mutex<LoggingLevel>,
}

/// The conformance server. Cheap to clone; clones share the session state.
#[derive(Debug, Clone)]
pub struct ConformanceServer {
    session: Arc<Session>,
    shared: Arc<Shared>,
    /// Present in HTTP mode: lets `test_reconnection` close its own SSE stream.
    reconnect: Option<Arc<Reconnect>>,
}

impl ConformanceServer {
    /// A fresh session. `reconnect` is `None` in stdio mode.
    pub fn new(shared: Arc<Shared>, reconnect: Option<Arc<Reconnect>>) -> Self {
        Self {
            session: Arc::new(Session {
                subscriptions: Mutex::new(HashSet::new()),
                log_level: Mutex::new(LoggingLevel::Debug),
            }),
            shared,
            reconnect,
        }
    }

    /// Whether `ctx` is a 2026-07-28 request to a modern server: only those see the
    /// 2026-07-28 tools and prompt.
    fn serves_modern(&self, ctx: &RequestContext<RoleServer>) -> bool {
        self.shared.era == Era::Modern && is_modern_request(ctx)
    }

    /// The level below which `notifications/message` stay unsent. A 2026-07-28 request sets it
    /// in its own `_meta` and gets no log at all without it (SEP-2575); an older session sets
    /// it with `logging/setLevel`.
    fn log_threshold(&self, ctx: &RequestContext<RoleServer>) -> Option<LoggingLevel> {
        if is_modern_request(ctx) {
            return ctx.meta.log_level();
        }
        Some(
            *self
                .session
                .log_level
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    async fn log(&self, ctx: &RequestContext<RoleServer>, level: LoggingLevel, message: &str) {
        let Some(threshold) = self.log_threshold(ctx) else {
            return;
        };
        if severity(level) < severity(threshold) {
            return;
        }
        let param =
            LoggingMessageNotificationParam::new(level, Value::from(message)).with_logger(LOGGER);
        if let Err(error) = ctx.peer.notify_logging_message(param).await {
            tracing::warn!(%error, "could not send a log notification");
        }
    }

    async fn call(
        &self,
        name: &str,
        args: &Map<String, Value>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let result = match name {
            "test_simple_text" => ok(vec![ContentBlock::text(
                "This is a simple text response for testing.",
            )]),
            "test_image_content" => ok(vec![ContentBlock::image(PNG_BASE64, "image/png")]),
            "test_audio_content" => ok(vec![ContentBlock::audio(WAV_BASE64, "audio/wav")]),
            "test_embedded_resource" => ok(vec![ContentBlock::resource(
                ResourceContents::text(
                    "This is an embedded resource content.",
                    "test://embedded-resource",
                )
                .with_mime_type("text/plain"),
            )]),
            "test_multiple_content_types" => ok(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG_BASE64, "image/png"),
                ContentBlock::resource(
                    ResourceContents::text(
                        json!({"test": "data", "value": 123}).to_string(),
                        "test://mixed-content-resource",
                    )
                    .with_mime_type("application/json"),
                ),
            ]),
            "test_tool_with_logging" => {
                self.log_three(ctx).await;
                ok(vec![ContentBlock::text(
                    "Tool with logging executed successfully",
                )])
            }
            "test_tool_with_progress" => {
                let token = ctx.meta.get_progress_token();
                if let Some(token) = &token {
                    for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        let param = ProgressNotificationParam::new(token.clone(), step)
                            .with_total(100.0)
                            .with_message(format!("Completed step {step} of 100"));
                        if let Err(error) = ctx.peer.notify_progress(param).await {
                            tracing::warn!(%error, "could not send a progress notification");
                        }
                    }
                }
                let text = match token {
                    Some(token) => format!(
                        "Progress reported 3 times for token {}",
                        serde_json::to_string(&token).unwrap_or_default()
                    ),
                    None => "No progress token in the request: no progress reported".into(),
                };
                ok(vec![ContentBlock::text(text)])
            }
            "test_error_handling" => {
                tool_error("This tool intentionally returns an error for testing")
            }
            "test_reconnection" => {
                if let Some(reconnect) = &self.reconnect {
                    reconnect.close_and_await_resume(ctx).await;
                }
                ok(vec![ContentBlock::text(
                    "Reconnection test completed successfully. If you received this, the client \
                     properly reconnected after stream closure.",
                )])
            }
            "test_sampling" => {
                let Some(prompt) = args.get("prompt").and_then(Value::as_str) else {
                    return Ok(invalid_args(
                        "test_sampling needs a string argument `prompt`",
                    ));
                };
                self.sampling(prompt, ctx).await
            }
            "test_elicitation" => {
                let Some(message) = args.get("message").and_then(Value::as_str) else {
                    return Ok(invalid_args(
                        "test_elicitation needs a string argument `message`",
                    ));
                };
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                });
                self.elicit(message, schema, "User response", ctx).await
            }
            "test_elicitation_sep1034_defaults" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {
                            "type": "string",
                            "description": "User status",
                            "enum": ["active", "inactive", "pending"],
                            "default": "active"
                        },
                        "verified": {"type": "boolean", "description": "Verification status", "default": true}
                    },
                    "required": []
                });
                let message = "Please review and update the form fields with defaults";
                self.elicit(message, schema, "Elicitation completed", ctx)
                    .await
            }
            "test_elicitation_sep1330_enums" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": {
                            "type": "string",
                            "description": "Select one option",
                            "enum": ["option1", "option2", "option3"]
                        },
                        "titledSingle": {
                            "type": "string",
                            "description": "Select one option with titles",
                            "oneOf": [
                                {"const": "value1", "title": "First Option"},
                                {"const": "value2", "title": "Second Option"},
                                {"const": "value3", "title": "Third Option"}
                            ]
                        },
                        "legacyEnum": {
                            "type": "string",
                            "description": "Select one option (legacy)",
                            "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]
                        },
                        "untitledMulti": {
                            "type": "array",
                            "description": "Select multiple options",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": {"type": "string", "enum": ["option1", "option2", "option3"]}
                        },
                        "titledMulti": {
                            "type": "array",
                            "description": "Select multiple options with titles",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": {
                                "anyOf": [
                                    {"const": "value1", "title": "First Choice"},
                                    {"const": "value2", "title": "Second Choice"},
                                    {"const": "value3", "title": "Third Choice"}
                                ]
                            }
                        }
                    },
                    "required": []
                });
                let message = "Please select options from the enum fields";
                self.elicit(message, schema, "Elicitation completed", ctx)
                    .await
            }
            "json_schema_2020_12_tool" => ok(vec![ContentBlock::text(format!(
                "JSON Schema 2020-12 tool called with: {}",
                Value::Object(args.clone())
            ))]),
            other => {
                return Err(McpError::invalid_params(
                    format!("Unknown tool: {other}"),
                    None,
                ));
            }
        };
        Ok(result)
    }

    /// Three info logs, 50 ms apart (subject to [`Self::log_threshold`]).
    async fn log_three(&self, ctx: &RequestContext<RoleServer>) {
        for (i, message) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.log(ctx, LoggingLevel::Info, message).await;
        }
    }

    /// The 2026-07-28 tools that need no client input (SEP-2575 diagnostics); `None` for
    /// other names.
    async fn call_modern(
        &self,
        name: &str,
        args: &Map<String, Value>,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<CallToolResult> {
        let text = match name {
            LOGGING_TOOL => {
                self.log_three(ctx).await;
                let level = ctx.meta.log_level().map_or_else(
                    || "none: no logs sent".to_owned(),
                    |level| serde_json::to_string(&level).unwrap_or_default(),
                );
                format!("Logging tool done; _meta logLevel {level}")
            }
            TRIGGER_TOOL_CHANGE => self.announce(Change::Tools).await,
            TRIGGER_PROMPT_CHANGE => self.announce(Change::Prompts).await,
            TRIGGER_RESOURCE_CHANGE => self.announce(Change::Resources).await,
            CUSTOM_HEADER_TOOL => format!(
                "Region: {}",
                args.get("region")
                    .and_then(Value::as_str)
                    .unwrap_or("(none)")
            ),
            _ => return None,
        };
        Some(ok(vec![ContentBlock::text(text)]))
    }

    async fn announce(&self, change: Change) -> String {
        self.shared.generations.bump(change);
        let reached = self.shared.listeners.announce(change).await;
        format!(
            "Announced a {}-list change to {reached} listen stream(s)",
            change.label()
        )
    }

    /// `test_sampling`: one `sampling/createMessage` round trip to the client.
    async fn sampling(&self, prompt: &str, ctx: &RequestContext<RoleServer>) -> CallToolResult {
        if ctx.client_capabilities().and_then(|c| c.sampling).is_none() {
            return tool_error("The client did not declare the sampling capability");
        }
        let params = json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
            "maxTokens": 100
        });
        let params: CreateMessageRequestParams = match serde_json::from_value(params) {
            Ok(params) => params,
            Err(error) => return tool_error(&format!("Bad sampling request: {error}")),
        };
        match ctx.peer.create_message(params).await {
            Ok(result) => {
                let result = serde_json::to_value(&result).unwrap_or_default();
                let text = first_text(&result["content"]).unwrap_or("No response");
                CallToolResult::success(vec![ContentBlock::text(format!("LLM response: {text}"))])
            }
            Err(error) => tool_error(&format!("Sampling failed: {error}")),
        }
    }

    /// The elicitation tools: one `elicitation/create` (form mode) round trip to the client.
    async fn elicit(
        &self,
        message: &str,
        requested_schema: Value,
        label: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        if ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_none()
        {
            return tool_error("The client did not declare the elicitation capability");
        }
        let params = json!({"message": message, "requestedSchema": requested_schema});
        let params: ElicitRequestParams = match serde_json::from_value(params) {
            Ok(params) => params,
            Err(error) => return tool_error(&format!("Bad elicitation request: {error}")),
        };
        match ctx.peer.create_elicitation(params).await {
            Ok(result) => {
                let result = serde_json::to_value(&result).unwrap_or_default();
                let content = result.get("content").cloned().unwrap_or_else(|| json!({}));
                CallToolResult::success(vec![ContentBlock::text(format!(
                    "{label}: action={}, content={content}",
                    result["action"].as_str().unwrap_or("unknown"),
                ))])
            }
            Err(error) => tool_error(&format!("Elicitation failed: {error}")),
        }
    }
}

impl ServerHandler for ConformanceServer {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        if self.shared.era == Era::Modern {
            // SEP-2663, a 2026-07-28 extension; rmcp gates `tasks/*` on this declaration.
            capabilities.extensions = ServerCapabilities::builder()
                .enable_tasks()
                .build()
                .extensions;
        }
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "mcp-conformance-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Test server for the MCP conformance suite's server scenarios (test_* tools, \
                 prompts and test:// resources).",
            )
    }

    /// `initialize` only negotiates 2025-11-25 or older, so the session gets the 2025-11-25
    /// capabilities: without the 2026-07-28 tasks extension, whose tools it does not list.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        result.capabilities.extensions = None;
        Ok(result)
    }

    /// Legacy: stay in the 2025-11-25 (initialize) era, so dual-era clients fall back to
    /// `initialize`, where server → client requests (sampling, elicitation) are allowed.
    /// Modern: rmcp's answer (every version it knows, this server's capabilities and info).
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        match self.shared.era {
            Era::Legacy => Err(McpError::method_not_found::<DiscoverRequestMethod>()),
            Era::Modern => Ok(DiscoverResult::from_server_info(
                self.supported_protocol_versions().into_owned(),
                self.get_info(),
            )),
        }
    }

    /// Modern only: accept whatever the client asks for; rmcp narrows it to what
    /// [`Self::get_info`] advertises. `None` leaves `subscriptions/listen` unimplemented.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        (self.shared.era == Era::Modern).then(|| requested.clone())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        self.shared.listeners.listen(subscription).await;
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut tools = if self.serves_modern(&context) {
            MODERN_TOOLS.clone()
        } else {
            TOOLS.clone()
        };
        let changed = self.shared.generations.of(Change::Tools);
        if changed > 0 {
            tools.push(Tool::new(
                CHANGED_LIST_MARKER,
                format!("Marks the tool list as changed {changed} time(s)"),
                Arc::new(serde_json::Map::from_iter([(
                    "type".into(),
                    json!("object"),
                )])),
            ));
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    /// rmcp's HTTP layer reads the schema here to check SEP-2243 `Mcp-Param-*` headers.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        let tools = match self.shared.era {
            Era::Modern => &*MODERN_TOOLS,
            Era::Legacy => &*TOOLS,
        };
        tools.iter().find(|tool| tool.name == name).cloned()
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        self.shared
            .tasks
            .get(&request.task_id)
            .map(GetTaskResult::new)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared
            .tasks
            .update(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.tasks.cancel(&request.task_id)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if self.serves_modern(&context) {
            if let Some(response) = self.shared.mrtr.call_tool(&request, &context) {
                return response;
            }
            let args = request.arguments.clone().unwrap_or_default();
            if let Some(result) = self.call_modern(&request.name, &args, &context).await {
                return Ok(result.into());
            }
            if let Some(response) = self.shared.tasks.call_tool(&request, &context).await {
                return response;
            }
        }
        let args = request.arguments.unwrap_or_default();
        self.call(&request.name, &args, &context)
            .await
            .map(CallToolResponse::from)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("test://static-text", "static-text")
                .with_title("Static Text Resource")
                .with_description("A static text resource for testing")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "static-binary")
                .with_title("Static Binary Resource")
                .with_description("A static binary resource (a PNG image) for testing")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "watched-resource")
                .with_title("Watched Resource")
                .with_description("A resource clients can subscribe to")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(
                format!("{TEMPLATE_PREFIX}{{id}}{TEMPLATE_SUFFIX}"),
                "template",
            )
            .with_title("Resource Template")
            .with_description("A resource template with parameter substitution")
            .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static-text" => {
                ResourceContents::text("This is the content of the static text resource.", uri)
                    .with_mime_type("text/plain")
            }
            "test://static-binary" => {
                ResourceContents::blob(PNG_BASE64, uri).with_mime_type("image/png")
            }
            "test://watched-resource" => {
                ResourceContents::text("Watched resource content", uri).with_mime_type("text/plain")
            }
            _ => match template_id(uri) {
                Some(id) => ResourceContents::text(
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                        .to_string(),
                    uri,
                )
                .with_mime_type("application/json"),
                None => {
                    return Err(McpError::resource_not_found(
                        format!("Resource not found: {uri}"),
                        Some(json!({"uri": uri})),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.session
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.session
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let arg = |name: &str, description: &str| {
            PromptArgument::new(name)
                .with_description(description)
                .with_required(true)
        };
        let mut prompts = vec![
            Prompt::new(
                "test_simple_prompt",
                Some("A simple prompt without arguments"),
                None,
            )
            .with_title("Simple Test Prompt"),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A prompt with required arguments"),
                Some(vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ]),
            )
            .with_title("Prompt With Arguments"),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A prompt that includes an embedded resource"),
                Some(vec![arg("resourceUri", "URI of the resource to embed")]),
            )
            .with_title("Prompt With Embedded Resource"),
            Prompt::new(
                "test_prompt_with_image",
                Some("A prompt that includes image content"),
                None,
            )
            .with_title("Prompt With Image"),
        ];
        if self.serves_modern(&context) {
            prompts.push(
                Prompt::new(
                    mrtr::PROMPT,
                    Some("SEP-2322: asks the user for context (InputRequiredResult) first"),
                    None,
                )
                .with_title("Input-Required Prompt"),
            );
        }
        let changed = self.shared.generations.of(Change::Prompts);
        if changed > 0 {
            prompts.push(Prompt::new(
                CHANGED_LIST_MARKER,
                Some(format!(
                    "Marks the prompt list as changed {changed} time(s)"
                )),
                None,
            ));
        }
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if self.serves_modern(&context)
            && let Some(response) = self.shared.mrtr.get_prompt(&request, &context)
        {
            return response;
        }
        let args = request.arguments.unwrap_or_default();
        let required = |name: &str| -> Result<String, McpError> {
            args.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    McpError::invalid_params(format!("Missing required argument: {name}"), None)
                })
        };
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => {
                let (arg1, arg2) = (required("arg1")?, required("arg2")?);
                vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )]
            }
            "test_prompt_with_embedded_resource" => {
                let uri = required("resourceUri")?;
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(
                            ResourceContents::text("Embedded resource content for testing.", uri)
                                .with_mime_type("text/plain"),
                        ),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(PNG_BASE64, "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            other => {
                return Err(McpError::invalid_params(
                    format!("Unknown prompt: {other}"),
                    None,
                ));
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let candidates: &[&str] = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Prompt(p), "arg1" | "arg2") if p.name == "test_prompt_with_arguments" => {
                &["paris", "park", "party", "test", "testValue1", "testValue2"]
            }
            (Reference::Prompt(p), "resourceUri")
                if p.name == "test_prompt_with_embedded_resource" =>
            {
                &[
                    "test://static-text",
                    "test://static-binary",
                    "test://watched-resource",
                ]
            }
            (Reference::Resource(r), "id")
                if r.uri == format!("{TEMPLATE_PREFIX}{{id}}{TEMPLATE_SUFFIX}") =>
            {
                &["1", "123", "42"]
            }
            _ => &[],
        };
        let prefix = request.argument.value.as_str();
        let values: Vec<String> = candidates
            .iter()
            .filter(|c| c.starts_with(prefix))
            .map(|c| (*c).to_owned())
            .collect();
        let completion = CompletionInfo::with_all_values(values)
            .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(completion))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self
            .session
            .log_level
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = request.level;
        let level = serde_json::to_value(request.level).unwrap_or_default();
        let message = format!("Log level set to: {}", level.as_str().unwrap_or("?"));
        self.log(&context, LoggingLevel::Info, &message).await;
        Ok(())
    }
}

const LOGGING_TOOL: &str = "test_logging_tool";
const TRIGGER_TOOL_CHANGE: &str = "test_trigger_tool_change";
/// The entry a trigger adds to its list (the description counts the changes).
const CHANGED_LIST_MARKER: &str = "test_changed_list_marker";
const TRIGGER_PROMPT_CHANGE: &str = "test_trigger_prompt_change";
const TRIGGER_RESOURCE_CHANGE: &str = "test_trigger_resource_change";
const CUSTOM_HEADER_TOOL: &str = "test_custom_header";

/// What 2026-07-28 requests see: [`TOOLS`], the SEP-2322 tools and the SEP-2575 diagnostics.
static MODERN_TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| {
    let diagnostics = [
        (
            LOGGING_TOOL,
            "SEP-2575: logs three messages, only if the request's _meta sets a logLevel",
        ),
        (
            TRIGGER_TOOL_CHANGE,
            "SEP-2575: announces a tool-list change on every subscriptions/listen stream",
        ),
        (
            TRIGGER_PROMPT_CHANGE,
            "SEP-2575: announces a prompt-list change on every subscriptions/listen stream",
        ),
        (
            TRIGGER_RESOURCE_CHANGE,
            "SEP-2575: announces a resource-list change on every subscriptions/listen stream",
        ),
    ];
    let no_args = Arc::new(
        json!({"type": "object", "properties": {}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let modern = mrtr::TOOLS
        .iter()
        .chain(diagnostics.iter())
        .map(|(name, description)| Tool::new(*name, *description, no_args.clone()));
    TOOLS
        .iter()
        .cloned()
        .chain(modern)
        .chain(tasks::tools())
        .chain(std::iter::once(custom_header_tool()))
        .collect()
});

/// SEP-2243: a tool whose `region` argument is mirrored in an `Mcp-Param-Region` HTTP header,
/// which rmcp checks against the body (and decodes from `=?base64?...?=`).
fn custom_header_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "region": {"type": "string", "description": "Where to run", "x-mcp-header": "Region"}
        },
        "required": ["region"]
    });
    Tool::new(
        CUSTOM_HEADER_TOOL,
        "SEP-2243: echoes `region`, which clients also send as the Mcp-Param-Region header",
        Arc::new(schema.as_object().cloned().unwrap_or_default()),
    )
}

/// The tool list, built once. `inputSchema`s are raw JSON so 2020-12 keywords survive as written.
static TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| {
    let no_args = json!({"type": "object", "properties": {}});
    let string_arg = |name: &str, description: &str| {
        json!({
            "type": "object",
            "properties": {name: {"type": "string", "description": description}},
            "required": [name]
        })
    };
    let tools = json!([
        {"name": "test_simple_text", "description": "Tests simple text content response", "inputSchema": no_args},
        {"name": "test_image_content", "description": "Tests image content response", "inputSchema": no_args},
        {"name": "test_audio_content", "description": "Tests audio content response", "inputSchema": no_args},
        {"name": "test_embedded_resource", "description": "Tests embedded resource content response", "inputSchema": no_args},
        {"name": "test_multiple_content_types", "description": "Tests response with multiple content types (text, image, resource)", "inputSchema": no_args},
        {"name": "test_tool_with_logging", "description": "Tests tool that emits log messages during execution", "inputSchema": no_args},
        {"name": "test_tool_with_progress", "description": "Tests tool that reports progress notifications", "inputSchema": no_args},
        {"name": "test_error_handling", "description": "Tests error response handling", "inputSchema": no_args},
        {"name": "test_reconnection", "description": "Tests SSE stream disconnection and client reconnection (SEP-1699): over HTTP the server closes the stream mid-call and sends the result after the client reconnects", "inputSchema": no_args},
        {"name": "test_sampling", "description": "Tests server-initiated sampling (LLM completion request)", "inputSchema": string_arg("prompt", "The prompt to send to the LLM")},
        {"name": "test_elicitation", "description": "Tests server-initiated elicitation (user input request)", "inputSchema": string_arg("message", "The message to show the user")},
        {"name": "test_elicitation_sep1034_defaults", "description": "Tests elicitation with default values per SEP-1034", "inputSchema": no_args},
        {"name": "test_elicitation_sep1330_enums", "description": "Tests elicitation with enum schema improvements per SEP-1330", "inputSchema": no_args},
        {
            "name": "json_schema_2020_12_tool",
            "description": "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
            // SEP-1613 ($schema, $defs, additionalProperties) and, since 2026-07-28,
            // SEP-2106 ($anchor, allOf/anyOf, if/then/else).
            "inputSchema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "$anchor": "addressDef",
                        "type": "object",
                        "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                    }
                },
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"},
                    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                    "phone": {"type": "string"},
                    "email": {"type": "string"}
                },
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "additionalProperties": false
            }
        }
    ]);
    serde_json::from_value(tools).expect("the built-in tool list is valid")
});

/// Whether `ctx` carries a 2026-07-28 (or later) request; those use per-request `_meta`
/// instead of an `initialize` session.
fn is_modern_request(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

fn ok(content: Vec<ContentBlock>) -> CallToolResult {
    CallToolResult::success(content)
}

fn tool_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

fn invalid_args(message: &str) -> CallToolResult {
    tool_error(&format!("Invalid arguments: {message}"))
}

/// `test://template/{id}/data` → `id` (one non-empty path segment).
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The first text of a sampling result's `content` (an object, or an array since 2025-11-25).
fn first_text(content: &Value) -> Option<&str> {
    match content {
        Value::Array(items) => items.iter().find_map(|item| item["text"].as_str()),
        other => other["text"].as_str(),
    }
}

/// RFC 5424 order of the MCP log levels.
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_parse_and_keep_2020_12_keywords() {
        assert_eq!(TOOLS.len(), 14);
        let tool = TOOLS
            .iter()
            .find(|t| t.name == "json_schema_2020_12_tool")
            .expect("tool present");
        assert_eq!(
            tool.input_schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert!(tool.input_schema["$defs"]["address"].is_object());
        assert_eq!(tool.input_schema["additionalProperties"], false);
        assert_eq!(
            tool.input_schema["$defs"]["address"]["$anchor"],
            "addressDef"
        );
        assert!(tool.input_schema["allOf"][0]["anyOf"].is_array());
        for keyword in ["if", "then", "else"] {
            assert!(tool.input_schema[keyword].is_object(), "{keyword}");
        }
    }

    #[test]
    fn modern_tools_add_to_the_legacy_ones() {
        let names: Vec<&str> = MODERN_TOOLS.iter().map(|t| t.name.as_ref()).collect();
        for tool in TOOLS.iter() {
            assert!(names.contains(&tool.name.as_ref()), "{}", tool.name);
        }
        for name in [
            mrtr::ELICITATION,
            LOGGING_TOOL,
            TRIGGER_TOOL_CHANGE,
            "slow_compute",
        ] {
            assert!(names.contains(&name), "{name}");
        }
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "duplicate tool names");
        let header = MODERN_TOOLS
            .iter()
            .find(|t| t.name == CUSTOM_HEADER_TOOL)
            .expect("listed");
        assert_eq!(
            header.input_schema["properties"]["region"]["x-mcp-header"],
            "Region"
        );
    }

    #[test]
    fn template_ids() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/1/2/data"), None);
        assert_eq!(template_id("test://static-text"), None);
    }

    #[test]
    fn elicitation_schemas_round_trip_unchanged() {
        // The SEP-1330 checks look at the exact wire shape of every property.
        let schema = json!({
            "type": "object",
            "properties": {
                "legacyEnum": {"type": "string", "enum": ["a"], "enumNames": ["A"]},
                "titledSingle": {"type": "string", "oneOf": [{"const": "v", "title": "V"}]},
                "untitledMulti": {"type": "array", "minItems": 1, "maxItems": 3,
                                  "items": {"type": "string", "enum": ["x"]}},
                "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "v", "title": "V"}]}},
                "age": {"type": "integer", "default": 30},
                "score": {"type": "number", "default": 95.5}
            },
            "required": []
        });
        let params: ElicitRequestParams =
            serde_json::from_value(json!({"message": "m", "requestedSchema": schema}))
                .expect("parses");
        let wire = serde_json::to_value(&params).expect("serializes");
        for (name, property) in schema["properties"].as_object().expect("object") {
            assert_eq!(
                &wire["requestedSchema"]["properties"][name], property,
                "{name}"
            );
        }
    }
}
