//! Keeping secret values out of logs, errors and status output.
//!
//! Values of `required_env` variables and of `env` entries whose name looks secret (KEY, TOKEN,
//! SECRET, PASSWORD, …) are wrapped in [`Secret`] as soon as the config is read, and every piece of
//! child output that the orchestrator repeats (stderr lines, `last_error`) goes through a
//! [`Redactor`] built from them.

use std::fmt;

/// A value that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for handing to a child process and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// A URL as messages may show it: user info (`user:pass@`) and the query (`?token=…`) replaced
/// by `***`, since either may carry a credential.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, _)) => (r, "?***"),
        None => (rest, ""),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{authority}{path}{query}")
}

/// Whether an environment variable's name suggests its value is a credential.
pub fn is_secret_name(name: &str) -> bool {
    const MARKERS: [&str; 8] = [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
    ];
    let upper = name.to_ascii_uppercase();
    MARKERS.iter().any(|m| upper.contains(m))
}

/// Replaces known secret values in text with `***`.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    /// Values shorter than this are not treated as secrets: redacting `1` or `on` everywhere
    /// would mangle ordinary output and protect nothing.
    const MIN_LEN: usize = 4;

    /// A redactor for these values.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut needles: Vec<String> = secrets
            .into_iter()
            .map(|s| s.expose().to_owned())
            .filter(|s| s.len() >= Self::MIN_LEN)
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        needles.sort_by_key(|s| std::cmp::Reverse(s.len()));
        needles.dedup();
        Self { needles }
    }

    /// `text` with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), "***");
            }
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.needles.len())
    }
}

#[cfg(test)]
mod url_tests {
    use super::shown_url;

    #[test]
    fn credentials_in_urls_are_not_shown() {
        assert_eq!(shown_url("http://127.0.0.1:8001"), "http://127.0.0.1:8001");
        assert_eq!(
            shown_url("https://bob:hunter2@ml.example/v1?token=abc"),
            "https://***@ml.example/v1?***"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_value() {
        let s = Secret::new("sk-live-123456");
        assert_eq!(format!("{s:?}"), "\"***\"");
        assert_eq!(s.expose(), "sk-live-123456");
    }

    #[test]
    fn redactor_replaces_all_occurrences_longest_first() {
        let a = Secret::new("abcd");
        let b = Secret::new("abcdefgh");
        let r = Redactor::new([&a, &b]);
        assert_eq!(r.redact("key=abcdefgh and abcd."), "key=*** and ***.");
    }

    #[test]
    fn short_values_are_left_alone() {
        let r = Redactor::new([&Secret::new("1")]);
        assert_eq!(r.redact("a1b"), "a1b");
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("OPENAI_API_KEY"));
        assert!(is_secret_name("github_token"));
        assert!(!is_secret_name("OPENAI_BASE_URL"));
        assert!(!is_secret_name("PATH"));
    }
}
