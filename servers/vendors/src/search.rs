//! The web-search servers: same `search_web` tool, three providers.

pub mod brave;
pub mod searxng;
pub mod tavily;

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
