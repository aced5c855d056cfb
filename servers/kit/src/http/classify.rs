//! HTTP statuses and transport failures → [`VendorError`].

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::Api;
use crate::{ErrorKind, VendorError};

/// Vendor explanations are quoted, but only so much of them.
const MAX_DETAIL_CHARS: usize = 300;

/// A failure before any status arrived: timeout, refused connection, DNS, TLS, broken body.
pub(super) fn transport(api: &Api, err: reqwest::Error) -> VendorError {
    // The URL may carry a key in its query (OpenWeatherMap's `appid`): drop it from the text,
    // and scrub the key anyway in case a cause quotes it.
    let target = err
        .url()
        .and_then(|u| {
            Some(format!(
                " at {}:{}",
                u.host_str()?,
                u.port_or_known_default()?
            ))
        })
        .unwrap_or_default();
    let err = err.without_url();
    let detail = api.redact(&source_chain(&err));
    if err.is_timeout() {
        return VendorError::new(
            ErrorKind::Timeout,
            format!(
                "timed out after {:.1} s waiting for {} (raise MCP_HTTP_TIMEOUT if it is just slow)",
                api.timeout.as_secs_f64(),
                api.name
            ),
        );
    }
    if err.is_connect() {
        return VendorError::new(
            ErrorKind::Network,
            format!(
                "network unreachable: could not connect to {}{target}: {detail}",
                api.name
            ),
        );
    }
    if err.is_decode() || err.is_body() {
        return VendorError::new(
            ErrorKind::MalformedResponse,
            format!("malformed response from {}: {detail}", api.name),
        );
    }
    VendorError::new(
        ErrorKind::Network,
        format!("network error talking to {}: {detail}", api.name),
    )
}

/// A non-2xx answer.
pub(super) fn status(api: &Api, status: u16, headers: &HeaderMap, body: &str) -> VendorError {
    let name = api.name;
    let detail = vendor_detail(body).map(|d| api.redact(&d));
    let said = detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let err = match status {
        401 | 403 => {
            let fix = match &api.key {
                Some((env_name, _)) => format!(": check {env_name}"),
                None => String::new(),
            };
            let what = if api.key.is_some() {
                "rejected the API key"
            } else {
                "refused access"
            };
            let vendor_said = detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            VendorError::new(
                ErrorKind::Auth,
                format!("{name} {what} (HTTP {status}){fix}{vendor_said}"),
            )
        }
        404 => VendorError::new(
            ErrorKind::NotFound,
            format!("{name} answered HTTP 404 not found{said}"),
        ),
        408 => VendorError::new(
            ErrorKind::Timeout,
            format!("{name} timed out the request (HTTP 408){said}"),
        ),
        429 => rate_limited(name, headers, detail.as_deref(), body),
        500..=599 => VendorError::new(
            ErrorKind::Unavailable,
            format!("{name} unavailable (HTTP {status}){said}"),
        )
        .with_retry_after(retry_after(headers)),
        _ => VendorError::new(
            ErrorKind::BadRequest,
            format!("{name} rejected the request (HTTP {status}){said}"),
        ),
    };
    err.with_status(status)
}

fn rate_limited(name: &str, headers: &HeaderMap, detail: Option<&str>, body: &str) -> VendorError {
    // OpenAI answers 429 both for a rate limit and for an exhausted quota; only the first passes.
    if body.contains("insufficient_quota") {
        return VendorError::new(
            ErrorKind::RateLimited,
            format!(
                "{name} quota exhausted (HTTP 429): check the account's plan and billing{}",
                detail.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        )
        .with_retryable(false);
    }
    let wait = retry_after(headers);
    let when = match wait {
        Some(d) => format!("; retry after {}", human(d)),
        None => "; retry later".to_owned(),
    };
    VendorError::new(
        ErrorKind::RateLimited,
        format!("rate limited by {name}{when}"),
    )
    .with_retry_after(wait)
}

/// `retry-after-ms` (OpenAI), else `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// The vendor's own explanation: `error.message` (OpenAI, Groq), `error` as text, `message`
/// (OpenWeatherMap), `reason` (Open-Meteo), `detail` (Tavily); else the start of the body.
fn vendor_detail(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let found = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let pick = |v: &serde_json::Value| v.as_str().map(str::to_owned);
            pick(&v["error"]["message"])
                .or_else(|| pick(&v["error"]))
                .or_else(|| pick(&v["message"]))
                .or_else(|| pick(&v["reason"]))
                .or_else(|| pick(&v["detail"]["error"]))
                .or_else(|| pick(&v["detail"]))
        });
    let text = found.unwrap_or_else(|| body.to_owned());
    let mut short: String = text.chars().take(MAX_DETAIL_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    Some(short)
}

/// The error with its causes; reqwest's top-level text alone ("error sending request") says little.
fn source_chain(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn picks_vendor_messages() {
        assert_eq!(
            vendor_detail(
                r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error"}}"#
            )
            .as_deref(),
            Some("Incorrect API key")
        );
        assert_eq!(
            vendor_detail(r#"{"cod":"404","message":"city not found"}"#).as_deref(),
            Some("city not found")
        );
        assert_eq!(
            vendor_detail(r#"{"error":true,"reason":"bad latitude"}"#).as_deref(),
            Some("bad latitude")
        );
        assert_eq!(vendor_detail("  "), None);
    }
}
