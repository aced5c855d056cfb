//! The OpenAI-compatible response bodies, as far as the tools read them. Unknown fields are
//! ignored so that compatible servers with extras still decode.

use mcp_server_kit::shapes::Usage;
use serde::Deserialize;

/// `POST /chat/completions` answer.
#[derive(Debug, Deserialize)]
pub struct ChatResponse {
    pub model: Option<String>,
    pub choices: Vec<Choice>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
pub struct Choice {
    pub message: AssistantMessage,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AssistantMessage {
    /// `null` when the model answered with tool calls only.
    pub content: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireUsage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
        }
    }
}

/// `POST /embeddings` answer.
#[derive(Debug, Deserialize)]
pub struct EmbeddingResponse {
    pub model: Option<String>,
    pub data: Vec<Embedding>,
}

#[derive(Debug, Deserialize)]
pub struct Embedding {
    #[serde(default)]
    pub index: usize,
    pub embedding: Vec<f32>,
}

/// `GET /models` answer.
#[derive(Debug, Deserialize)]
pub struct ModelList {
    pub data: Vec<Model>,
}

#[derive(Debug, Deserialize)]
pub struct Model {
    pub id: String,
}
