//! Typed tools on an rmcp server: arguments decoded from JSON (a decoding failure is a JSON-RPC
//! invalid-params error), results returned as `structuredContent` matching the advertised
//! `outputSchema`, with a short text for clients that only read text.

use std::{future::Future, pin::Pin, sync::Arc};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::common::{schema_for_output, schema_for_type},
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
        Tool,
    },
    service::RequestContext,
};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

use crate::VendorError;

/// A tool's result type: serialised as `structuredContent`, summarised as text.
pub trait ToolOutput: Serialize + JsonSchema + 'static {
    /// A short human-readable rendering (the reply of a chat, a count of search results, ...).
    fn summary(&self) -> String;
}

/// Why a tool call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The arguments are well-formed JSON but unusable (e.g. neither `message` nor `messages`):
    /// a JSON-RPC invalid-params error, like a schema mismatch.
    #[error("invalid arguments: {0}")]
    InvalidParams(String),
    /// The vendor failed: a tool result with `isError: true`.
    #[error(transparent)]
    Vendor(#[from] VendorError),
}

/// The shapes' own checks (an empty `query`, `num_results` past its limit) fail the same way
/// as a decoding error, so `?` on them in a handler is enough.
impl From<mcp_tool_shapes::InvalidArgs> for CallError {
    fn from(e: mcp_tool_shapes::InvalidArgs) -> Self {
        Self::InvalidParams(e.to_string())
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler =
    Arc<dyn Fn(JsonObject) -> BoxFuture<Result<CallToolResult, ErrorData>> + Send + Sync>;

struct Registered {
    tool: Tool,
    handler: Handler,
}

/// An MCP server made of typed tools. Build it with [`ToolServer::tool`], then serve it with
/// [`crate::serve_stdio`].
#[derive(Clone)]
pub struct ToolServer {
    info: Implementation,
    instructions: Option<String>,
    tools: Arc<Vec<Registered>>,
}

impl ToolServer {
    /// A server reporting `name` and `version` in its `serverInfo`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            info: Implementation::new(name, version),
            instructions: None,
            tools: Arc::new(Vec::new()),
        }
    }

    /// Sets the instructions sent to clients at initialisation.
    pub fn with_instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    /// Adds the tool `name`, taking arguments `A` and answering `O`, run by `run`.
    pub fn tool<A, O, F, Fut>(
        mut self,
        name: &'static str,
        description: &'static str,
        run: F,
    ) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        O: ToolOutput,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, CallError>> + Send + 'static,
    {
        let tool = Tool::new(name, description, schema_for_type::<A>())
            .with_raw_output_schema(schema_for_output::<O>());
        let run = Arc::new(run);
        let handler: Handler = Arc::new(move |args: JsonObject| {
            let run = Arc::clone(&run);
            Box::pin(async move {
                let args: A =
                    serde_json::from_value(serde_json::Value::Object(args)).map_err(|e| {
                        ErrorData::invalid_params(
                            format!("invalid arguments for {name}: {e}"),
                            None,
                        )
                    })?;
                match run(args).await {
                    Ok(output) => success(&output),
                    Err(CallError::InvalidParams(msg)) => Err(ErrorData::invalid_params(
                        format!("invalid arguments for {name}: {msg}"),
                        None,
                    )),
                    Err(CallError::Vendor(err)) => {
                        tracing::warn!(tool = name, kind = ?err.kind, status = ?err.status, error = %err.message, "vendor call failed");
                        Ok(err.into_tool_result())
                    }
                }
            })
        });
        Arc::get_mut(&mut self.tools)
            .expect("tools are registered before the server is shared")
            .push(Registered { tool, handler });
        self
    }

    /// The name reported in `serverInfo`.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The tools, as listed to clients.
    pub fn tools(&self) -> Vec<Tool> {
        self.tools.iter().map(|r| r.tool.clone()).collect()
    }
}

fn success<O: ToolOutput>(output: &O) -> Result<CallToolResult, ErrorData> {
    let value = serde_json::to_value(output)
        .map_err(|e| ErrorData::internal_error(format!("result not serialisable: {e}"), None))?;
    let mut result = CallToolResult::structured(value);
    result.content = vec![ContentBlock::text(output.summary())];
    Ok(result)
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        let config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(self.info.clone());
        match &self.instructions {
            Some(text) => config.with_instructions(text.clone()),
            None => config,
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools
            .iter()
            .find(|r| r.tool.name == name)
            .map(|r| r.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let registered = self
            .tools
            .iter()
            .find(|r| r.tool.name == request.name)
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("unknown tool '{}'", request.name), None)
            })?;
        let handler = Arc::clone(&registered.handler);
        let result = handler(request.arguments.unwrap_or_default()).await?;
        Ok(CallToolResponse::Complete(result))
    }
}
