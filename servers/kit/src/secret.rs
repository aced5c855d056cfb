//! API keys that cannot be printed by accident.

use std::fmt;

/// A secret value (an API key). `Debug` and `Display` print `***`; the value is only reachable
/// through [`Secret::expose`], so it never lands in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that must send it (an HTTP header or query).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` with `***`. Vendor error bodies and
    /// transport errors sometimes echo the key (or a URL holding it); this scrubs them.
    pub fn redact(&self, text: &str) -> String {
        // Very short values would redact ordinary words; real keys are far longer.
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "sk-very-secret");
    }

    #[test]
    fn redacts_echoed_values() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(s.redact("bad key sk-very-secret!"), "bad key ***!");
    }
}
