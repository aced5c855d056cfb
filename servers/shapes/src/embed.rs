//! The `embed` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{InvalidArgs, Shape};

/// The smallest `dimensions` a caller may ask for.
pub const MIN_DIMENSIONS: u32 = 1;

/// `embed`: one vector per text.
pub struct Embed;

impl Shape for Embed {
    const NAME: &'static str = "embed";
    type Args = EmbedArgs;
    type Output = EmbedOutput;
}

/// One text or a batch of texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbedInput {
    /// A single text.
    One(String),
    /// Several texts, embedded in order.
    Many(Vec<String>),
}

/// No texts yet: a request being built. [`EmbedArgs::texts`] refuses it until texts are added.
impl Default for EmbedInput {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

/// Arguments of `embed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbedArgs {
    /// The text or texts to embed.
    pub input: EmbedInput,
    /// The embedding model; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Requested vector size, for models that can shorten their vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = MIN_DIMENSIONS))]
    pub dimensions: Option<u32>,
}

impl EmbedArgs {
    /// The texts, in order (at least one), after checking the limits the schema advertises.
    pub fn texts(&self) -> Result<Vec<String>, InvalidArgs> {
        let texts = match &self.input {
            EmbedInput::One(t) => vec![t.clone()],
            EmbedInput::Many(list) => list.clone(),
        };
        if texts.is_empty() {
            return Err(InvalidArgs::new("`input` must hold at least one text"));
        }
        if let Some(d) = self.dimensions
            && d < MIN_DIMENSIONS
        {
            return Err(InvalidArgs::new(format!(
                "`dimensions` must be at least {MIN_DIMENSIONS}, got {d}"
            )));
        }
        Ok(texts)
    }
}

/// Result of `embed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_or_many_decode_and_none_is_refused() {
        let one: EmbedArgs = serde_json::from_value(serde_json::json!({"input": "a"})).unwrap();
        assert_eq!(one.texts().unwrap(), ["a"]);
        let many: EmbedArgs =
            serde_json::from_value(serde_json::json!({"input": ["a", "b"]})).unwrap();
        assert_eq!(many.texts().unwrap(), ["a", "b"]);
        assert!(EmbedArgs::default().texts().is_err());
    }

    #[test]
    fn dimensions_below_the_minimum_are_refused() {
        let args = |d| EmbedArgs {
            input: EmbedInput::One("a".into()),
            dimensions: Some(d),
            ..EmbedArgs::default()
        };
        assert!(args(MIN_DIMENSIONS).texts().is_ok());
        assert!(args(MIN_DIMENSIONS - 1).texts().is_err());
    }
}
