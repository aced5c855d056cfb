//! The Rust client SDK and the unified-tool CLI verbs, end to end against `serve`.

use std::time::Duration;

use mcp_orchestrator::client::{
    ChatRequest, Client, ClientError, EmbedRequest, SearchRequest, WeatherRequest,
};
use serde_json::{Value, json};

use crate::common::*;

fn vendors_config() -> TempConfig {
    write_config(&json!({
        "servers": {
            "down": {"command": fixture_bin(), "args": ["--vendor", "down", "--mode", "unavailable"]},
            "up": {"command": fixture_bin(), "args": ["--vendor", "up", "--dims", "3"]}
        },
        "routing": {"chat": ["down", "up"], "embed": ["up"], "search_web": ["up"], "get_weather": ["up"], "list_models": ["down", "up"]},
        "orchestrator": {"retry_attempts": 1, "shutdown_grace": 1, "cache_ttl": 0}
    }))
}

#[tokio::test]
async fn the_sdk_covers_every_unified_tool() {
    let cfg = vendors_config();
    let client = Client::spawn_with(orchestrator_bin(), &cfg.path)
        .await
        .unwrap();
    let chat = client
        .chat(ChatRequest::new("hello").temperature(0.0).max_tokens(8))
        .await
        .unwrap();
    assert_eq!(chat.message, "up says: hello");
    assert_eq!(chat.vendor.as_deref(), Some("up"));
    assert_eq!(chat.routing.vendor.as_deref(), Some("up"));
    assert_eq!(chat.routing.attempts[0].vendor, "down");
    assert_eq!(chat.routing.attempts[0].outcome, "failed");

    let pinned = client
        .chat(ChatRequest::new("x").vendor("down").fallback(false))
        .await
        .unwrap_err();
    let ClientError::Tool {
        message, routing, ..
    } = pinned
    else {
        panic!("{pinned:?}")
    };
    assert!(message.contains("unavailable"), "{message}");
    assert_eq!(routing.unwrap().attempts.len(), 1);

    let e = client.embed(EmbedRequest::new(["a", "b"])).await.unwrap();
    assert_eq!(e.embeddings.len(), 2);
    assert_eq!(e.embeddings[0].len(), 3);
    let norm: f32 = e.embeddings[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3);

    let s = client
        .search_web(SearchRequest::new("rust").num_results(3))
        .await
        .unwrap();
    assert_eq!(s.results[0].title, "up result for rust");
    let w = client
        .get_weather(WeatherRequest::new("Paris"))
        .await
        .unwrap();
    assert_eq!((w.location.as_str(), w.temperature), ("Paris", 21.5));
    let models = client.list_models().await.unwrap();
    assert_eq!(models.len(), 1, "down fails, up lists one: {models:?}");

    let status = client.status().await.unwrap();
    assert_eq!(status.servers["up"].state.as_str(), "running");
    let caps = client.capabilities().await.unwrap();
    assert!(
        caps.servers["up"]
            .tools
            .iter()
            .any(|t| t.name == "up__chat")
    );
    let raw = client
        .call_tool("up__set_mode", json!({"mode": "ok"}))
        .await
        .unwrap();
    assert_ne!(raw.is_error, Some(true));
    let bad = client
        .call_tool("chat", json!({"message": "x", "vendor": "nope"}))
        .await
        .unwrap_err();
    assert!(matches!(bad, ClientError::Rpc { .. }), "{bad:?}");
    client.close().await;
}

#[tokio::test]
async fn cli_verbs_print_answers_and_say_who_served() {
    let cfg = vendors_config();
    let p = cfg.path.clone();
    let (code, out, err) = cli(&p, &["chat", "hello there"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "up says: hello there");
    assert!(
        err.contains("served by up") && err.contains("down failed"),
        "{err}"
    );

    let (code, out, _) = cli(&p, &["chat", "hi", "--vendor", "up", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["routing"]["attempts"].as_array().unwrap().len(), 1);

    let (code, out, err) = cli(&p, &["embed", "one", "two"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"one\": 3 dims") && out.contains("\"two\": 3 dims"),
        "{out}"
    );

    let (code, out, _) = cli(&p, &["search", "rust async", "-n", "2"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("1. up result for rust async"), "{out}");

    let (code, out, _) = cli(&p, &["weather", "Paris"]);
    assert_eq!(code, 0);
    assert!(out.contains("Paris: 21.5 °C, clear sky"), "{out}");

    let (code, _, err) = cli(&p, &["chat", "x", "--vendor", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"), "{err}");
    let (code, _, err) = cli(&p, &["chat", "x", "--vendor", "down"]);
    assert_eq!(code, 0, "pinned vendor still falls back by default: {err}");
}

#[tokio::test]
async fn cli_verbs_use_the_running_instance() {
    let cfg = vendors_config();
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "up") == "running")
        .await;
    let pid = pid_of(&s, "up");
    let (code, _, err) = cli(&cfg.path, &["weather", "Oslo"]);
    assert_eq!(code, 0, "{err}");
    // The call went through the host's instance: its metrics counted it, same child pid.
    let s = host.status().await;
    assert_eq!(pid_of(&s, "up"), pid);
    assert_eq!(s["unified"]["get_weather"]["calls"], 1);
    host.close().await;
}
