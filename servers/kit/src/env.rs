//! Reading a server's configuration from its environment.

use std::time::Duration;

use crate::Secret;

/// A configuration problem found at start-up. The server prints it to stderr and exits non-zero,
/// so the router can show it as the server's last error.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable holds a value the server cannot use.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}

/// The value of `name`, or `None` when unset or blank.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The value of a required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

/// A required API key, wrapped so that it cannot be printed.
pub fn secret(name: &'static str) -> Result<Secret, ConfigError> {
    required(name).map(Secret::new)
}

/// A base URL from `name`, or `default`; checked to be an http(s) URL, without a trailing slash.
pub fn base_url(name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = optional(name).unwrap_or_else(|| default.to_owned());
    let parsed = reqwest::Url::parse(&value).map_err(|e| ConfigError::Invalid {
        name,
        reason: format!("'{value}' is not a URL ({e})"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("'{value}' is not an http(s) URL"),
        });
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// `base` joined with the endpoint `path` (which starts with `/`). A base that already ends with
/// the endpoint is kept as is: people paste either the API root or the full endpoint URL.
pub fn endpoint(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with(path) {
        base.to_owned()
    } else {
        format!("{base}{path}")
    }
}

/// A duration in (possibly fractional) seconds from `name`, or `default`.
pub fn seconds(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let Some(raw) = optional(name) else {
        return Ok(default);
    };
    raw.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| ConfigError::Invalid {
            name,
            reason: format!("'{raw}' is not a positive number of seconds"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_accepts_root_or_full_url() {
        assert_eq!(
            endpoint("https://api.open-meteo.com/v1/", "/forecast"),
            "https://api.open-meteo.com/v1/forecast"
        );
        assert_eq!(
            endpoint("https://api.open-meteo.com/v1/forecast", "/forecast"),
            "https://api.open-meteo.com/v1/forecast"
        );
    }
}
