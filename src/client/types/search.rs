//! `search_web`: the request builder and the answer.

use mcp_tool_shapes::SearchArgs;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{RouteOptions, arguments};
use crate::report::Routing;

/// One search hit: the vendor servers' own type.
pub use mcp_tool_shapes::SearchHit as SearchResult;

/// A `search_web` request.
///
/// ```
/// use mcp_orchestrator::client::SearchRequest;
/// let args = SearchRequest::new("rust async").num_results(3).to_arguments();
/// assert_eq!(args["query"], "rust async");
/// assert_eq!(args["num_results"], 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    args: SearchArgs,
    route: RouteOptions,
}

impl SearchRequest {
    /// A query.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            args: SearchArgs {
                query: query.into(),
                ..SearchArgs::default()
            },
            route: RouteOptions::default(),
        }
    }

    /// How many results, 1 to 20 (`mcp_tool_shapes::search::MAX_RESULTS`); default 5.
    pub fn num_results(mut self, n: u32) -> Self {
        self.args.num_results = Some(n);
        self
    }

    route_setters!();

    /// The tool arguments this request sends.
    pub fn to_arguments(&self) -> Map<String, Value> {
        arguments(&self.args, &self.route)
    }
}

impl From<&str> for SearchRequest {
    fn from(q: &str) -> Self {
        Self::new(q)
    }
}

/// A `search_web` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResponse {
    /// Hits, best first.
    pub results: Vec<SearchResult>,
    /// The vendor.
    #[serde(default)]
    pub provider: Option<String>,
    /// How the request was routed.
    #[serde(default)]
    pub routing: Routing,
}
