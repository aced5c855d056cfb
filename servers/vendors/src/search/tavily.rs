//! The `tavily` server: Tavily search (`TAVILY_API_KEY`, sent as a bearer token).

use std::sync::Arc;

use mcp_server_kit::{
    Api, CallError, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{SearchArgs, SearchHit, SearchOutput},
};
use serde::Deserialize;
use serde_json::json;

const PROVIDER: &str = "tavily";

#[derive(Debug)]
struct Tavily {
    api: Api,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<Result_>,
}

#[derive(Debug, Deserialize)]
struct Result_ {
    title: String,
    url: String,
    #[serde(default)]
    content: String,
}

impl Tavily {
    async fn search(&self, args: SearchArgs) -> Result<SearchOutput, CallError> {
        let (query, n) = args.validated()?;
        let key = self
            .api
            .key()
            .map(|k| k.expose().to_owned())
            .unwrap_or_default();
        let body = json!({
            "query": query,
            "max_results": n,
            "search_depth": "basic",
            "topic": "general",
            "include_answer": false,
        });
        let request = self
            .api
            .client()
            .post(&self.url)
            .bearer_auth(key)
            .json(&body);
        let answer: Answer = self.api.json(request).await?;
        let results = answer
            .results
            .into_iter()
            .take(n as usize)
            .map(|r| SearchHit {
                title: r.title,
                url: r.url,
                snippet: r.content.trim().to_owned(),
            })
            .collect();
        Ok(SearchOutput {
            results,
            provider: PROVIDER.to_owned(),
        })
    }
}

/// The `tavily` MCP server, configured by `TAVILY_API_KEY` and `TAVILY_BASE_URL` (default
/// `https://api.tavily.com`).
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let key = env::secret("TAVILY_API_KEY")?;
    let base = env::base_url("TAVILY_BASE_URL", "https://api.tavily.com")?;
    let api = Arc::new(Tavily {
        api: Api::new(http, "Tavily").with_key("TAVILY_API_KEY", key),
        url: env::endpoint(&base, "/search"),
    });
    Ok(super::search_server(
        "mcp-vendor-tavily",
        "Web search with Tavily.",
        move |args: SearchArgs| {
            let api = Arc::clone(&api);
            async move { api.search(args).await }
        },
    ))
}
