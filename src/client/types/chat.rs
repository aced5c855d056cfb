//! `chat`: the request builder and the answer.

use mcp_tool_shapes::ChatArgs;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{RouteOptions, arguments};
use crate::report::Routing;

/// One chat message: the vendor servers' own type, so a conversation passes through as is.
pub use mcp_tool_shapes::ChatMessage as Message;

/// A `chat` request.
///
/// ```
/// use mcp_orchestrator::client::ChatRequest;
/// let req = ChatRequest::new("Name a colour.").vendor("groq").temperature(0.0).max_tokens(16);
/// let args = req.to_arguments();
/// assert_eq!(args["message"], "Name a colour.");
/// assert_eq!(args["vendor"], "groq");
/// assert_eq!(args["max_tokens"], 16);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    args: ChatArgs,
    route: RouteOptions,
}

impl ChatRequest {
    /// A one-message chat.
    pub fn new(message: impl Into<String>) -> Self {
        Self::conversation([Message::user(message)])
    }

    /// A chat over a conversation.
    pub fn conversation(messages: impl IntoIterator<Item = Message>) -> Self {
        let mut messages: Vec<Message> = messages.into_iter().collect();
        let args = match messages.as_slice() {
            // A lone user message goes as `message`, the form every vendor (and an adapter that
            // renames it) takes.
            [one] if one.role == "user" && one.name.is_none() => ChatArgs {
                message: messages.pop().map(|m| m.content),
                ..ChatArgs::default()
            },
            _ => ChatArgs {
                messages: Some(messages),
                ..ChatArgs::default()
            },
        };
        Self {
            args,
            route: RouteOptions::default(),
        }
    }

    /// System prompt.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.args.system = Some(system.into());
        self
    }

    /// Model (vendor-specific name).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.args.model = Some(model.into());
        self
    }

    /// Sampling temperature, 0 to 2 (`mcp_tool_shapes::chat::MAX_TEMPERATURE`).
    pub fn temperature(mut self, t: f64) -> Self {
        self.args.temperature = Some(t);
        self
    }

    /// Most tokens to generate.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.args.max_tokens = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        arguments(&self.args, &self.route)
    }
}

impl From<&str> for ChatRequest {
    fn from(m: &str) -> Self {
        Self::new(m)
    }
}

impl From<String> for ChatRequest {
    fn from(m: String) -> Self {
        Self::new(m)
    }
}

/// A `chat` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatResponse {
    /// The reply.
    pub message: String,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The vendor that answered.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Token usage as the vendor reports it.
    #[serde(default)]
    pub usage: Option<Value>,
    /// Why generation stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_lone_user_message_goes_as_message_and_a_conversation_as_messages() {
        let one = ChatRequest::conversation([Message::user("hi")]).to_arguments();
        assert_eq!(Value::Object(one), json!({"message": "hi"}));
        let two = ChatRequest::conversation([Message::system("brief"), Message::user("hi")])
            .to_arguments();
        assert_eq!(
            Value::Object(two),
            json!({"messages": [{"role": "system", "content": "brief"}, {"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn the_temperature_is_sent_as_given() {
        let args = ChatRequest::new("hi").temperature(0.7).to_arguments();
        assert_eq!(args["temperature"], json!(0.7));
    }
}
