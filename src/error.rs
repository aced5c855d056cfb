//! Routing failures and their one mapping to JSON-RPC errors.

use std::time::Duration;

use rmcp::{ErrorData, ServiceError, model::ErrorCode};
use serde_json::json;

use crate::report::ServerState;

/// The code the TypeScript SDK uses for a request that timed out; hosts recognise it.
pub const REQUEST_TIMEOUT: ErrorCode = ErrorCode(-32001);

/// "Too many calls in flight to this server": in JSON-RPC's implementation-defined server-error
/// range, clear of the codes MCP reserves (-32002, -32020 to -32099).
pub const OVERLOADED: ErrorCode = ErrorCode(-32010);

/// "The child's answer was larger than `max_message_bytes`": dropped, the request fails at once.
pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(-32012);

/// "This tool's definition changed since it was pinned and waits for approval".
pub const WITHHELD: ErrorCode = ErrorCode(-32013);

/// What a host asked for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A tool (`tools/call`).
    Tool,
    /// A prompt (`prompts/get`).
    Prompt,
    /// A resource (`resources/read`, subscriptions, completion).
    Resource,
    /// A server id.
    Server,
}

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tool => "tool",
            Self::Prompt => "prompt",
            Self::Resource => "resource",
            Self::Server => "server",
        })
    }
}

/// Why a request could not be routed or answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No tool, prompt or resource by that name.
    #[error("unknown {kind} `{name}`")]
    Unknown {
        /// What was asked for.
        kind: ItemKind,
        name: String,
    },
    /// A method MCP does not define (and no child can serve).
    #[error("method not found: {method}")]
    UnknownMethod {
        /// What was asked for.
        method: String,
    },
    /// An MCP method whose params do not have the shape MCP defines.
    #[error("invalid params for {method}: they do not match the MCP schema of this method")]
    MalformedParams { method: String },
    /// The tool's definition changed after it was pinned and the config withholds changed tools.
    #[error(
        "tool `{name}` is withheld: server `{server}` changed its definition since it was pinned; approve it with `mcp-orchestrator approve {server}`"
    )]
    Withheld {
        /// The host-facing tool name.
        name: String,
        server: String,
    },
    /// The child's answer was over the size cap and was dropped.
    #[error(
        "server `{server}` sent a message larger than {limit} bytes (orchestrator.max_message_bytes); it was dropped"
    )]
    TooLarge { server: String, limit: usize },
    /// The owning server is not running.
    #[error("{kind} `{name}` is unavailable: server `{server}` is {state}{}", detail(.last_error))]
    Unavailable {
        /// What was asked for.
        kind: ItemKind,
        name: String,
        server: String,
        state: ServerState,
        /// Its last error, if any.
        last_error: Option<String>,
    },
    /// The child did not answer in time.
    #[error("server `{server}` did not answer {method} within {} s", .after.as_secs_f64())]
    Timeout {
        server: String,
        method: &'static str,
        after: Duration,
    },
    /// The connection to the child broke during the request (it crashed or was restarted).
    #[error(
        "server `{server}` closed the connection during {method} (it crashed or is restarting); try again"
    )]
    Closed {
        server: String,
        method: &'static str,
    },
    /// `max_in_flight` calls to the child are already running.
    #[error(
        "server `{server}` is busy: {limit} calls are already in flight (max_in_flight); retry shortly"
    )]
    Overloaded { server: String, limit: usize },
    /// The child answered with a JSON-RPC error: passed on as it is.
    #[error("{0}")]
    Child(ErrorData),
    /// The orchestrator refused the request's arguments (a unified tool's controls, an admin
    /// tool's server id): JSON-RPC invalid params.
    #[error("{0}")]
    InvalidParams(String),
    /// Something else went wrong talking to the child.
    /// A child asked for input (elicitation, sampling, roots) that the host cannot give.
    #[error(
        "server `{server}` needs {capability} from the MCP host, but the host did not declare the `{capability}` capability; use a host that supports it, or call a tool that does not ask for input"
    )]
    MissingCapability {
        server: String,
        /// What it is called in the message: `elicitation`, `sampling`, `roots`, an extension.
        capability: String,
        /// The `ClientCapabilities` object naming what is missing (the error's
        /// `requiredCapabilities`).
        required: serde_json::Value,
    },
    /// A host's retry named input state the orchestrator does not hold (expired or from another
    /// replica).
    #[error("{0}")]
    StaleInput(String),
    #[error("server `{server}`: {message}")]
    Transport {
        server: String,
        /// What happened.
        message: String,
    },
}

fn detail(last_error: &Option<String>) -> String {
    match last_error {
        Some(e) => format!(" ({e})"),
        None => String::new(),
    }
}

impl RouteError {
    /// The kind of failure, as metrics label it (a fixed set).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unknown { .. } => "unknown",
            Self::UnknownMethod { .. } => "unknown_method",
            Self::MalformedParams { .. } | Self::InvalidParams(_) => "invalid_params",
            Self::Withheld { .. } => "withheld",
            Self::TooLarge { .. } => "too_large",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::Closed { .. } => "closed",
            Self::Overloaded { .. } => "overloaded",
            Self::Child(_) => "child_error",
            Self::Transport { .. } => "transport",
            Self::MissingCapability { .. } => "missing_capability",
            Self::StaleInput(_) => "stale_input",
        }
    }

    /// Whether the same call to the same server may succeed if tried again shortly: it timed out,
    /// the connection broke mid-call, or the server was busy. The one rule shared by the unified
    /// tools' same-vendor retries and, later, workflow step retries. A server that is down was
    /// already waited for; the child's own errors and the request's are not worth repeating.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Closed { .. } | Self::Overloaded { .. } => true,
            Self::Unknown { .. }
            | Self::UnknownMethod { .. }
            | Self::MalformedParams { .. }
            | Self::Withheld { .. }
            | Self::TooLarge { .. }
            | Self::Unavailable { .. }
            | Self::Child(_)
            | Self::Transport { .. }
            | Self::MissingCapability { .. }
            | Self::StaleInput(_)
            | Self::InvalidParams(_) => false,
        }
    }

    /// Classifies an rmcp error from a request to `server`.
    pub fn from_service(server: &str, method: &'static str, e: ServiceError) -> Self {
        match e {
            ServiceError::McpError(e) => Self::Child(e),
            ServiceError::Timeout { timeout } => Self::Timeout {
                server: server.to_owned(),
                method,
                after: timeout,
            },
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => Self::Closed {
                server: server.to_owned(),
                method,
            },
            e => Self::Transport {
                server: server.to_owned(),
                message: e.to_string(),
            },
        }
    }

    /// The JSON-RPC error the host receives. The one place codes are chosen.
    pub fn to_error_data(&self) -> ErrorData {
        let message = self.to_string();
        match self {
            // SEP-2164: an unknown resource's error names its URI.
            Self::Unknown {
                kind: ItemKind::Resource,
                name,
            } => ErrorData::invalid_params(message, Some(json!({"uri": name}))),
            Self::Unknown { .. } | Self::MalformedParams { .. } => {
                ErrorData::invalid_params(message, None)
            }
            Self::UnknownMethod { .. } => {
                ErrorData::new(ErrorCode::METHOD_NOT_FOUND, message, None)
            }
            Self::TooLarge { server, limit } => ErrorData::new(
                MESSAGE_TOO_LARGE,
                message,
                Some(json!({"server": server, "max_message_bytes": limit})),
            ),
            Self::Withheld { server, .. } => ErrorData::new(
                WITHHELD,
                message,
                Some(json!({"server": server, "pinned": "changed"})),
            ),
            Self::Unavailable { server, state, .. } => {
                ErrorData::internal_error(message, Some(json!({"server": server, "state": state})))
            }
            Self::Timeout { server, after, .. } => ErrorData::new(
                REQUEST_TIMEOUT,
                message,
                Some(json!({"server": server, "timeout_s": after.as_secs_f64()})),
            ),
            Self::Closed { server, .. } | Self::Transport { server, .. } => {
                ErrorData::internal_error(message, Some(json!({"server": server})))
            }
            Self::Overloaded { server, limit } => ErrorData::new(
                OVERLOADED,
                message,
                Some(json!({"server": server, "max_in_flight": limit})),
            ),
            Self::Child(e) => e.clone(),
            Self::InvalidParams(_) | Self::StaleInput(_) => {
                ErrorData::invalid_params(message, None)
            }
            Self::MissingCapability {
                server, required, ..
            } => ErrorData::new(
                ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                message,
                Some(json!({"server": server, "requiredCapabilities": required})),
            ),
        }
    }
}

impl From<RouteError> for ErrorData {
    fn from(e: RouteError) -> Self {
        e.to_error_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let unknown = RouteError::Unknown {
            kind: ItemKind::Tool,
            name: "x".into(),
        };
        assert_eq!(unknown.to_error_data().code, ErrorCode::INVALID_PARAMS);
        let t = RouteError::from_service(
            "s",
            "tools/call",
            ServiceError::Timeout {
                timeout: Duration::from_secs(3),
            },
        );
        let e = t.to_error_data();
        assert_eq!(e.code, REQUEST_TIMEOUT);
        assert!(
            e.message.contains("server `s`") && e.message.contains("3 s"),
            "{}",
            e.message
        );
        let c = RouteError::from_service("s", "tools/call", ServiceError::TransportClosed)
            .to_error_data();
        assert_eq!(c.code, ErrorCode::INTERNAL_ERROR);
        assert!(c.message.contains("server `s`"));
        let child = ErrorData::invalid_params("bad", None);
        assert_eq!(
            RouteError::from_service("s", "tools/call", ServiceError::McpError(child.clone()))
                .to_error_data(),
            child
        );
    }

    #[test]
    fn unavailable_names_server_state_and_reason() {
        let e = RouteError::Unavailable {
            kind: ItemKind::Tool,
            name: "a__b".into(),
            server: "a".into(),
            state: ServerState::Failed,
            last_error: Some("exited with code 3".into()),
        };
        assert_eq!(
            e.to_string(),
            "tool `a__b` is unavailable: server `a` is failed (exited with code 3)"
        );
    }
}
