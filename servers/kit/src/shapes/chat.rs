//! The `chat` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{CallError, ToolOutput};

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (`developer` and `tool` pass through to vendors that know them).
    pub role: String,
    /// The text of the message.
    pub content: String,
    /// Optional participant name (dropped for vendors that reject it, such as Groq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Arguments of `chat`: either one `message` (optionally with a `system` prompt) or a whole
/// `messages` conversation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ChatArgs {
    /// A single user message.
    #[serde(default)]
    pub message: Option<String>,
    /// A whole conversation, oldest first.
    #[serde(default)]
    pub messages: Option<Vec<ChatMessage>>,
    /// A system prompt, put first.
    #[serde(default)]
    pub system: Option<String>,
    /// The model; the server's default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling temperature (0 = most deterministic).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling probability mass.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Upper bound on generated tokens.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Seed for reproducible sampling, where the vendor supports one.
    #[serde(default)]
    pub seed: Option<u32>,
    /// Sequences that end generation.
    #[serde(default)]
    pub stop: Option<Vec<String>>,
    /// Further vendor-specific request fields, passed through to OpenAI-compatible APIs
    /// (vendors that reject some of them get them stripped).
    #[serde(default)]
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ChatArgs {
    /// The conversation to send: `system` first, then `messages` or `message`.
    pub fn conversation(&self) -> Result<Vec<ChatMessage>, CallError> {
        let mut out = Vec::new();
        if let Some(system) = &self.system {
            out.push(ChatMessage {
                role: "system".into(),
                content: system.clone(),
                name: None,
            });
        }
        match (&self.message, &self.messages) {
            (Some(_), Some(_)) => {
                return Err(CallError::InvalidParams(
                    "give either `message` or `messages`, not both".into(),
                ));
            }
            (Some(text), None) => out.push(ChatMessage {
                role: "user".into(),
                content: text.clone(),
                name: None,
            }),
            (None, Some(list)) if !list.is_empty() => out.extend(list.iter().cloned()),
            _ => {
                return Err(CallError::InvalidParams(
                    "`message` (a string) or a non-empty `messages` list is required".into(),
                ));
            }
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(CallError::InvalidParams(format!(
                "temperature {t} is outside 0..=2"
            )));
        }
        Ok(out)
    }
}

/// Token counts of one chat call, as far as the vendor reports them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated.
    pub completion_tokens: Option<u64>,
    /// Their sum.
    pub total_tokens: Option<u64>,
}

/// Result of `chat`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
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

impl ToolOutput for ChatOutput {
    fn summary(&self) -> String {
        self.message.clone()
    }
}
