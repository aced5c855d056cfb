//! The `openai` server against a wiremock fake of the OpenAI API, over real stdio.

mod common;

use common::{assert_secret_absent, classification, errors, refs, start, structured, text};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path},
};

const KEY: &str = "sk-test-openai-0123456789abcdef";

fn env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_API_KEY", KEY.into()),
        ("OPENAI_BASE_URL", format!("{base}/v1")),
    ]
}

#[tokio::test]
async fn advertises_tools_with_schemas() {
    let server = MockServer::start().await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let tools = vendor.tools().await;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["chat", "embed", "list_models"]);
    for tool in &tools {
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
    }
    vendor.finish().await;
}

#[tokio::test]
async fn chat_sends_documented_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "gpt-test",
            "temperature": 0.0,
            "max_tokens": 20,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test-2024",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor
        .result("chat", json!({"message": "hello", "system": "Be brief.", "model": "gpt-test", "temperature": 0, "max_tokens": 20}))
        .await;
    assert_eq!(
        structured(&r),
        json!({"message": "Hi there", "model": "gpt-test-2024", "vendor": "openai",
               "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}, "finish_reason": "stop"})
    );
    assert_eq!(text(&r), "Hi there");
    let stderr = vendor.finish().await;
    assert_secret_absent(KEY, &stderr, "stderr");
}

#[tokio::test]
async fn chat_passes_a_conversation_through() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c", "name": "carol"}],
            "n": 1,
            // As the caller wrote it, not widened from an f32 (0.699999988).
            "temperature": 0.7
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "d"}, "finish_reason": "length"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor
        .result("chat", json!({
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c", "name": "carol"}],
            "extra": {"n": 1},
            "temperature": 0.7
        }))
        .await;
    let out = structured(&r);
    assert_eq!(out["message"], "d");
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["finish_reason"], "length");
    vendor.finish().await;
}

#[tokio::test]
async fn embed_batches_and_orders_by_index() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(
            json!({"model": "text-embedding-3-small", "input": ["one", "two"], "dimensions": 3}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.0, 1.0, 0.0]},
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0, 0.0]}
            ],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor
        .result("embed", json!({"input": ["one", "two"], "dimensions": 3}))
        .await;
    assert_eq!(
        structured(&r),
        json!({"embeddings": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "model": "text-embedding-3-small", "dimensions": 3, "vendor": "openai"})
    );
    vendor.finish().await;
}

#[tokio::test]
async fn list_models_names_each_model() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "gpt-4o-mini", "object": "model", "owned_by": "openai"}, {"id": "text-embedding-3-small", "object": "model"}]
        })))
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor.result("list_models", json!({})).await;
    assert_eq!(
        structured(&r),
        json!({"models": [{"id": "gpt-4o-mini", "vendor": "openai"}, {"id": "text-embedding-3-small", "vendor": "openai"}]})
    );
    vendor.finish().await;
}

#[tokio::test]
async fn unknown_model_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {"message": "The model `nope` does not exist", "type": "invalid_request_error", "code": "model_not_found"}
        })))
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor
        .result("chat", json!({"message": "hi", "model": "nope"}))
        .await;
    assert_eq!(classification(&r)["kind"], "not_found");
    assert!(
        text(&r).starts_with("model 'nope' not found"),
        "{}",
        text(&r)
    );
    vendor.finish().await;
}

#[tokio::test]
async fn exhausted_quota_is_not_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}
        })))
        .mount(&server)
        .await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    let r = vendor.result("chat", json!({"message": "hi"})).await;
    let c = classification(&r);
    assert_eq!(
        (c["kind"].as_str(), c["retryable"].as_bool()),
        (Some("rate_limited"), Some(false))
    );
    assert!(text(&r).contains("quota exhausted"), "{}", text(&r));
    vendor.finish().await;
}

#[tokio::test]
async fn malformed_arguments_are_invalid_params() {
    let server = MockServer::start().await;
    let vendor = start("openai", &refs(&env(&server.uri()))).await;
    for args in [
        json!({}),
        json!({"message": 5}),
        json!({"message": "a", "messages": [{"role": "user", "content": "b"}]}),
        json!({"message": "a", "temperature": 2.5}),
        json!({"message": "a", "max_tokens": 0}),
        json!({"input": []}),
        json!({"input": "a", "dimensions": 0}),
    ] {
        let tool = if args.get("input").is_some() {
            "embed"
        } else {
            "chat"
        };
        let err = vendor
            .call(tool, args.clone())
            .await
            .expect_err("must be a protocol error");
        match err {
            rmcp::ServiceError::McpError(e) => assert_eq!(
                e.code,
                rmcp::model::ErrorCode::INVALID_PARAMS,
                "{args}: {e:?}"
            ),
            other => panic!("{args}: unexpected error {other}"),
        }
    }
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "nothing reaches the vendor"
    );
    vendor.finish().await;
}

#[tokio::test]
async fn failures_are_classified() {
    errors::run(errors::Matrix {
        provider: "openai",
        env: &env,
        tool: "chat",
        args: json!({"message": "hi"}),
        http_method: "POST",
        path: "/v1/chat/completions",
        secret: Some(KEY),
        not_found_kind: "not_found",
        auth_hint: "check OPENAI_API_KEY",
    })
    .await;
}

#[tokio::test]
async fn missing_key_fails_at_start() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-vendor"))
        .arg("openai")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OPENAI_API_KEY is not set"));
    assert!(out.stdout.is_empty(), "nothing but JSON-RPC on stdout");
}
