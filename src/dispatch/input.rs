//! Input a child asks for in the middle of a call (elicitation, sampling, roots) across the two
//! protocol eras (`crate::era`). A stateless (2026-07-28) child asks by answering with an
//! `InputRequiredResult`, and the caller retries with `inputResponses` and the echoed
//! `requestState`; a handshake-era host is asked with real requests instead.
//!
//! - A modern host gets the child's `InputRequiredResult` as it is, with the child's state
//!   wrapped so that the host's retry can be told apart from input the orchestrator itself holds.
//! - A legacy host is sent the child's requests as `elicitation/create`, `sampling/createMessage`
//!   and `roots/list`, and the call is retried with the answers ([`fulfil`]), as many rounds as
//!   the child needs: the host sees one ordinary call.

#![expect(
    deprecated,
    reason = "sampling, roots and logging are deprecated by SEP-2577 but still used by legacy hosts"
)]

use rmcp::{
    Peer, RoleServer,
    model::{
        ClientCapabilities, ClientRequest, InputRequest, InputRequests, InputResponses,
        RequestMetaObject, ServerRequest,
    },
};

use crate::{era::Era, error::RouteError};

/// The most rounds of input one call may take before it is refused (rmcp's own client limit).
pub const MAX_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// A child's `requestState`, as handed to a host.
const CHILD_STATE: &str = "c:";

/// The `requestState` of a call the orchestrator holds open for a host's answers.
pub const PARKED_STATE: &str = "p:";

/// The host request a call serves, when a host made it (workflow steps and jobs have none).
#[derive(Clone)]
pub struct HostCall {
    /// The era of the host's request.
    pub era: Era,
    /// The host connection: where a legacy host is asked for input.
    pub peer: Peer<RoleServer>,
    /// What the host can answer: its per-request capabilities (modern), or those it declared at
    /// `initialize` (legacy). A modern child is told these, so it asks only for what the host
    /// can give.
    pub capabilities: Option<ClientCapabilities>,
    /// The log level a modern host asked for on this request, passed on to a modern child.
    pub log_level: Option<rmcp::model::LoggingLevel>,
}

/// The input a host's retry carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputRound {
    /// Answers to the input requests, by key.
    pub responses: Option<InputResponses>,
    /// The state the child handed out with its requests.
    pub state: Option<String>,
}

/// The child's state as the host is given it.
pub fn state_for_host(child_state: Option<String>) -> Option<String> {
    child_state.map(|s| format!("{CHILD_STATE}{s}"))
}

/// The id of the parked call a host's state names, if it names one.
pub fn parked_id(host_state: &str) -> Option<&str> {
    host_state.strip_prefix(PARKED_STATE)
}

/// The child's state from what a host sent back. State the orchestrator never handed out goes to
/// the child unchanged: it is the child's to accept or refuse.
pub fn state_for_child(host_state: String) -> String {
    match host_state.strip_prefix(CHILD_STATE) {
        Some(child) => child.to_owned(),
        None => host_state,
    }
}

/// The input-round fields of a request that can carry one (a tool call, a prompt, a read).
fn round_fields(
    request: &mut ClientRequest,
) -> Option<(&mut Option<InputResponses>, &mut Option<String>)> {
    match request {
        ClientRequest::CallToolRequest(r) => {
            Some((&mut r.params.input_responses, &mut r.params.request_state))
        }
        ClientRequest::GetPromptRequest(r) => {
            Some((&mut r.params.input_responses, &mut r.params.request_state))
        }
        ClientRequest::ReadResourceRequest(r) => {
            Some((&mut r.params.input_responses, &mut r.params.request_state))
        }
        _ => None,
    }
}

/// Takes the input round out of a request that can carry one.
pub fn take_round(request: &mut ClientRequest) -> InputRound {
    match round_fields(request) {
        Some((responses, state)) => InputRound {
            responses: responses.take(),
            state: state.take(),
        },
        None => InputRound::default(),
    }
}

/// Puts an input round into a request that can carry one.
pub fn put_round(request: &mut ClientRequest, round: InputRound) {
    if let Some((responses, state)) = round_fields(request) {
        *responses = round.responses;
        *state = round.state;
    }
}

/// The per-request `_meta` a modern child is sent on behalf of `host`: the host's capabilities
/// (none for a call no host can answer for: a workflow step, a job) and log level. A caller that
/// cannot declare the tasks extension (a handshake-era host, a workflow step, a job) is declared
/// to have it: the orchestrator polls such a task for it. A stateless host speaks for itself.
pub fn child_meta(host: Option<&HostCall>) -> RequestMetaObject {
    let mut meta = RequestMetaObject::new();
    let mut capabilities = host
        .and_then(|h| h.capabilities.clone())
        .unwrap_or_default();
    if host.is_none_or(|h| h.era == Era::Legacy) {
        capabilities
            .extensions
            .get_or_insert_with(Default::default)
            .entry(rmcp::model::TASKS_EXTENSION_ID.to_owned())
            .or_default();
    }
    meta.set_client_capabilities(capabilities);
    if let Some(level) = host.and_then(|h| h.log_level) {
        meta.set_log_level(level);
    }
    meta
}

/// Asks a legacy host for every input `server` requested, and returns the answers by key.
/// A request the host did not declare the capability for is refused up front, naming it.
pub async fn fulfil(
    server: &str,
    host: &HostCall,
    requests: InputRequests,
) -> Result<InputResponses, RouteError> {
    let mut answers = InputResponses::new();
    for (key, request) in requests {
        let (capability, request) = match request {
            InputRequest::Elicitation(r) => ("elicitation", ServerRequest::ElicitRequest(r)),
            InputRequest::CreateMessage(r) => ("sampling", ServerRequest::CreateMessageRequest(r)),
            InputRequest::ListRoots(r) => ("roots", ServerRequest::ListRootsRequest(r)),
            other => {
                return Err(RouteError::Transport {
                    server: server.to_owned(),
                    message: format!(
                        "asked for an input this orchestrator cannot relay to a handshake-era host: {}",
                        serde_json::to_value(&other)
                            .ok()
                            .and_then(|v| v.get("method").cloned())
                            .unwrap_or_default()
                    ),
                });
            }
        };
        if !declares(host.capabilities.as_ref(), capability) {
            return Err(RouteError::MissingCapability {
                server: server.to_owned(),
                capability: capability.to_owned(),
                required: serde_json::json!({ capability: {} }),
            });
        }
        let answer = host.peer.send_request(request).await.map_err(|e| match e {
            rmcp::ServiceError::McpError(e) => RouteError::Child(e),
            e => RouteError::Transport {
                server: server.to_owned(),
                message: format!("the MCP host did not answer its {capability} request: {e}"),
            },
        })?;
        let value = serde_json::to_value(answer).map_err(|e| RouteError::Transport {
            server: server.to_owned(),
            message: format!("the host's {capability} answer could not be passed on: {e}"),
        })?;
        answers.insert(key, value);
    }
    Ok(answers)
}

/// A child's own "missing required client capability" error (-32021), restated to say which
/// capability the host lacks; other errors pass unchanged.
pub fn name_missing_capability(server: &str, error: RouteError) -> RouteError {
    let RouteError::Child(e) = &error else {
        return error;
    };
    if e.code != rmcp::model::ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY {
        return error;
    }
    let Some(required) = e.data.as_ref().and_then(|d| d.get("requiredCapabilities")) else {
        return error;
    };
    // Extensions are named by their ids, the rest by their keys.
    let names: Vec<String> = required
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(key, value)| match (key.as_str(), value.as_object()) {
            ("extensions", Some(ids)) if !ids.is_empty() => ids.keys().cloned().collect(),
            _ => vec![key.clone()],
        })
        .collect();
    if names.is_empty() {
        return error;
    }
    RouteError::MissingCapability {
        server: server.to_owned(),
        capability: names.join(", "),
        required: required.clone(),
    }
}

/// Whether `capabilities` include `capability` (`elicitation`, `sampling` or `roots`).
fn declares(capabilities: Option<&ClientCapabilities>, capability: &str) -> bool {
    let Some(c) = capabilities else {
        return false;
    };
    match capability {
        "elicitation" => c.elicitation.is_some(),
        "sampling" => c.sampling.is_some(),
        "roots" => c.roots.is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{CallToolRequestParams, Request};

    use super::*;

    #[test]
    fn a_childs_state_goes_out_wrapped_and_comes_back_as_it_was() {
        let out = state_for_host(Some("abc:def".into())).unwrap();
        assert_eq!(out, "c:abc:def");
        assert_eq!(state_for_child(out), "abc:def");
        // State we never handed out is the child's to judge, unchanged.
        assert_eq!(state_for_child("forged".into()), "forged");
        assert_eq!(state_for_host(None), None);
    }

    #[test]
    fn a_round_moves_between_requests_whole() {
        let mut params = CallToolRequestParams::new("t");
        params.request_state = Some("s".into());
        params.input_responses = Some(InputResponses::from([("k".into(), serde_json::json!(1))]));
        let mut request = ClientRequest::CallToolRequest(Request::new(params));
        let round = take_round(&mut request);
        assert_eq!(round.state.as_deref(), Some("s"));
        assert_eq!(take_round(&mut request), InputRound::default());
        put_round(&mut request, round.clone());
        assert_eq!(take_round(&mut request), round);
    }

    #[test]
    fn a_childs_missing_capability_error_names_the_capability() {
        let child = RouteError::Child(rmcp::ErrorData::missing_required_client_capability(
            ClientCapabilities::builder().enable_elicitation().build(),
        ));
        let named = name_missing_capability("srv", child);
        assert!(
            named
                .to_string()
                .contains("needs elicitation from the MCP host"),
            "{named}"
        );
        assert_eq!(named.to_error_data().code.0, -32021);
        let tasks = RouteError::Child(rmcp::ErrorData::missing_required_client_capability(
            ClientCapabilities::builder().enable_tasks().build(),
        ));
        let named = name_missing_capability("srv", tasks);
        assert!(
            named.to_string().contains("io.modelcontextprotocol/tasks"),
            "{named}"
        );
        let data = named.to_error_data().data.unwrap();
        assert!(
            data["requiredCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
            "{data}"
        );
        let other = RouteError::InvalidParams("x".into());
        assert_eq!(
            name_missing_capability("srv", other).kind(),
            "invalid_params"
        );
    }

    #[test]
    fn capabilities_are_read_per_kind() {
        let caps = ClientCapabilities::builder().enable_elicitation().build();
        assert!(declares(Some(&caps), "elicitation"));
        assert!(!declares(Some(&caps), "sampling"));
        assert!(!declares(None, "elicitation"));
    }
}
