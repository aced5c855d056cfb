//! The openai and groq servers against aimock, a real OpenAI-compatible server (offline).

mod common;

use common::{aimock, classification, refs, start, structured, text};
use serde_json::{Value, json};

fn fixtures() -> Value {
    json!({"fixtures": [
        {"match": {"userMessage": "hello"}, "response": {"content": "Hello from aimock"}},
        {"match": {"userMessage": "groq please"}, "response": {"content": "Hello from fake Groq"}}
    ]})
}

fn openai_env(base: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_API_KEY", key.into()),
        ("OPENAI_BASE_URL", format!("{base}/v1")),
    ]
}

#[tokio::test]
async fn openai_chat_embed_models() {
    let Some(peer) = aimock::start(&fixtures(), &[]).await else {
        return;
    };
    let vendor = start("openai", &refs(&openai_env(&peer.base, aimock::KEY))).await;

    let r = vendor
        .result("chat", json!({"message": "hello", "temperature": 0}))
        .await;
    let out = structured(&r);
    assert_eq!(out["message"], "Hello from aimock");
    assert_eq!(out["vendor"], "openai");
    assert_eq!(out["finish_reason"], "stop");
    assert!(out["usage"]["total_tokens"].as_u64().is_some(), "{out}");

    let first = structured(
        &vendor
            .result("embed", json!({"input": ["a", "b"], "dimensions": 384}))
            .await,
    );
    assert_eq!(first["dimensions"], 384);
    assert_eq!(first["embeddings"].as_array().map(Vec::len), Some(2));
    let again = structured(
        &vendor
            .result("embed", json!({"input": ["a", "b"], "dimensions": 384}))
            .await,
    );
    assert_eq!(first["embeddings"], again["embeddings"], "deterministic");

    let models = structured(&vendor.result("list_models", json!({})).await);
    let ids: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"text-embedding-3-small"), "{ids:?}");

    // aimock answers 404 no_fixture_match when nothing matches.
    let r = vendor.result("chat", json!({"message": "unmatched"})).await;
    assert_eq!(classification(&r)["kind"], "not_found");
    vendor.finish().await;
}

#[tokio::test]
async fn openai_rejected_key() {
    let Some(peer) = aimock::start(&fixtures(), &[]).await else {
        return;
    };
    let wrong = "sk-wrong-key-9876543210";
    let vendor = start("openai", &refs(&openai_env(&peer.base, wrong))).await;
    let r = vendor.result("chat", json!({"message": "hello"})).await;
    assert_eq!(classification(&r)["kind"], "auth");
    assert!(
        text(&r).starts_with("OpenAI rejected the API key (HTTP 401): check OPENAI_API_KEY"),
        "{}",
        text(&r)
    );
    let stderr = vendor.finish().await;
    common::assert_secret_absent(wrong, &stderr, "stderr");
}

#[tokio::test]
async fn openai_rate_limited_by_chaos() {
    let Some(peer) = aimock::start(&fixtures(), &["--chaos-ratelimit", "1"]).await else {
        return;
    };
    let vendor = start("openai", &refs(&openai_env(&peer.base, aimock::KEY))).await;
    let r = vendor.result("chat", json!({"message": "hello"})).await;
    let c = classification(&r);
    assert_eq!(
        (c["kind"].as_str(), c["status"].as_u64()),
        (Some("rate_limited"), Some(429))
    );
    assert!(c["retry_after_ms"].as_u64().is_some(), "{c}");
    vendor.finish().await;
}

#[tokio::test]
async fn groq_chat_is_stripped_on_the_wire() {
    let Some(peer) = aimock::start(&fixtures(), &[]).await else {
        return;
    };
    let env = vec![
        ("GROQ_API_KEY", aimock::KEY.to_owned()),
        ("GROQ_BASE_URL", format!("{}/openai/v1", peer.base)),
    ];
    let vendor = start("groq", &refs(&env)).await;
    let r = vendor
        .result(
            "chat",
            json!({
                "messages": [{"role": "user", "content": "groq please", "name": "alice"}],
                "extra": {"logprobs": true, "n": 3}
            }),
        )
        .await;
    assert_eq!(structured(&r)["message"], "Hello from fake Groq");
    let models = structured(&vendor.result("list_models", json!({})).await);
    assert_eq!(models["models"][0]["vendor"], "groq");
    vendor.finish().await;

    let journal = peer.journal().await;
    let sent = journal
        .iter()
        .find(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/chat/completions"))
        })
        .expect("chat request in the journal");
    let body = &sent["body"];
    assert!(
        body.get("logprobs").is_none() && body.get("n").is_none(),
        "{body}"
    );
    assert!(body["messages"][0].get("name").is_none(), "{body}");
}
