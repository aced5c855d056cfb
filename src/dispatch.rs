//! The one narrow way to call a tool: [`ToolCaller`]. Everything that calls tools (the unified
//! tools' fallback loop today; workflows, jobs and tasks next) sees this trait and a
//! [`CallContext`], never the registry or a host's MCP request.
//!
//! - [`child`]: the implementation that sends calls to the supervised children (admission,
//!   timeouts, cancellation, progress, metrics, the audit line).
//! - [`input`]: input a child asks for mid-call, across the protocol eras.
//! - [`tasks`]: children's tasks, passed to hosts that poll and followed for those that cannot.

pub mod child;
pub mod input;
mod parked;
pub mod tasks;

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use rmcp::model::{CallToolResponse, JsonObject, Tool};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{error::RouteError, hub::ProgressSink, otel::TraceContext, report::ServerState};

/// A boxed future, so that [`ToolCaller`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a call ends with: a complete result, a task the caller polls, or a request for input.
pub type CallOutcome = CallToolResponse;

/// Calls tools. One method to call, one to see what can be called.
pub trait ToolCaller: Send + Sync {
    /// What can be called now: the tools with their annotations (so a caller can tell which are
    /// safe to repeat), and each server's state.
    fn catalog(&self) -> Catalog;

    /// Calls one tool. Errors are the routing errors the host would see; a tool's own failure is
    /// an `is_error` result, not an error.
    fn call<'a>(
        &'a self,
        request: CallRequest,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<CallOutcome, RouteError>>;

    /// Waits, at most `limit`, until `server` has settled (is running, or has definitively not
    /// come up), so a caller that picks servers by state does not skip one that is seconds from
    /// serving.
    fn wait_settled<'a>(&'a self, server: &'a str, limit: Duration) -> BoxFuture<'a, ()>;
}

/// Which tool to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRef {
    /// A child's own tool, by server id and the child's name for it.
    Child {
        /// The server id.
        server: Arc<str>,
        /// The tool's name on that server.
        tool: String,
    },
    /// A host-facing name (`chat`, `workflow__x`, `server__tool`), resolved by the table of tool
    /// sources as a host's call would be: what a workflow's `tool:` step calls.
    Host {
        /// The host-facing name.
        name: String,
    },
}

/// One call.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub tool: ToolRef,
    pub arguments: Option<JsonObject>,
    /// A deadline of the caller's that wins over the server's own timeout (the unified tools'
    /// `timeout_ms`, a workflow step's `timeout`).
    pub timeout: Option<Duration>,
}

impl CallRequest {
    /// A call of `tool` on child `server`.
    pub fn child(server: impl Into<Arc<str>>, tool: impl Into<String>) -> Self {
        Self {
            tool: ToolRef::Child {
                server: server.into(),
                tool: tool.into(),
            },
            arguments: None,
            timeout: None,
        }
    }

    /// A call of the host-facing tool `name`.
    pub fn host(name: impl Into<String>) -> Self {
        Self {
            tool: ToolRef::Host { name: name.into() },
            arguments: None,
            timeout: None,
        }
    }

    /// With these arguments.
    pub fn arguments(mut self, arguments: JsonObject) -> Self {
        self.arguments = Some(arguments);
        self
    }

    /// With this deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Who is calling: decides which tools exist for the call (admin tools only on the control
/// socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// An MCP host (stdio or HTTP session).
    Host,
    /// A session on the control socket of a running instance (the CLI).
    Control,
}

/// What a call needs from whoever asked for it, and nothing more.
#[derive(Clone)]
pub struct CallContext {
    /// Fires when the caller gives up (a host's `notifications/cancelled`, a cancelled run).
    pub cancel: CancellationToken,
    /// Where the callee's progress goes, if the caller asked for progress.
    pub progress: Option<ProgressSink>,
    /// When the request reached the orchestrator: the start of its latency and overhead.
    pub started: Instant,
    /// Who is calling.
    pub caller: Caller,
    /// The W3C trace context the caller's request carried, passed on to children.
    pub trace: TraceContext,
    /// The host request this call serves, if a host made it: who can answer input requests.
    pub host: Option<input::HostCall>,
    /// The input a host's retry of this call carries.
    pub input: input::InputRound,
}

impl CallContext {
    /// A context for a call that starts now, with no progress and its own cancellation.
    #[cfg(test)]
    pub fn new(caller: Caller) -> Self {
        Self {
            cancel: CancellationToken::new(),
            progress: None,
            started: Instant::now(),
            caller,
            trace: TraceContext::default(),
            host: None,
            input: input::InputRound::default(),
        }
    }
}

/// What can be called, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The children's tools as the host sees them (namespaced), with their annotations.
    pub tools: Arc<Vec<Tool>>,
    /// Every configured server.
    pub servers: Vec<ServerView>,
}

impl Catalog {
    /// The server with this id.
    pub fn server(&self, id: &str) -> Option<&ServerView> {
        self.servers.iter().find(|s| &*s.id == id)
    }
}

/// One server as a caller sees it: whether it takes calls, and why not.
#[derive(Debug, Clone)]
pub struct ServerView {
    pub id: Arc<str>,
    pub state: ServerState,
    /// Required variables that are unset.
    pub missing_env: Vec<String>,
    /// Its last error.
    pub last_error: Option<String>,
    /// Being replaced by a reload: new calls go to its successor.
    pub draining: bool,
    /// Its own tools, under its own names, with their annotations (whether a call is safe to
    /// repeat after a crash).
    pub tools: Arc<Vec<Tool>>,
    /// What kinds of work its config entry says it takes.
    pub capabilities: Arc<[String]>,
}

impl ServerView {
    /// Whether a call sent now would be served.
    pub fn takes_calls(&self) -> bool {
        self.state.serves_calls() && !self.draining
    }

    /// Its tool called `name` (its own name for it).
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Why it does not take calls, in a line.
    pub fn why_not(&self) -> String {
        match self.state {
            ServerState::MissingEnv => {
                format!("missing_env: {} not set", self.missing_env.join(", "))
            }
            state => match &self.last_error {
                Some(e) => format!("{state}: {}", e.lines().next().unwrap_or_default()),
                None => state.to_string(),
            },
        }
    }
}
