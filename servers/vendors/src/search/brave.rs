//! The `brave` server: Brave Search web results (`BRAVE_API_KEY`, sent as `X-Subscription-Token`).

use std::sync::Arc;

use mcp_server_kit::{
    Api, CallError, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{SearchArgs, SearchHit, SearchOutput},
};
use serde::Deserialize;

use super::plain_text;

const PROVIDER: &str = "brave";

#[derive(Debug)]
struct Brave {
    api: Api,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Answer {
    /// Absent when there are no web results (other sections may still be present).
    web: Option<Web>,
}

#[derive(Debug, Deserialize)]
struct Web {
    #[serde(default)]
    results: Vec<Result_>,
}

#[derive(Debug, Deserialize)]
struct Result_ {
    title: String,
    url: String,
    #[serde(default)]
    description: String,
}

impl Brave {
    async fn search(&self, args: SearchArgs) -> Result<SearchOutput, CallError> {
        let (query, n) = args.validated()?;
        let key = self
            .api
            .key()
            .map(|k| k.expose().to_owned())
            .unwrap_or_default();
        let request = self
            .api
            .client()
            .get(&self.url)
            .query(&[("q", query), ("count", n.to_string().as_str())])
            .header("Accept", "application/json")
            .header("X-Subscription-Token", key);
        let answer: Answer = self.api.json(request).await?;
        let results = answer
            .web
            .map(|w| w.results)
            .unwrap_or_default()
            .into_iter()
            .take(n as usize)
            .map(|r| SearchHit {
                title: plain_text(&r.title),
                url: r.url,
                snippet: plain_text(&r.description),
            })
            .collect();
        Ok(SearchOutput {
            results,
            provider: PROVIDER.to_owned(),
        })
    }
}

/// The `brave` MCP server, configured by `BRAVE_API_KEY` and `BRAVE_BASE_URL` (default
/// `https://api.search.brave.com/res/v1`).
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let key = env::secret("BRAVE_API_KEY")?;
    let base = env::base_url("BRAVE_BASE_URL", "https://api.search.brave.com/res/v1")?;
    let api = Arc::new(Brave {
        api: Api::new(http, "Brave Search").with_key("BRAVE_API_KEY", key),
        url: env::endpoint(&base, "/web/search"),
    });
    Ok(super::search_server(
        "mcp-vendor-brave",
        "Web search with Brave Search.",
        move |args: SearchArgs| {
            let api = Arc::clone(&api);
            async move { api.search(args).await }
        },
    ))
}
