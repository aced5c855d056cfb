//! Servers named by environment variables (`orchestrator.discovery.env: true`):
//!
//! - `MCP_SERVER_<ID>_URL=https://…/mcp`: a remote streamable-HTTP server with id `<id>`
//!   (`<ID>` lowercased: `MCP_SERVER_WEATHER_URL` → `weather`, `MCP_SERVER_MY_TOOLS_URL` →
//!   `my_tools`);
//! - `MCP_SERVER_<ID>_TOKEN=…` (optional): sent as `Authorization: Bearer …`;
//! - `MCP_SERVER_<ID>_HEADERS={"X-Api-Key": "…"}` (optional): a JSON object of more headers.
//!
//! Only variables ending in `_URL` name servers, so an id may itself contain `_TOKEN` or
//! `_HEADERS`. Token and header values are secrets: messages name the variables, never their
//! values. The environment of a running process does not change, so it is read once.

use std::collections::BTreeMap;

use crate::{
    config::found::{Found, server_id},
    secrets::Secret,
};

/// Every discovery variable starts so.
pub const PREFIX: &str = "MCP_SERVER_";
const URL_SUFFIX: &str = "_URL";

/// The servers the variables name, and a message per variable that could not be used.
pub fn servers(vars: impl IntoIterator<Item = (String, String)>) -> (Vec<Found>, Vec<String>) {
    let vars: BTreeMap<String, String> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (name, url) in &vars {
        let Some(raw_id) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(URL_SUFFIX))
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        match server(raw_id, url, &vars) {
            Ok(f) => found.push(f),
            Err(problem) => problems.push(problem),
        }
    }
    (found, problems)
}

fn server(raw_id: &str, url: &str, vars: &BTreeMap<String, String>) -> Result<Found, String> {
    let url_var = format!("{PREFIX}{raw_id}{URL_SUFFIX}");
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{url_var} is not an http:// or https:// URL"));
    }
    let mut headers = BTreeMap::new();
    let headers_var = format!("{PREFIX}{raw_id}_HEADERS");
    if let Some(text) = vars.get(&headers_var).filter(|t| !t.trim().is_empty()) {
        // serde's message may quote the text, which may hold a credential: not repeated.
        let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| {
            format!(r#"{headers_var} is not a JSON object of strings such as {{"X-Api-Key": "…"}}"#)
        })?;
        headers.extend(map.into_iter().map(|(k, v)| (k, Secret::new(v))));
    }
    let token_var = format!("{PREFIX}{raw_id}_TOKEN");
    if let Some(token) = vars.get(&token_var).filter(|t| !t.is_empty()) {
        headers.insert(
            "Authorization".to_owned(),
            Secret::new(format!("Bearer {token}")),
        );
    }
    Ok(Found {
        id: server_id(raw_id),
        url: url.to_owned(),
        headers,
        missing_env: Vec::new(),
        description: format!("from {url_var}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn url_variables_name_servers_with_lowercase_ids() {
        let (found, problems) = servers(vars(&[
            ("MCP_SERVER_WEATHER_URL", "https://weather.example/mcp"),
            ("MCP_SERVER_MY_TOOLS_URL", " http://10.0.0.2:8080/mcp "),
            ("MCP_SERVER_MY_TOOLS_TOKEN", "tok-123"),
            ("MCP_SERVER_WEATHER_HEADERS", r#"{"X-Api-Key": "k-9"}"#),
            ("MCP_SERVER_ORPHAN_TOKEN", "ignored"),
            ("PATH", "/usr/bin"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        let ids: Vec<_> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["my_tools", "weather"]);
        assert_eq!(found[0].url, "http://10.0.0.2:8080/mcp");
        assert_eq!(found[0].headers["Authorization"].expose(), "Bearer tok-123");
        assert_eq!(found[1].headers["X-Api-Key"].expose(), "k-9");
        assert_eq!(found[1].description, "from MCP_SERVER_WEATHER_URL");
    }

    #[test]
    fn bad_variables_are_named_without_their_values() {
        let (found, problems) = servers(vars(&[
            ("MCP_SERVER_A_URL", "ftp://a"),
            ("MCP_SERVER_B_URL", "http://b/mcp"),
            ("MCP_SERVER_B_HEADERS", "{not json secret-value"),
            ("MCP_SERVER__URL", "http://no-id"),
            ("MCP_SERVER_C_URL", "http://c/mcp"),
        ]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "c");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("MCP_SERVER_A_URL"));
        assert!(problems[1].contains("MCP_SERVER_B_HEADERS"));
        assert!(!problems.iter().any(|p| p.contains("secret-value")));
    }
}
