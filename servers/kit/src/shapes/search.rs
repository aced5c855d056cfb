//! The `search_web` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{CallError, ToolOutput};

/// Results returned when `num_results` is absent.
pub const DEFAULT_RESULTS: u32 = 5;
/// The most results any provider returns in one call.
pub const MAX_RESULTS: u32 = 20;

/// Arguments of `search_web`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to search for.
    pub query: String,
    /// How many results to return (1..=20, default 5).
    #[serde(default)]
    pub num_results: Option<u32>,
}

impl SearchArgs {
    /// The checked query and result count.
    pub fn validated(&self) -> Result<(&str, u32), CallError> {
        let query = self.query.trim();
        if query.is_empty() {
            return Err(CallError::InvalidParams("`query` must not be empty".into()));
        }
        let n = self.num_results.unwrap_or(DEFAULT_RESULTS);
        if !(1..=MAX_RESULTS).contains(&n) {
            return Err(CallError::InvalidParams(format!(
                "`num_results` must be between 1 and {MAX_RESULTS}, got {n}"
            )));
        }
        Ok((query, n))
    }
}

/// One search result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchHit {
    /// Page title.
    pub title: String,
    /// Page address.
    pub url: String,
    /// A short extract, plain text.
    pub snippet: String,
}

/// Result of `search_web`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchOutput {
    /// The results, best first, at most `num_results`.
    pub results: Vec<SearchHit>,
    /// The server id that answered.
    pub provider: String,
}

impl ToolOutput for SearchOutput {
    fn summary(&self) -> String {
        let mut text = format!("{} result(s) from {}", self.results.len(), self.provider);
        for hit in &self.results {
            text.push_str(&format!("\n- {} <{}>", hit.title, hit.url));
        }
        text
    }
}
