//! The web-search servers: same `search_web` tool, three providers.

pub mod brave;
pub mod searxng;
pub mod tavily;

use std::future::Future;

use mcp_server_kit::{
    CallError, ToolServer,
    shapes::{SearchArgs, SearchOutput},
};

/// The server for one search provider: the one `search_web` tool all three offer, over that
/// provider's `search`. Keeping name and description here keeps the three interchangeable.
fn search_server<F, Fut>(
    server_name: &'static str,
    instructions: &'static str,
    search: F,
) -> ToolServer
where
    F: Fn(SearchArgs) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<SearchOutput, CallError>> + Send + 'static,
{
    ToolServer::new(server_name, env!("CARGO_PKG_VERSION"))
        .with_instructions(instructions)
        .tool(
            "search_web",
            "Search the web; returns up to `num_results` (default 5, max 20) results with title, url and snippet.",
            search,
        )
}

/// `text` without HTML tags and with the common entities decoded: Brave marks matches with
/// `<strong>`, and SearXNG passes engine snippets through.
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn strips_markup() {
        assert_eq!(
            plain_text("The <strong>Rust</strong> book &amp; more"),
            "The Rust book & more"
        );
    }
}
