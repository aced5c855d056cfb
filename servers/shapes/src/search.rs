//! The `search_web` tool.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{InvalidArgs, Shape};

/// Results returned when `num_results` is absent.
pub const DEFAULT_RESULTS: u32 = 5;
/// The fewest results a caller may ask for.
pub const MIN_RESULTS: u32 = 1;
/// The most results a caller may ask for: every provider (Brave, Tavily, SearXNG) can return
/// this many in one request.
pub const MAX_RESULTS: u32 = 20;

/// `search_web`: web pages matching a query.
pub struct SearchWeb;

impl Shape for SearchWeb {
    const NAME: &'static str = "search_web";
    type Args = SearchArgs;
    type Output = SearchOutput;
}

/// Arguments of `search_web`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to search for.
    pub query: String,
    /// How many results to return (1..=20, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = MIN_RESULTS, max = MAX_RESULTS))]
    pub num_results: Option<u32>,
}

impl SearchArgs {
    /// The trimmed query and the result count, after checking the limits the schema advertises.
    pub fn validated(&self) -> Result<(&str, u32), InvalidArgs> {
        let query = self.query.trim();
        if query.is_empty() {
            return Err(InvalidArgs::new("`query` must not be empty"));
        }
        let n = self.num_results.unwrap_or(DEFAULT_RESULTS);
        if !(MIN_RESULTS..=MAX_RESULTS).contains(&n) {
            return Err(InvalidArgs::new(format!(
                "`num_results` must be between {MIN_RESULTS} and {MAX_RESULTS}, got {n}"
            )));
        }
        Ok((query, n))
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchHit {
    /// Page title.
    pub title: String,
    /// Page address.
    pub url: String,
    /// A short extract, plain text.
    // Vendors always write it; a reader of another server's answer may find none.
    #[serde(default)]
    pub snippet: String,
}

/// Result of `search_web`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchOutput {
    /// The results, best first, at most `num_results`.
    pub results: Vec<SearchHit>,
    /// The server id that answered.
    pub provider: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(query: &str, n: Option<u32>) -> SearchArgs {
        SearchArgs {
            query: query.into(),
            num_results: n,
        }
    }

    #[test]
    fn the_count_defaults_and_is_bounded() {
        assert_eq!(
            args(" rust ", None).validated().unwrap(),
            ("rust", DEFAULT_RESULTS)
        );
        assert_eq!(
            args("q", Some(MIN_RESULTS)).validated().unwrap().1,
            MIN_RESULTS
        );
        assert_eq!(
            args("q", Some(MAX_RESULTS)).validated().unwrap().1,
            MAX_RESULTS
        );
        assert!(args("q", Some(MAX_RESULTS + 1)).validated().is_err());
        assert!(args("q", Some(MIN_RESULTS - 1)).validated().is_err());
    }

    #[test]
    fn a_blank_query_is_refused() {
        assert!(args("  ", None).validated().is_err());
    }

    #[test]
    fn the_schema_advertises_the_checked_limits() {
        let schema = crate::input_schema::<SearchWeb>();
        let n = &schema["properties"]["num_results"];
        assert_eq!(n["minimum"], MIN_RESULTS);
        assert_eq!(n["maximum"], MAX_RESULTS);
    }
}
