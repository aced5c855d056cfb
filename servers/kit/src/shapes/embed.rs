//! The `embed` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{CallError, ToolOutput};

/// One text or a batch of texts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbedInput {
    /// A single text.
    One(String),
    /// Several texts, embedded in order.
    Many(Vec<String>),
}

/// Arguments of `embed`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EmbedArgs {
    /// The text or texts to embed.
    pub input: EmbedInput,
    /// The embedding model; the server's default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Requested vector size, for models that can shorten their vectors.
    #[serde(default)]
    pub dimensions: Option<u32>,
}

impl EmbedArgs {
    /// The texts, in order; at least one.
    pub fn texts(&self) -> Result<Vec<String>, CallError> {
        let texts = match &self.input {
            EmbedInput::One(t) => vec![t.clone()],
            EmbedInput::Many(list) => list.clone(),
        };
        if texts.is_empty() {
            return Err(CallError::InvalidParams(
                "`input` must hold at least one text".into(),
            ));
        }
        Ok(texts)
    }
}

/// Result of `embed`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EmbedOutput {
    /// One vector per input text, in input order.
    pub embeddings: Vec<Vec<f32>>,
    /// The model that embedded.
    pub model: String,
    /// Length of each vector.
    pub dimensions: usize,
    /// The server id that answered.
    pub vendor: String,
}

impl ToolOutput for EmbedOutput {
    fn summary(&self) -> String {
        format!(
            "{} embedding(s) of {} dimensions from {} ({})",
            self.embeddings.len(),
            self.dimensions,
            self.model,
            self.vendor
        )
    }
}
