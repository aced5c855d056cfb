//! The `list_models` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Shape;

/// `list_models`: the models a vendor offers.
pub struct ListModels;

impl Shape for ListModels {
    const NAME: &'static str = "list_models";
    type Args = ListModelsArgs;
    type Output = ListModelsOutput;
}

/// Arguments of `list_models`: none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListModelsArgs {}

/// One model a vendor offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelEntry {
    /// The id to pass as `model`.
    pub id: String,
    /// The server id offering it.
    pub vendor: String,
}

/// Result of `list_models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListModelsOutput {
    /// The models, in the vendor's order.
    pub models: Vec<ModelEntry>,
}
