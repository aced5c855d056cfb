//! The `list_models` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ToolOutput;

/// Arguments of `list_models`: none.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ListModelsArgs {}

/// One model a vendor offers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelEntry {
    /// The id to pass as `model`.
    pub id: String,
    /// The server id offering it.
    pub vendor: String,
}

/// Result of `list_models`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ListModelsOutput {
    /// The models, in the vendor's order.
    pub models: Vec<ModelEntry>,
}

impl ToolOutput for ListModelsOutput {
    fn summary(&self) -> String {
        let ids: Vec<&str> = self.models.iter().map(|m| m.id.as_str()).collect();
        format!("{} model(s): {}", ids.len(), ids.join(", "))
    }
}
