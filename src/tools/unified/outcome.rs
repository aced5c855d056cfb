//! What one attempt at a vendor means for the request: done, try again or elsewhere, or stop
//! because the request itself is at fault.
//!
//! The vendor servers put a machine-readable classification of every failure in the result's
//! `_meta` under [`ERROR_META`]; third-party servers do not, and their unclassified `isError`
//! results are treated as vendor failures worth a fallback (but not a same-vendor retry).

use std::time::Duration;

use rmcp::{ErrorData, model::CallToolResult, model::ErrorCode};
use serde_json::Value;

use crate::error::RouteError;

/// The `_meta` key of a vendor server's error classification.
pub const ERROR_META: &str = "mcp-orchestrator/error";

/// The meaning of one attempt.
#[derive(Debug)]
pub enum Outcome {
    /// The vendor answered.
    Success(CallToolResult),
    /// The vendor failed; the request may succeed again here or elsewhere.
    VendorFailure(Failure),
    /// The request is at fault (bad arguments, unknown place, a model the caller named that does
    /// not exist): trying elsewhere would fail the same way, so this answer goes back as it is.
    CallerError(Result<CallToolResult, ErrorData>),
}

/// A vendor failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// A message a person can act on.
    pub message: String,
    /// Worth retrying on the same vendor (rate limit, overload, timeout, network).
    pub retry_same: bool,
    /// What the vendor asked us to wait before retrying.
    pub retry_after: Option<Duration>,
    /// An authentication failure: open the vendor's circuit at once.
    pub auth: bool,
}

impl Failure {
    /// The first text block of a tool result, for messages.
    pub fn text_of(r: &CallToolResult) -> String {
        r.content
            .iter()
            .find_map(|c| c.as_text().map(|t| t.text.clone()))
            .unwrap_or_else(|| "the vendor returned an error".into())
    }
}

/// Classifies the result of calling a vendor. `caller_named_model` is whether the request named
/// a model: a "model not found" is then the caller's error, else the vendor's configuration.
pub fn classify(result: Result<CallToolResult, RouteError>, caller_named_model: bool) -> Outcome {
    match result {
        Ok(r) if r.is_error != Some(true) => Outcome::Success(r),
        Ok(r) => classify_tool_error(r, caller_named_model),
        Err(RouteError::Child(e)) if e.code == ErrorCode::INVALID_PARAMS => {
            Outcome::CallerError(Err(e))
        }
        Err(e) => {
            let retry_same = e.is_transient();
            Outcome::VendorFailure(Failure {
                message: e.to_string(),
                retry_same,
                retry_after: None,
                auth: false,
            })
        }
    }
}

fn classify_tool_error(r: CallToolResult, caller_named_model: bool) -> Outcome {
    let message = Failure::text_of(&r);
    let meta = r.meta.as_ref().and_then(|m| m.0.get(ERROR_META)).cloned();
    let Some(meta) = meta else {
        return Outcome::VendorFailure(Failure {
            message,
            retry_same: false,
            retry_after: None,
            auth: false,
        });
    };
    let kind = meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let retryable = meta
        .get("retryable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let retry_after = meta
        .get("retry_after_ms")
        .and_then(Value::as_u64)
        .map(Duration::from_millis);
    match kind.as_str() {
        "bad_request" | "unknown_location" => Outcome::CallerError(Ok(r)),
        "not_found" if caller_named_model => Outcome::CallerError(Ok(r)),
        _ => Outcome::VendorFailure(Failure {
            message,
            retry_same: retryable,
            retry_after,
            auth: kind == "auth",
        }),
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    fn tool_error(meta: Option<Value>) -> CallToolResult {
        let mut v =
            serde_json::to_value(CallToolResult::error(vec![ContentBlock::text("nope")])).unwrap();
        if let Some(m) = meta {
            v["_meta"] = json!({ ERROR_META: m });
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rate_limit_is_retryable_with_its_delay() {
        let r = tool_error(Some(
            json!({"kind": "rate_limited", "retryable": true, "retry_after_ms": 1500}),
        ));
        let Outcome::VendorFailure(f) = classify(Ok(r), false) else {
            panic!()
        };
        assert!(f.retry_same && !f.auth);
        assert_eq!(f.retry_after, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn auth_trips_and_is_not_retried_here() {
        let r = tool_error(Some(json!({"kind": "auth", "retryable": false})));
        let Outcome::VendorFailure(f) = classify(Ok(r), false) else {
            panic!()
        };
        assert!(f.auth && !f.retry_same);
    }

    #[test]
    fn caller_errors_stop_the_chain() {
        for kind in ["bad_request", "unknown_location"] {
            let r = tool_error(Some(json!({"kind": kind, "retryable": false})));
            assert!(
                matches!(classify(Ok(r), false), Outcome::CallerError(Ok(_))),
                "{kind}"
            );
        }
        let nf = || tool_error(Some(json!({"kind": "not_found", "retryable": false})));
        assert!(
            matches!(classify(Ok(nf()), true), Outcome::CallerError(_)),
            "the caller's model"
        );
        assert!(
            matches!(classify(Ok(nf()), false), Outcome::VendorFailure(_)),
            "the vendor's default model"
        );
        let bad_args = RouteError::Child(ErrorData::invalid_params("x", None));
        assert!(matches!(
            classify(Err(bad_args), false),
            Outcome::CallerError(Err(_))
        ));
    }

    #[test]
    fn unclassified_errors_fall_back_without_retry() {
        let Outcome::VendorFailure(f) = classify(Ok(tool_error(None)), false) else {
            panic!()
        };
        assert!(!f.retry_same);
        assert_eq!(f.message, "nope");
    }

    #[test]
    fn transport_failures() {
        let t = RouteError::Timeout {
            server: "a".into(),
            method: "tools/call",
            after: Duration::from_secs(1),
        };
        let Outcome::VendorFailure(f) = classify(Err(t), false) else {
            panic!()
        };
        assert!(f.retry_same);
        assert!(f.message.contains("did not answer"), "{}", f.message);
    }
}
