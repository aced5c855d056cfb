//! Bad input from the host (reliability-security.md §5, B1–B6 and R10): every line gets the
//! JSON-RPC answer it calls for, nothing malformed reaches a child, and the session goes on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{common::*, raw::Raw};

async fn session() -> (TempConfig, Raw) {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut raw = Raw::start(&cfg.path).await;
    raw.initialize().await;
    (cfg, raw)
}

/// Restarts of `fx` so far, read through the orchestrator's own status tool.
async fn fx_restarts(raw: &mut Raw, id: &str) -> u64 {
    raw.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "orchestrator_status", "arguments": {}}}))
        .await;
    let r = raw.response(&json!(id)).await;
    let status = &r["result"]["structuredContent"];
    status["servers"]["fx"]["restarts"]
        .as_u64()
        .unwrap_or_else(|| panic!("fx in {status}"))
}

async fn ping_answered(raw: &mut Raw, id: &str) {
    raw.send(json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
        .await;
    assert_eq!(raw.response(&json!(id)).await["result"], json!({}));
}

fn error_of(v: &Value) -> (i64, Value) {
    (v["error"]["code"].as_i64().unwrap_or(0), v["id"].clone())
}

#[tokio::test]
async fn b1_invalid_json_gets_a_parse_error_and_the_session_goes_on() {
    let (_cfg, mut raw) = session().await;
    for bad in [
        &b"{\"jsonrpc\":\"2.0\",\n"[..],
        b"\xff\xfe\xfd garbage\n",
        b"{]\n",
    ] {
        raw.send_bytes(bad).await;
        let r = raw.answer().await;
        assert_eq!(error_of(&r), (-32700, Value::Null), "{bad:?} → {r}");
    }
    ping_answered(&mut raw, "after").await;
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn b2_non_requests_and_batches_are_refused_and_nothing_runs() {
    let (_cfg, mut raw) = session().await;
    let crash = json!({"jsonrpc": "2.0", "id": 50, "method": "tools/call",
        "params": {"name": "fx__crash", "arguments": {}}});
    for bad in [
        json!(42),
        Value::Null,
        json!({"foo": 1}),
        json!([]),
        json!([crash]),
        json!({"jsonrpc": "1.0", "id": 51, "method": "ping"}),
    ] {
        raw.send(bad.clone()).await;
        let r = raw.answer().await;
        assert_eq!(r["error"]["code"], -32600, "{bad} → {r}");
        let expected_id = if bad.get("id").is_some() {
            json!(51)
        } else {
            Value::Null
        };
        assert_eq!(r["id"], expected_id, "{bad} → {r}");
    }
    // The batched crash never reached the child.
    assert_eq!(fx_restarts(&mut raw, "s").await, 0);
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn b3_method_and_params_errors_echo_the_id() {
    let (_cfg, mut raw) = session().await;
    let cases = [
        (json!("m-1"), "no/such", json!({}), -32601),
        (json!(2), "tools/call", json!({"arguments": {}}), -32602),
        (
            json!("m-3"),
            "tools/call",
            json!({"name": "fx__echo", "arguments": "text"}),
            -32602,
        ),
        (json!(4), "tools/call", json!({"name": "zzz_x"}), -32602),
    ];
    for (id, method, params, code) in cases {
        raw.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let r = raw.answer().await;
        assert_eq!(error_of(&r), (code, id.clone()), "{method} {params} → {r}");
    }
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn b4_deep_nesting_is_refused_quickly_without_a_crash() {
    let (_cfg, mut raw) = session().await;
    let mut line = br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":"#.to_vec();
    line.extend(std::iter::repeat_n(b'[', 100_000));
    line.push(b'\n');
    let sent = Instant::now();
    raw.send_bytes(&line).await;
    let r = raw.answer().await;
    let took = sent.elapsed();
    assert_eq!(error_of(&r), (-32700, Value::Null), "{r}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    ping_answered(&mut raw, "alive").await;
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn b5_ids_round_trip_exactly_and_duplicates_in_flight_are_refused() {
    let (_cfg, mut raw) = session().await;
    let slow = |id: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "fx__slow", "arguments": {"ms": 300}}})
    };
    raw.send(slow(json!(1))).await;
    raw.send(slow(json!("1"))).await;
    raw.send(slow(json!(7))).await;
    raw.send(slow(json!(7))).await;
    raw.send(slow(json!(9_007_199_254_740_993_i64))).await;
    let responses = raw.responses_within(Duration::from_secs(3)).await;
    let ids: Vec<String> = responses.iter().map(|r| r["id"].to_string()).collect();
    // The duplicate 7 is refused at once; every other id is answered exactly once.
    let refused: Vec<&Value> = responses
        .iter()
        .filter(|r| r["error"]["code"] == -32600)
        .collect();
    assert_eq!(refused.len(), 1, "{responses:?}");
    assert_eq!(refused[0]["id"], json!(7));
    let mut ok: Vec<String> = responses
        .iter()
        .filter(|r| r.get("result").is_some())
        .map(|r| r["id"].to_string())
        .collect();
    ok.sort();
    assert_eq!(
        ok,
        ["\"1\"", "1", "7", "9007199254740993"],
        "all ids: {ids:?}"
    );
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn b6_lifecycle_misuse() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut raw = Raw::start(&cfg.path).await;
    // A notification before initialize is ignored, not fatal.
    raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    // A call before initialize is refused and not forwarded.
    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "fx__crash", "arguments": {}}}))
        .await;
    let r = raw.response(&json!(1)).await;
    assert!(r.get("error").is_some(), "{r}");
    // Still no session: another early notification is ignored too.
    raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    // An unknown version gets our version back.
    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {
        "protocolVersion": "1.0.0", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
        .await;
    let r = raw.response(&json!(2)).await;
    let version = r["result"]["protocolVersion"].as_str().unwrap_or_default();
    assert!(version.starts_with("20"), "{r}");
    raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    // A second initialize is refused.
    raw.send(json!({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
        .await;
    assert_eq!(error_of(&raw.response(&json!(3)).await), (-32600, json!(3)));
    assert_eq!(fx_restarts(&mut raw, "s").await, 0);
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn r10_an_oversized_host_line_is_refused_and_the_next_line_is_served() {
    let (_cfg, mut raw) = session().await;
    // Over the default 16 MiB cap, then a ping on the next line.
    let mut line = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""#.to_vec();
    line.resize(17 * 1024 * 1024, b'x');
    line.extend_from_slice(b"\"}}\n");
    raw.send_bytes(&line).await;
    let r = raw.answer().await;
    assert_eq!(error_of(&r), (-32600, Value::Null), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_message_bytes")
    );
    ping_answered(&mut raw, "next").await;
    assert!(raw.close().await.success());
}

#[tokio::test]
async fn error_answers_are_rate_limited_and_never_stop_the_session() {
    let (_cfg, mut raw) = session().await;
    let burst: Vec<u8> = b"not json\n".repeat(200);
    raw.send_bytes(&burst).await;
    raw.send(json!({"jsonrpc": "2.0", "id": "p", "method": "ping"}))
        .await;
    let answers = raw.responses_within(Duration::from_secs(2)).await;
    let errors = answers
        .iter()
        .filter(|r| r["error"]["code"] == -32700)
        .count();
    assert!(answers.iter().any(|r| r["id"] == "p"), "{answers:?}");
    // The burst of 10, plus whatever refilled while the lines were read.
    assert!((10..50).contains(&errors), "{errors} error answers");
    assert!(raw.close().await.success());
}
