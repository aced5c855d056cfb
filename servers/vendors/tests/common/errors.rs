//! The failure matrix every vendor must classify the same way: 401, 404, 429 with Retry-After,
//! 500, a timeout, malformed JSON, and an unreachable host.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use super::{assert_secret_absent, classification, json, start, text};

/// What to call and how to point the server at the fake.
pub struct Matrix<'a> {
    pub provider: &'a str,
    /// The environment, given the fake's base URL.
    pub env: &'a dyn Fn(&str) -> Vec<(&'static str, String)>,
    pub tool: &'a str,
    pub args: Value,
    pub http_method: &'a str,
    /// The endpoint path the first request of the tool hits.
    pub path: &'a str,
    /// The API key (checked never to leak), if any.
    pub secret: Option<&'a str>,
    /// Expected kind for a 404.
    pub not_found_kind: &'a str,
    /// Text expected in the 401 message (e.g. the key's variable name).
    pub auth_hint: &'a str,
}

async fn answer(server: &MockServer, m: &Matrix<'_>, response: ResponseTemplate) {
    server.reset().await;
    Mock::given(method(m.http_method))
        .and(path(m.path))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Runs the whole matrix against one server process (plus one for the unreachable host).
pub async fn run(m: Matrix<'_>) {
    let server = MockServer::start().await;
    let env = (m.env)(&server.uri());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let vendor = start(m.provider, &env_refs).await;
    let mut outputs = String::new();

    let leaked_key = m.secret.unwrap_or("no-key-here");
    answer(&server, &m, ResponseTemplate::new(401).set_body_json(json!({
        "error": {"message": format!("Incorrect API key provided: {leaked_key}"), "type": "invalid_request_error"}
    })))
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(
        classification(&r),
        json!({"kind": "auth", "retryable": false, "retry_after_ms": null, "status": 401})
    );
    assert!(
        text(&r).contains("HTTP 401") && text(&r).contains(m.auth_hint),
        "401 text: {}",
        text(&r)
    );
    outputs.push_str(&json(&r).to_string());

    answer(
        &server,
        &m,
        ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "no such thing"}})),
    )
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    let c = classification(&r);
    assert_eq!(c["kind"], m.not_found_kind, "404: {c}");
    assert_eq!(c["retryable"], false);
    assert_eq!(c["status"], 404);
    outputs.push_str(&json(&r).to_string());

    answer(
        &server,
        &m,
        ResponseTemplate::new(429)
            .insert_header("retry-after", "3")
            .set_body_json(json!({"error": {"message": "slow down"}})),
    )
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(
        classification(&r),
        json!({"kind": "rate_limited", "retryable": true, "retry_after_ms": 3000, "status": 429})
    );
    assert!(
        text(&r).contains("retry after 3 s"),
        "429 text: {}",
        text(&r)
    );

    answer(
        &server,
        &m,
        ResponseTemplate::new(500).set_body_string("internal error"),
    )
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(
        classification(&r),
        json!({"kind": "unavailable", "retryable": true, "retry_after_ms": null, "status": 500})
    );
    assert!(
        text(&r).contains("unavailable (HTTP 500)"),
        "500 text: {}",
        text(&r)
    );

    answer(
        &server,
        &m,
        ResponseTemplate::new(200)
            .set_body_json(json!({}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(
        classification(&r),
        json!({"kind": "timeout", "retryable": true, "retry_after_ms": null, "status": null})
    );
    assert!(
        text(&r).contains("timed out after"),
        "timeout text: {}",
        text(&r)
    );

    answer(
        &server,
        &m,
        ResponseTemplate::new(200).set_body_raw("{\"choices\": [", "application/json"),
    )
    .await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(classification(&r)["kind"], "malformed_response");
    assert!(
        text(&r).contains("malformed response from"),
        "malformed text: {}",
        text(&r)
    );
    outputs.push_str(&json(&r).to_string());

    let stderr = vendor.finish().await;
    if let Some(secret) = m.secret {
        assert_secret_absent(secret, &stderr, "stderr");
        assert_secret_absent(secret, &outputs, "tool results");
    }

    // Nothing listens on port 1 of loopback: connection refused.
    let env = (m.env)("http://127.0.0.1:1");
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let vendor = start(m.provider, &env_refs).await;
    let r = vendor.result(m.tool, m.args.clone()).await;
    assert_eq!(
        classification(&r),
        json!({"kind": "network", "retryable": true, "retry_after_ms": null, "status": null})
    );
    assert!(
        text(&r).contains("network unreachable"),
        "network text: {}",
        text(&r)
    );
    let stderr = vendor.finish().await;
    if let Some(secret) = m.secret {
        assert_secret_absent(secret, &stderr, "stderr");
    }
}
