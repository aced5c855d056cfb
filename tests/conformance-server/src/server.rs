//! The MCP handler: the tools, prompts, resources, completion, logging, subscriptions and
//! server → client requests that the conformance suite's server scenarios call by name.
//!
//! The names, arguments and result shapes follow the scenario checks of
//! `@modelcontextprotocol/conformance` (see `tests/conformance/README.md`).

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
        CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
        CompleteResult, CompletionInfo, ContentBlock, CreateMessageRequestParams,
        DiscoverRequestMethod, DiscoverResult, ElicitRequestParams, GetPromptRequestParams,
        GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
        LoggingMessageNotificationParam, PaginatedRequestParams, ProgressNotificationParam, Prompt,
        PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Reference, Resource, ResourceContents, ResourceTemplate, Role,
        ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams, Tool,
        UnsubscribeRequestParams,
    },
    service::RequestContext,
};
use serde_json::{Map, Value, json};

use crate::http::Reconnect;

/// A 1×1 PNG (generated for this crate).
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mNQmPAAAAJkAZEuV/NGAAAAAElFTkSuQmCC";
/// A 4-sample, 8 kHz, 16-bit mono WAV of silence (generated for this crate).
pub const WAV_BASE64: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQgAAAAAAAAAAAAAAA==";

const LOGGER: &str = "mcp-conformance-server";
const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

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
    /// Present in HTTP mode: lets `test_reconnection` close its own SSE stream.
    reconnect: Option<Arc<Reconnect>>,
}

impl ConformanceServer {
    /// A fresh session. `reconnect` is `None` in stdio mode.
    pub fn new(reconnect: Option<Arc<Reconnect>>) -> Self {
        Self {
            session: Arc::new(Session {
                subscriptions: Mutex::new(HashSet::new()),
                log_level: Mutex::new(LoggingLevel::Debug),
            }),
            reconnect,
        }
    }

    async fn log(&self, ctx: &RequestContext<RoleServer>, level: LoggingLevel, message: &str) {
        let threshold = *self
            .session
            .log_level
            .lock()
            .unwrap_or_else(|e| e.into_inner());
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
        let capabilities = ServerCapabilities::builder()
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

    /// Stay in the 2025-11-25 (initialize) era: dual-era clients fall back to `initialize`,
    /// where server → client requests (sampling, elicitation) are allowed.
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        Err(McpError::method_not_found::<DiscoverRequestMethod>())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(TOOLS.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let arg = |name: &str, description: &str| {
            PromptArgument::new(name)
                .with_description(description)
                .with_required(true)
        };
        Ok(ListPromptsResult::with_all_items(vec![
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
        ]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
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
            "inputSchema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "type": "object",
                        "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                    }
                },
                "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                "additionalProperties": false
            }
        }
    ]);
    serde_json::from_value(tools).expect("the built-in tool list is valid")
});

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
