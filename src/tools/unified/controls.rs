//! A unified request's own arguments (`vendor`, `fallback`, `timeout_ms`), taken out of the
//! arguments before they go to a vendor, and the vendor order they give.

use std::time::Duration;

use serde_json::{Map, Value};

use super::UnifiedTool;
use crate::error::RouteError;

/// What the caller asked of the routing.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Controls {
    /// Try this vendor first.
    pub(super) vendor: Option<String>,
    /// Fall back to the others (default true).
    pub(super) fallback: bool,
    /// One deadline for the whole request.
    pub(super) timeout: Duration,
}

/// Removes the controls from `args`; `default` is the deadline when none is given.
pub(super) fn take_controls(
    args: &mut Map<String, Value>,
    default: Duration,
) -> Result<Controls, RouteError> {
    let bad = |m: &str| RouteError::InvalidParams(m.to_owned());
    let vendor = match args.remove("vendor") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v),
        Some(_) => return Err(bad("`vendor` must be a string")),
    };
    let fallback = match args.remove("fallback") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(bad("`fallback` must be true or false")),
    };
    let timeout = match args.remove("timeout_ms") {
        None | Some(Value::Null) => default,
        Some(v) => match v.as_u64().filter(|t| *t > 0) {
            Some(t) => Duration::from_millis(t),
            None => return Err(bad("`timeout_ms` must be a positive integer")),
        },
    };
    Ok(Controls {
        vendor,
        fallback,
        timeout,
    })
}

/// The vendors to try, in order: the configured chain, with the caller's `vendor` moved first
/// and, without fallback, only the first.
pub(super) fn vendor_order(
    tool: UnifiedTool,
    chain: &[String],
    controls: &Controls,
) -> Result<Vec<String>, RouteError> {
    if chain.is_empty() {
        return Err(RouteError::InvalidParams(format!(
            "no vendor is configured for `{}`",
            tool.name()
        )));
    }
    let mut order = chain.to_vec();
    if let Some(v) = &controls.vendor {
        let Some(i) = order.iter().position(|c| c == v) else {
            return Err(RouteError::InvalidParams(format!(
                "vendor `{v}` does not offer `{}`; configured: {}",
                tool.name(),
                chain.join(", ")
            )));
        };
        let pinned = order.remove(i);
        order.insert(0, pinned);
    }
    if !controls.fallback {
        order.truncate(1);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn controls_are_taken_out_and_checked() {
        let mut a =
            args(json!({"message": "hi", "vendor": "b", "fallback": false, "timeout_ms": 250}));
        let c = take_controls(&mut a, Duration::from_secs(30)).unwrap();
        assert_eq!(a, args(json!({"message": "hi"})));
        assert_eq!(c.vendor.as_deref(), Some("b"));
        assert!(!c.fallback);
        assert_eq!(c.timeout, Duration::from_millis(250));
        let d = take_controls(&mut args(json!({})), Duration::from_secs(3)).unwrap();
        assert_eq!(
            (d.vendor, d.fallback, d.timeout),
            (None, true, Duration::from_secs(3))
        );
        for bad in [
            json!({"vendor": 1}),
            json!({"fallback": "no"}),
            json!({"timeout_ms": 0}),
        ] {
            let e = take_controls(&mut args(bad.clone()), Duration::ZERO).unwrap_err();
            assert!(matches!(e, RouteError::InvalidParams(_)), "{bad}");
        }
    }

    #[test]
    fn the_named_vendor_goes_first_and_no_fallback_keeps_one() {
        let chain = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let c = |vendor: Option<&str>, fallback| Controls {
            vendor: vendor.map(str::to_owned),
            fallback,
            timeout: Duration::ZERO,
        };
        let order = |c| vendor_order(UnifiedTool::Chat, &chain, &c).unwrap();
        assert_eq!(order(c(None, true)), ["a", "b", "c"]);
        assert_eq!(order(c(Some("c"), true)), ["c", "a", "b"]);
        assert_eq!(order(c(Some("b"), false)), ["b"]);
        let e = vendor_order(UnifiedTool::Chat, &chain, &c(Some("z"), true)).unwrap_err();
        assert!(e.to_string().contains("configured: a, b, c"), "{e}");
        let e = vendor_order(UnifiedTool::Embed, &[], &c(None, true)).unwrap_err();
        assert_eq!(e.to_string(), "no vendor is configured for `embed`");
    }
}
