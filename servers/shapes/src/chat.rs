//! The `chat` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{InvalidArgs, Shape};

/// The lowest sampling temperature (most deterministic).
pub const MIN_TEMPERATURE: f64 = 0.0;
/// The highest sampling temperature OpenAI-compatible APIs accept.
pub const MAX_TEMPERATURE: f64 = 2.0;
/// The smallest useful `max_tokens`: a reply of no tokens is an error at every vendor.
pub const MIN_MAX_TOKENS: u32 = 1;

/// `chat`: a reply of a language model to a message or a conversation.
pub struct Chat;

impl Shape for Chat {
    const NAME: &'static str = "chat";
    type Args = ChatArgs;
    type Output = ChatOutput;
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (`developer` and `tool` pass through to vendors that know them).
    pub role: String,
    /// The text of the message.
    pub content: String,
    /// Optional participant name (dropped for vendors that reject it, such as Groq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    /// A message from `role` with no participant name.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
            name: None,
        }
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message: an earlier reply, when replaying a conversation.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }

    /// A `system` message: instructions that frame the conversation.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
}

/// Arguments of `chat`: either one `message` (optionally with a `system` prompt) or a whole
/// `messages` conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatArgs {
    /// A single user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A whole conversation, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// A system prompt, put first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The model; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling temperature (0 = most deterministic).
    // f64, not f32: an f32 widened back to JSON turns 0.7 into 0.699999988 on the way to the
    // vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = MIN_TEMPERATURE, max = MAX_TEMPERATURE))]
    pub temperature: Option<f64>,
    /// Nucleus sampling probability mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = MIN_MAX_TOKENS))]
    pub max_tokens: Option<u32>,
    /// Seed for reproducible sampling, where the vendor supports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Sequences that end generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Further vendor-specific request fields, passed through to OpenAI-compatible APIs
    /// (vendors that reject some of them get them stripped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ChatArgs {
    /// The conversation to send, `system` first, then `messages` or `message`, after checking
    /// the limits the schema advertises.
    pub fn conversation(&self) -> Result<Vec<ChatMessage>, InvalidArgs> {
        let mut out = Vec::new();
        if let Some(system) = &self.system {
            out.push(ChatMessage::system(system.clone()));
        }
        match (&self.message, &self.messages) {
            (Some(_), Some(_)) => {
                return Err(InvalidArgs::new(
                    "give either `message` or `messages`, not both",
                ));
            }
            (Some(text), None) => out.push(ChatMessage::user(text.clone())),
            (None, Some(list)) if !list.is_empty() => out.extend(list.iter().cloned()),
            _ => {
                return Err(InvalidArgs::new(
                    "`message` (a string) or a non-empty `messages` list is required",
                ));
            }
        }
        if let Some(t) = self.temperature
            && !(MIN_TEMPERATURE..=MAX_TEMPERATURE).contains(&t)
        {
            return Err(InvalidArgs::new(format!(
                "temperature {t} is outside {MIN_TEMPERATURE}..={MAX_TEMPERATURE}"
            )));
        }
        if let Some(n) = self.max_tokens
            && n < MIN_MAX_TOKENS
        {
            return Err(InvalidArgs::new(format!(
                "`max_tokens` must be at least {MIN_MAX_TOKENS}, got {n}"
            )));
        }
        Ok(out)
    }
}

/// Token counts of one chat call, as far as the vendor reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated.
    pub completion_tokens: Option<u64>,
    /// Their sum.
    pub total_tokens: Option<u64>,
}

/// Result of `chat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatOutput {
    /// The assistant's reply.
    pub message: String,
    /// The model that answered.
    pub model: String,
    /// The server id that answered (`openai`, `groq`, `local_llama`).
    pub vendor: String,
    /// Token counts.
    pub usage: Usage,
    /// Why generation stopped: `stop`, `length`, `tool_calls`, `content_filter`, ...
    pub finish_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: serde_json::Value) -> ChatArgs {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn system_goes_first_then_the_message() {
        let conversation = args(serde_json::json!({"message": "hi", "system": "be brief"}))
            .conversation()
            .unwrap();
        assert_eq!(
            conversation,
            [ChatMessage::system("be brief"), ChatMessage::user("hi")]
        );
    }

    #[test]
    fn message_and_messages_together_or_neither_are_refused() {
        let both = args(
            serde_json::json!({"message": "a", "messages": [{"role": "user", "content": "b"}]}),
        );
        assert!(
            both.conversation()
                .unwrap_err()
                .reason()
                .contains("not both")
        );
        let none = args(serde_json::json!({"messages": []}));
        assert!(
            none.conversation()
                .unwrap_err()
                .reason()
                .contains("required")
        );
    }

    #[test]
    fn limits_are_checked_at_their_bounds() {
        let with = |t: f64, n: u32| ChatArgs {
            message: Some("x".into()),
            temperature: Some(t),
            max_tokens: Some(n),
            ..ChatArgs::default()
        };
        assert!(with(MIN_TEMPERATURE, MIN_MAX_TOKENS).conversation().is_ok());
        assert!(with(MAX_TEMPERATURE, MIN_MAX_TOKENS).conversation().is_ok());
        assert!(with(MAX_TEMPERATURE + 0.1, 8).conversation().is_err());
        assert!(with(-0.1, 8).conversation().is_err());
        assert!(with(1.0, MIN_MAX_TOKENS - 1).conversation().is_err());
    }

    #[test]
    fn unset_fields_are_not_sent() {
        let v = serde_json::to_value(ChatArgs {
            message: Some("hi".into()),
            temperature: Some(0.7),
            ..ChatArgs::default()
        })
        .unwrap();
        // 0.7 exactly: the temperature reaches the vendor as the caller wrote it.
        assert_eq!(v, serde_json::json!({"message": "hi", "temperature": 0.7}));
    }
}
