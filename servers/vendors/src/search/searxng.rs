//! The `searxng` server: a SearXNG instance's JSON search (`SEARXNG_URL`, no key).

use std::sync::Arc;

use mcp_server_kit::{
    Api, CallError, ErrorKind, HttpSettings, ToolServer,
    env::{self, ConfigError},
    shapes::{SearchArgs, SearchHit, SearchOutput},
};
use serde::Deserialize;

use super::plain_text;

const PROVIDER: &str = "searxng";

#[derive(Debug)]
struct Searxng {
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
    #[serde(default)]
    title: String,
    url: String,
    #[serde(default)]
    content: Option<String>,
}

impl Searxng {
    async fn search(&self, args: SearchArgs) -> Result<SearchOutput, CallError> {
        let (query, n) = args.validated()?;
        let request = self.api.client().get(&self.url).query(&[
            ("q", query),
            ("format", "json"),
            ("pageno", "1"),
        ]);
        let answer: Answer = self.api.json(request).await.map_err(|e| {
            // SearXNG answers 403 to format=json unless the instance enables it.
            if e.status == Some(403) {
                let mut e = e;
                e.kind = ErrorKind::Auth;
                e.message = format!(
                    "SearXNG refused JSON output (HTTP 403): the instance at SEARXNG_URL must list `json` in `search.formats` of its settings.yml ({})",
                    e.message
                );
                e
            } else {
                e
            }
        })?;
        // SearXNG has no result-count parameter (about 20 per page): cut here.
        let results = answer
            .results
            .into_iter()
            .take(n as usize)
            .map(|r| SearchHit {
                title: plain_text(&r.title),
                url: r.url,
                snippet: plain_text(r.content.as_deref().unwrap_or_default()),
            })
            .collect();
        Ok(SearchOutput {
            results,
            provider: PROVIDER.to_owned(),
        })
    }
}

/// The `searxng` MCP server, configured by `SEARXNG_URL` (the instance's root URL).
pub fn server(http: &HttpSettings) -> Result<ToolServer, ConfigError> {
    let base = env::required("SEARXNG_URL").and_then(|_| env::base_url("SEARXNG_URL", ""))?;
    let api = Arc::new(Searxng {
        api: Api::new(http, "SearXNG"),
        url: env::endpoint(&base, "/search"),
    });
    Ok(super::search_server(
        "mcp-vendor-searxng",
        "Web search through a SearXNG instance.",
        move |args: SearchArgs| {
            let api = Arc::clone(&api);
            async move { api.search(args).await }
        },
    ))
}
