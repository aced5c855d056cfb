//! `embed`: the request builder and the answer.

use mcp_tool_shapes::{EmbedArgs, EmbedInput};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{RouteOptions, arguments};
use crate::report::Routing;

/// An `embed` request.
///
/// ```
/// use mcp_orchestrator::client::EmbedRequest;
/// let args = EmbedRequest::new(["a", "b"]).dimensions(256).to_arguments();
/// assert_eq!(args["input"], serde_json::json!(["a", "b"]));
/// assert_eq!(args["dimensions"], 256);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedRequest {
    args: EmbedArgs,
    route: RouteOptions,
}

impl EmbedRequest {
    /// Texts to embed, sent as a list even when there is one, so the answer has one vector
    /// per text in the same order.
    pub fn new<S: Into<String>>(input: impl IntoIterator<Item = S>) -> Self {
        Self {
            args: EmbedArgs {
                input: EmbedInput::Many(input.into_iter().map(Into::into).collect()),
                ..EmbedArgs::default()
            },
            route: RouteOptions::default(),
        }
    }

    /// Model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.args.model = Some(model.into());
        self
    }

    /// Output dimensions, where the model supports shortening.
    pub fn dimensions(mut self, n: u32) -> Self {
        self.args.dimensions = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        arguments(&self.args, &self.route)
    }
}

/// An `embed` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbedResponse {
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// Vector length.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// The vendor.
    #[serde(default)]
    pub vendor: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}
