//! The shipped default config, with the real vendor servers (`mcp-vendor`) behind `serve` and
//! their APIs faked by wiremock: the unified tools fall back across real vendor processes.

use std::time::Duration;

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

use crate::common::*;

const OPENAI_KEY: &str = "sk-canary-openai-5f1e2d3c";
const GROQ_KEY: &str = "gsk-canary-groq-9a8b7c6d";

async fn fake_apis() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai-api/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/groq-api/chat/completions"))
        .and(header("authorization", format!("Bearer {GROQ_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "llama-3.1-8b-instant",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Blue."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/geo/search"))
        .and(query_param("name", "Oslo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"id": 3, "name": "Oslo", "latitude": 59.91, "longitude": 10.75, "country": "Norway", "country_code": "NO", "admin1": "Oslo"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/meteo/forecast"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "latitude": 59.91, "longitude": 10.75,
            "current": {"time": "2026-11-21T10:00", "interval": 900, "temperature_2m": -3.5, "relative_humidity_2m": 70, "wind_speed_10m": 4.0, "weather_code": 71}
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn default_config_runs_real_vendor_servers_with_fallback() {
    vendor_bin();
    let apis = fake_apis().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mcp_servers.json");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/mcp_servers.json"),
        &cfg,
    )
    .unwrap();
    let base = apis.uri();
    let env = [
        ("OPENAI_API_KEY", OPENAI_KEY.to_owned()),
        ("OPENAI_BASE_URL", format!("{base}/openai-api")),
        ("GROQ_API_KEY", GROQ_KEY.to_owned()),
        ("GROQ_BASE_URL", format!("{base}/groq-api")),
        ("OPEN_METEO_BASE_URL", format!("{base}/meteo")),
        ("OPEN_METEO_GEOCODING_URL", format!("{base}/geo")),
    ];
    let host = Host::start_with_env(&cfg, &env).await;
    let s = host
        .wait_status(Duration::from_secs(20), |s| {
            ["openai", "groq", "open_meteo"]
                .iter()
                .all(|id| state_of(s, id) == "running")
        })
        .await;
    for id in ["openai", "groq", "open_meteo"] {
        assert_eq!(state_of(&s, id), "running", "{id}: {}", s["servers"][id]);
    }
    assert_eq!(state_of(&s, "local_llama"), "missing_env");
    assert_eq!(
        s["servers"]["local_llama"]["missing_env"],
        json!(["MODEL_PATH"])
    );
    assert_eq!(state_of(&s, "brave"), "missing_env");

    let r = host
        .call("chat", json!({"message": "Name a colour."}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let out = r.structured_content.clone().unwrap();
    assert_eq!(out["message"], "Blue.");
    assert_eq!(out["vendor"], "groq");
    let attempts = out["routing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["vendor"], "openai");
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY"),
        "{}",
        attempts[0]
    );
    assert_eq!(
        host.status().await["servers"]["openai"]["circuit"],
        "open",
        "auth opens the circuit"
    );

    let r = host
        .call("get_weather", json!({"location": "Oslo"}))
        .await
        .unwrap();
    let w = r.structured_content.clone().unwrap();
    assert_eq!(w["provider"], "open_meteo", "{w}");
    assert_eq!(w["temperature"], -3.5);
    assert_eq!(
        w["routing"]["attempts"][0]["outcome"], "skipped",
        "openweathermap has no key"
    );

    let everything = format!("{}{}", host.stderr(), host.status().await);
    for secret in [OPENAI_KEY, GROQ_KEY] {
        assert!(!everything.contains(secret), "a key leaked");
    }
    host.close().await;
}
