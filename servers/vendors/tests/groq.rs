//! The `groq` server against a wiremock fake of Groq's OpenAI-compatible API, over real stdio.

mod common;

use common::{errors, refs, start, structured, text};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{body_partial_json, header, method, path},
};

const KEY: &str = "gsk_test_groq_0123456789abcdef";

fn env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GROQ_API_KEY", KEY.into()),
        ("GROQ_BASE_URL", format!("{base}/openai/v1")),
    ]
}

/// Groq answers 400 to these; the fake only matches bodies without them.
fn nothing_groq_rejects(request: &Request) -> bool {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return false;
    };
    let rejected = ["logprobs", "logit_bias", "top_logprobs"]
        .iter()
        .any(|k| body.get(k).is_some());
    let n_not_one = body.get("n").is_some_and(|n| n != &json!(1));
    let named = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m.get("name").is_some());
    !rejected && !n_not_one && !named
}

#[tokio::test]
async fn advertises_chat_and_list_models_only() {
    let server = MockServer::start().await;
    let vendor = start("groq", &refs(&env(&server.uri()))).await;
    let names: Vec<String> = vendor
        .tools()
        .await
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["chat", "list_models"]);
    vendor.finish().await;
}

#[tokio::test]
async fn chat_strips_what_groq_rejects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "llama-3.3-70b-versatile",
            "temperature": 0.0,
            "seed": 7,
            "messages": [{"role": "user", "content": "hello"}]
        })))
        .and(nothing_groq_rejects)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-g", "object": "chat.completion", "model": "llama-3.3-70b-versatile",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "queue_time": 0.01}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("groq", &refs(&env(&server.uri()))).await;
    let r = vendor
        .result("chat", json!({
            "messages": [{"role": "user", "content": "hello", "name": "alice"}],
            "temperature": 0, "seed": 7,
            "extra": {"logprobs": true, "top_logprobs": 3, "logit_bias": {"50256": -100}, "n": 2}
        }))
        .await;
    let out = structured(&r);
    assert_eq!(
        (out["message"].as_str(), out["vendor"].as_str()),
        (Some("Hello!"), Some("groq"))
    );
    assert_eq!(out["usage"]["total_tokens"], 7);
    vendor.finish().await;
}

#[tokio::test]
async fn list_models() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/openai/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "llama-3.1-8b-instant", "object": "model", "owned_by": "Meta", "active": true, "context_window": 131072}]
        })))
        .mount(&server)
        .await;
    let vendor = start("groq", &refs(&env(&server.uri()))).await;
    let r = vendor.result("list_models", json!({})).await;
    assert_eq!(
        structured(&r),
        json!({"models": [{"id": "llama-3.1-8b-instant", "vendor": "groq"}]})
    );
    vendor.finish().await;
}

#[tokio::test]
async fn rate_limit_names_groq() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .insert_header("x-ratelimit-remaining-requests", "0")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}})),
        )
        .mount(&server)
        .await;
    let vendor = start("groq", &refs(&env(&server.uri()))).await;
    let r = vendor.result("chat", json!({"message": "hi"})).await;
    assert_eq!(text(&r), "rate limited by Groq; retry after 3 s");
    vendor.finish().await;
}

#[tokio::test]
async fn failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "groq",
        env: &env,
        tool: "chat",
        args: json!({"message": "hi"}),
        http_method: "POST",
        path: "/openai/v1/chat/completions",
        secret: Some(KEY),
        not_found_kind: "not_found",
        auth_hint: "check GROQ_API_KEY",
    })
    .await;
}
