//! Unified tools over fake vendors (the fixture in vendor mode): fallback, retries, deadlines,
//! circuit breakers, embedding spaces, caching, adapters.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

fn vendor(name: &str, mode: &str) -> Value {
    fixture(&["--vendor", name, "--mode", mode])
}

fn settings(extra: Value) -> Value {
    let mut s = fast_settings();
    s["retry_attempts"] = json!(2);
    s["cache_ttl"] = json!(0);
    if let (Some(s), Value::Object(e)) = (s.as_object_mut(), extra) {
        s.extend(e);
    }
    s
}

async fn start(servers: Value, routing: Value, extra: Value) -> (TempConfig, Host) {
    let cfg = write_config(
        &json!({"servers": servers, "routing": routing, "orchestrator": settings(extra)}),
    );
    let host = Host::start(&cfg.path).await;
    let ids: Vec<String> = cfg_ids(&cfg);
    host.wait_status(Duration::from_secs(10), |s| {
        ids.iter()
            .all(|id| !["starting", "restarting"].contains(&state_of(s, id).as_str()))
    })
    .await;
    (cfg, host)
}

fn cfg_ids(cfg: &TempConfig) -> Vec<String> {
    let v: Value = serde_json::from_slice(&std::fs::read(&cfg.path).unwrap()).unwrap();
    v["servers"].as_object().unwrap().keys().cloned().collect()
}

fn routing(r: &rmcp::model::CallToolResult) -> Value {
    r.structured_content.as_ref().expect("structured")["routing"].clone()
}

fn outcomes(r: &rmcp::model::CallToolResult) -> Vec<(String, String)> {
    routing(r)["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["vendor"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(v: &str, o: &str) -> (String, String) {
    (v.to_owned(), o.to_owned())
}

async fn calls_to(host: &Host, server: &str) -> u64 {
    host.status().await["servers"][server]["metrics"]["calls"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn falls_back_when_the_first_vendor_fails_and_says_why() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "unavailable"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"]}),
        json!({}),
    )
    .await;
    assert!(host.tool_names().await.contains(&"chat".to_owned()));
    assert!(
        !host.tool_names().await.contains(&"embed".to_owned()),
        "no vendor, no tool"
    );
    let r = host.call("chat", json!({"message": "hi"})).await.unwrap();
    assert_ne!(r.is_error, Some(true));
    let s = r.structured_content.clone().unwrap();
    assert_eq!(s["message"], "b says: hi");
    assert_eq!(s["vendor"], "b");
    assert_eq!(routing(&r)["vendor"], "b");
    // Retryable: two attempts on `a` (retry_attempts 2), then `b`.
    assert_eq!(
        outcomes(&r),
        [pair("a", "failed"), pair("a", "failed"), pair("b", "ok")]
    );
    let first = &routing(&r)["attempts"][0];
    assert!(
        first["error"]
            .as_str()
            .unwrap()
            .contains("unavailable (HTTP 503)"),
        "{first}"
    );
    assert!(
        routing(&r)["overhead_ms"].as_f64().unwrap() < routing(&r)["total_ms"].as_f64().unwrap()
    );
    let meta = serde_json::to_value(&r).unwrap()["_meta"]["mcp-orchestrator/routing"].clone();
    assert_eq!(meta["vendor"], "b");
    host.close().await;
}

#[tokio::test]
async fn caller_errors_are_returned_at_once_without_fallback() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "bad_request"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"], "get_weather": ["a", "b"]}),
        json!({}),
    )
    .await;
    let r = host
        .call("chat", json!({"message": "hi", "temperature": 99}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(outcomes(&r), [pair("a", "caller_error")]);
    assert_eq!(calls_to(&host, "b").await, 0, "b never called");

    host.call("a__set_mode", json!({"mode": "invalid_params"}))
        .await
        .unwrap();
    let err = host
        .call("chat", json!({"message": "hi"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-32602"),
        "bad arguments stay a JSON-RPC invalid-params error: {err}"
    );

    host.call("a__set_mode", json!({"mode": "unknown_location"}))
        .await
        .unwrap();
    let r = host
        .call("get_weather", json!({"location": "Atlantis"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(r.content[0].as_text().unwrap().text, "no place called that");
    assert_eq!(calls_to(&host, "b").await, 0);

    // A model the caller named and the vendor lacks is the caller's error; the vendor's own
    // default model missing is the vendor's problem.
    host.call("a__set_mode", json!({"mode": "not_found"}))
        .await
        .unwrap();
    let r = host
        .call("chat", json!({"message": "hi", "model": "nope"}))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), [pair("a", "caller_error")]);
    let r = host.call("chat", json!({"message": "hi"})).await.unwrap();
    assert_eq!(outcomes(&r), [pair("a", "failed"), pair("b", "ok")]);
    host.close().await;
}

#[tokio::test]
async fn retries_the_same_vendor_briefly_then_succeeds() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "flaky:2"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"]}),
        json!({"retry_attempts": 3}),
    )
    .await;
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(
        outcomes(&r),
        [pair("a", "failed"), pair("a", "failed"), pair("a", "ok")]
    );
    assert_eq!(routing(&r)["vendor"], "a");
    host.close().await;
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_moves_on_at_once() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "rate_limited:5000"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"]}),
        json!({"retry_attempts": 3}),
    )
    .await;
    let started = Instant::now();
    let r = host
        .call("chat", json!({"message": "x", "timeout_ms": 4000}))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not wait out retry-after: {:?}",
        started.elapsed()
    );
    assert_eq!(outcomes(&r), [pair("a", "failed"), pair("b", "ok")]);
    host.close().await;
}

#[tokio::test]
async fn the_deadline_holds_against_a_hanging_vendor() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "hang"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"]}),
        json!({}),
    )
    .await;
    let started = Instant::now();
    let r = host
        .call("chat", json!({"message": "x", "timeout_ms": 600}))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(r.is_error, Some(true));
    let text = r.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("did not answer") || text.contains("deadline"),
        "{text}"
    );
    // The hanging call was cancelled in the vendor: it still answers the next one.
    host.call("a__set_mode", json!({"mode": "ok"}))
        .await
        .unwrap();
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(routing(&r)["vendor"], "a");
    host.close().await;
}

#[tokio::test]
async fn circuit_opens_half_opens_and_closes() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "unavailable"), "b": vendor("b", "ok")}),
        json!({"chat": ["a", "b"]}),
        json!({"retry_attempts": 1, "breaker_min_calls": 2, "breaker_failure_rate": 0.5, "breaker_cooldown": 1}),
    )
    .await;
    for _ in 0..2 {
        host.call("chat", json!({"message": "x"})).await.unwrap();
    }
    let s = host.status().await;
    assert_eq!(
        s["servers"]["a"]["circuit"], "open",
        "{}",
        s["servers"]["a"]
    );
    let before = calls_to(&host, "a").await;
    let started = Instant::now();
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    let skipped = started.elapsed();
    assert_eq!(outcomes(&r), [pair("a", "skipped"), pair("b", "ok")]);
    assert!(
        routing(&r)["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("circuit open")
    );
    assert_eq!(
        calls_to(&host, "a").await,
        before,
        "an open circuit sends nothing"
    );
    eprintln!("call with an open circuit skipped: {skipped:?}");

    host.call("a__set_mode", json!({"mode": "ok"}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(host.status().await["servers"]["a"]["circuit"], "half_open");
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(
        outcomes(&r),
        [pair("a", "ok")],
        "the probe went to a and succeeded"
    );
    assert_eq!(host.status().await["servers"]["a"]["circuit"], "closed");
    host.close().await;
}

#[tokio::test]
async fn auth_errors_open_the_circuit_at_once_and_all_open_tries_the_soonest() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "auth"), "b": vendor("b", "auth")}),
        json!({"chat": ["a", "b"]}),
        json!({"breaker_cooldown": 30}),
    )
    .await;
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        outcomes(&r),
        [pair("a", "failed"), pair("b", "failed")],
        "auth is not retried"
    );
    let text = r.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("a rejected the API key") && text.contains("b rejected"),
        "{text}"
    );
    let s = host.status().await;
    assert_eq!(s["servers"]["a"]["circuit"], "open");
    assert_eq!(s["servers"]["b"]["circuit"], "open");
    // Both open: rather than fail blind, the one whose cool-down ends first (a) is probed.
    host.call("a__set_mode", json!({"mode": "ok"}))
        .await
        .unwrap();
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(routing(&r)["vendor"], "a", "{}", routing(&r));
    host.close().await;
}

#[tokio::test]
async fn embeddings_never_mix_spaces() {
    let mut a = vendor("a", "unavailable");
    a["embedding_space"] = json!("text-embedding-3-small/1536");
    a["args"]
        .as_array_mut()
        .unwrap()
        .extend([json!("--dims"), json!("4")]);
    let mut b = vendor("b", "ok");
    b["args"]
        .as_array_mut()
        .unwrap()
        .extend([json!("--dims"), json!("8")]);
    let (cfg, host) = start(
        json!({"a": a.clone(), "b": b.clone()}),
        json!({"embed": ["a", "b"]}),
        json!({}),
    )
    .await;
    let r = host
        .call("embed", json!({"input": ["x", "y"]}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    let text = r.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("not compatible") && text.contains("embedding_space"),
        "{text}"
    );
    assert_eq!(calls_to(&host, "b").await, 0);
    // Pinning b explicitly is the caller's choice of space.
    let r = host
        .call("embed", json!({"input": "x", "vendor": "b"}))
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["dimensions"], 8);
    host.close().await;
    drop(cfg);

    // Marked compatible: the fallback is allowed.
    b["embedding_space"] = json!("text-embedding-3-small/1536");
    let (_cfg, host) = start(
        json!({"a": a, "b": b}),
        json!({"embed": ["a", "b"]}),
        json!({}),
    )
    .await;
    let r = host.call("embed", json!({"input": "x"})).await.unwrap();
    assert_eq!(routing(&r)["vendor"], "b");
    host.close().await;
}

#[tokio::test]
async fn vendor_pin_no_fallback_missing_env_and_unknown_vendor() {
    let (_cfg, host) = start(
        json!({
            "k": {"command": fixture_bin(), "args": ["--vendor", "k"], "required_env": ["MCP_TEST_UNSET_VENDOR_KEY"]},
            "a": vendor("a", "unavailable"),
            "b": vendor("b", "ok")
        }),
        json!({"chat": ["k", "a", "b"]}),
        json!({"retry_attempts": 1}),
    )
    .await;
    let r = host.call("chat", json!({"message": "x"})).await.unwrap();
    assert_eq!(
        outcomes(&r),
        [pair("k", "skipped"), pair("a", "failed"), pair("b", "ok")]
    );
    assert!(
        routing(&r)["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("MCP_TEST_UNSET_VENDOR_KEY")
    );
    let r = host
        .call("chat", json!({"message": "x", "vendor": "b"}))
        .await
        .unwrap();
    assert_eq!(outcomes(&r), [pair("b", "ok")]);
    let r = host
        .call(
            "chat",
            json!({"message": "x", "vendor": "a", "fallback": false}),
        )
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(outcomes(&r), [pair("a", "failed")]);
    let err = host
        .call("chat", json!({"message": "x", "vendor": "zzz"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-32602") && err.contains("zzz") && err.contains("k, a, b"),
        "{err}"
    );
    host.close().await;
}

#[tokio::test]
async fn list_models_merges_and_weather_is_cached_but_chat_is_not() {
    let (_cfg, host) = start(
        json!({"a": vendor("a", "ok"), "b": vendor("b", "ok"), "c": vendor("c", "unavailable")}),
        json!({"list_models": ["a", "b", "c"], "get_weather": ["a"], "chat": ["a"]}),
        json!({"cache_ttl": 60}),
    )
    .await;
    let r = host.call("list_models", json!({})).await.unwrap();
    let models = r.structured_content.clone().unwrap()["models"].clone();
    assert_eq!(
        models,
        json!([{"id": "a-model", "vendor": "a"}, {"id": "b-model", "vendor": "b"}])
    );
    assert!(outcomes(&r).contains(&pair("c", "failed")));

    let w1 = host
        .call(
            "get_weather",
            json!({"location": "Paris", "units": "metric"}),
        )
        .await
        .unwrap();
    let w2 = host
        .call(
            "get_weather",
            json!({"units": "metric", "location": "Paris"}),
        )
        .await
        .unwrap();
    assert_eq!(routing(&w1)["cached"], false);
    assert_eq!(routing(&w2)["cached"], true);
    assert_eq!(w2.structured_content.as_ref().unwrap()["temperature"], 21.5);
    let before = calls_to(&host, "a").await;
    host.call("chat", json!({"message": "same"})).await.unwrap();
    let c2 = host.call("chat", json!({"message": "same"})).await.unwrap();
    assert_eq!(routing(&c2)["cached"], false);
    assert_eq!(
        calls_to(&host, "a").await,
        before + 2,
        "chat is never cached"
    );
    let s = host.status().await;
    assert_eq!(s["unified"]["get_weather"]["calls"], 2);
    assert_eq!(s["unified"]["chat"]["calls"], 2);
    host.close().await;
}

#[tokio::test]
async fn adapters_map_tool_and_argument_names_for_third_party_servers() {
    let (_cfg, host) = start(
        json!({"third": {
            "command": fixture_bin(), "args": ["--tool", "ask"],
            "adapt": {"chat": {"tool": "ask", "rename": {"message": "prompt"}, "defaults": {"model": "tiny"}}}
        }}),
        json!({"chat": ["third"]}),
        json!({}),
    )
    .await;
    let r = host
        .call("chat", json!({"message": "hello"}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let s = r.structured_content.unwrap();
    assert_eq!(s["tool"], "ask");
    assert_eq!(s["arguments"], json!({"prompt": "hello", "model": "tiny"}));
    assert_eq!(s["routing"]["vendor"], "third");
    host.close().await;
}
