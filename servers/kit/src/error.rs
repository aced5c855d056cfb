//! Vendor failures as tool errors: a message a person can act on, plus a classification the
//! router's fallback logic reads from the result's `_meta`.

use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};
use serde::Serialize;
use serde_json::json;

/// The `_meta` key under which a failed tool result carries its [`ErrorKind`] classification.
pub const META_ERROR_KEY: &str = "mcp-orchestrator/error";

/// What went wrong, as far as a caller deciding whether to retry or fall back cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The vendor refused the credentials (HTTP 401/403).
    Auth,
    /// The model or resource does not exist (HTTP 404).
    NotFound,
    /// Rate limited or out of quota (HTTP 429).
    RateLimited,
    /// The vendor is down or overloaded (HTTP 5xx).
    Unavailable,
    /// The vendor did not answer in time.
    Timeout,
    /// The vendor could not be reached at all (DNS, refused connection, TLS).
    Network,
    /// The vendor answered with something that is not the documented shape.
    MalformedResponse,
    /// The vendor rejected the request itself (HTTP 400/422); retrying elsewhere will not help.
    BadRequest,
    /// A weather provider could not find the place asked for.
    UnknownLocation,
}

impl ErrorKind {
    /// Whether the same request may succeed later (on this vendor or another).
    pub fn default_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Unavailable | Self::Timeout | Self::Network
        )
    }
}

/// A failed vendor call, ready to become a tool result with `isError: true`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct VendorError {
    /// The classification.
    pub kind: ErrorKind,
    /// The text shown to a person: what happened and what to do about it.
    pub message: String,
    /// Whether retrying may help.
    pub retryable: bool,
    /// How long the vendor asked us to wait, when it said so.
    pub retry_after: Option<Duration>,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
}

impl VendorError {
    /// An error of `kind` with the kind's default retryability.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: kind.default_retryable(),
            retry_after: None,
            status: None,
        }
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the wait the vendor asked for.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Overrides whether retrying may help.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Replaces the message of a [`ErrorKind::NotFound`] error with a more specific one
    /// (e.g. naming the model), keeping the vendor's own explanation after it.
    pub fn on_not_found(mut self, what: impl FnOnce() -> String) -> Self {
        if self.kind == ErrorKind::NotFound {
            self.message = format!("{} ({})", what(), self.message);
        }
        self
    }

    /// The machine-readable classification placed in the result's `_meta`.
    pub fn classification(&self) -> serde_json::Value {
        json!({
            "kind": self.kind,
            "retryable": self.retryable,
            "retry_after_ms": self.retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "status": self.status,
        })
    }

    /// The tool result: `isError: true`, the message as text, the classification in `_meta`.
    pub fn into_tool_result(self) -> CallToolResult {
        let mut meta = MetaObject::default();
        meta.0
            .insert(META_ERROR_KEY.to_owned(), self.classification());
        CallToolResult::error(vec![ContentBlock::text(self.message)]).with_meta(Some(meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_carries_classification() {
        let err = VendorError::new(
            ErrorKind::RateLimited,
            "rate limited by Groq; retry after 3 s",
        )
        .with_status(429)
        .with_retry_after(Some(Duration::from_secs(3)));
        let result = serde_json::to_value(err.into_tool_result()).unwrap();
        assert_eq!(result["isError"], true);
        assert_eq!(
            result["_meta"][META_ERROR_KEY],
            json!({"kind": "rate_limited", "retryable": true, "retry_after_ms": 3000, "status": 429})
        );
        assert_eq!(
            result["content"][0]["text"],
            "rate limited by Groq; retry after 3 s"
        );
    }
}
