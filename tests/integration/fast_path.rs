//! The forwarding fast path against the typed path, through `serve` on stdio with raw JSON-RPC
//! lines (a host that sends no `_meta`, as hosts that ask for no progress do): the same answers,
//! and timeouts, cancellation, `max_in_flight`, a crash mid-call, metrics and the audit line
//! all still hold. Each scenario runs twice, with the fast path on and with
//! `MCP_ORCHESTRATOR_FAST_PATH=off`, and the two are compared.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{common::*, raw::Raw};

fn config() -> TempConfig {
    write_config(&json!({
        "servers": {
            // The fast path forwards handshake-era calls: a stateless child takes the typed path.
            "fx": {"command": fixture_bin(), "args": ["--echo-meta"], "protocol": "legacy"},
            "slowfx": {"command": fixture_bin(), "args": ["--echo-meta"], "timeout": 1, "protocol": "legacy"},
        },
        "orchestrator": fast_settings(),
    }))
}

async fn start(cfg: &TempConfig, fast: bool) -> Raw {
    let env = [(
        "MCP_ORCHESTRATOR_FAST_PATH",
        if fast { "on" } else { "off" }.to_owned(),
    )];
    let mut raw = Raw::start_with_env(&cfg.path, &env).await;
    raw.initialize().await;
    // The first list waits for the children: after it, every call is routable.
    raw.send(json!({"jsonrpc": "2.0", "id": "l", "method": "tools/list"}))
        .await;
    raw.response(&json!("l")).await;
    raw
}

async fn call(raw: &mut Raw, id: Value, name: &str, args: Value) -> Value {
    raw.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                    "params": {"name": name, "arguments": args}}))
        .await;
    raw.response(&id).await
}

/// Everything but what differs by path: the child sees a progress token only from the typed
/// path (rmcp adds one to every request).
fn normalized(mut v: Value) -> Value {
    if let Some(meta) = v
        .pointer_mut("/result/structuredContent/meta")
        .and_then(Value::as_object_mut)
    {
        meta.remove("progressToken");
    }
    v
}

#[tokio::test]
async fn fast_and_typed_paths_answer_alike() {
    let cfg = config();
    let mut answers = Vec::new();
    for fast in [true, false] {
        let mut raw = start(&cfg, fast).await;
        let echo = call(
            &mut raw,
            json!(1),
            "fx__echo",
            json!({"message": "héllo \"q\""}),
        )
        .await;
        let meta = echo["result"]["structuredContent"]["meta"].clone();
        assert_eq!(
            meta.get("progressToken").is_none(),
            fast,
            "the fast path took the call iff it is on: {meta}"
        );
        let batch =
            vec![
            echo,
            call(&mut raw, json!("s-2"), "fx__add", json!({"a": 2, "b": 3})).await,
            call(&mut raw, json!(3), "fx__fail", json!({"message": "card declined"})).await,
            // Not a child's tool, an unknown one, and a bad argument type: the typed path's.
            call(&mut raw, json!(4), "orchestrator_status", json!({})).await["result"]["isError"]
                .clone(),
            call(&mut raw, json!(5), "fx__nope", json!({})).await,
            // Past the server's timeout (1 s): the same timeout error, the child told.
            call(&mut raw, json!(6), "slowfx__slow", json!({"ms": 3000, "steps": 1})).await,
        ];
        answers.push(batch.into_iter().map(normalized).collect::<Vec<_>>());
        // Metrics count fast-path calls like the others.
        let status = call(&mut raw, json!(7), "orchestrator_status", json!({})).await;
        let fx = &status["result"]["structuredContent"]["servers"]["fx"]["metrics"];
        assert_eq!(fx["calls"], 3, "{fx}");
        assert_eq!(fx["errors"], 1, "{fx}");
        let slow = &status["result"]["structuredContent"]["servers"]["slowfx"]["metrics"];
        assert_eq!(slow["errors"], 1, "{slow}");
        assert!(
            slow["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("did not answer"),
            "{slow}"
        );
        let stderr = raw.stderr();
        raw.close().await;
        let audit = stderr
            .lines()
            .filter(|l| l.contains("mcp_orchestrator::audit") && l.contains("server=fx"))
            .count();
        assert!(audit >= 3, "an audit line per call: {stderr}");
    }
    assert_eq!(
        answers[0], answers[1],
        "fast (left) and typed (right) differ"
    );
    assert_eq!(answers[0][2]["result"]["isError"], true);
    let timeout = &answers[0][5]["error"];
    assert!(
        timeout["message"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{timeout}"
    );
}

#[tokio::test]
async fn a_cancelled_fast_call_is_not_answered_and_the_child_hears_of_it() {
    let cfg = config();
    let mut raw = start(&cfg, true).await;
    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "fx__hang", "arguments": {}}}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    raw.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 1, "reason": "user"}}),
    )
    .await;
    assert!(
        raw.responses_within(Duration::from_millis(800))
            .await
            .is_empty(),
        "a cancelled request gets no answer"
    );
    // The id is free again, and the connection serves on.
    let again = call(&mut raw, json!(1), "fx__echo", json!({"message": "x"})).await;
    assert_eq!(again["result"]["content"][0]["text"], "echo: x");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !raw.stderr().contains("hang was cancelled") {
        assert!(tokio::time::Instant::now() < deadline, "{}", raw.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    raw.close().await;
}

#[tokio::test]
async fn max_in_flight_and_a_crash_mid_call_hold_on_the_fast_path() {
    let mut settings = fast_settings();
    settings["max_in_flight"] = json!(1);
    let cfg = write_config(&json!({
        "servers": {"one": fixture(&[]), "fx": fixture(&[])},
        "orchestrator": settings,
    }));
    for fast in [true, false] {
        let mut raw = start(&cfg, fast).await;
        // One slot: a second call while the first runs is refused at once.
        raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "one__slow", "arguments": {"ms": 800, "steps": 1}}}))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let refused = call(&mut raw, json!(2), "one__echo", json!({"message": "x"})).await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("max_in_flight"),
            "fast={fast}: {refused}"
        );
        let first = raw.response(&json!(1)).await;
        assert_eq!(first["result"]["content"][0]["text"], "slept 800 ms");
        // A child that dies mid-call: an error at once, never a hang.
        let started = tokio::time::Instant::now();
        let crashed = call(&mut raw, json!(3), "fx__crash", json!({})).await;
        assert!(crashed.get("error").is_some(), "fast={fast}: {crashed}");
        assert!(started.elapsed() < Duration::from_secs(4), "{crashed}");
        raw.close().await;
    }
}

#[tokio::test]
async fn progress_reaches_the_host_under_its_token_on_both_paths() {
    let cfg = config();
    for fast in [true, false] {
        let mut raw = start(&cfg, fast).await;
        raw.send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                        "params": {"name": "fx__slow", "arguments": {"ms": 300, "steps": 3},
                                   "_meta": {"progressToken": "tok"}}}))
            .await;
        let mut progress = Vec::new();
        let answer = loop {
            let v = raw.recv().await;
            if v["method"] == "notifications/progress" {
                assert_eq!(v["params"]["progressToken"], "tok", "fast={fast}: {v}");
                progress.push(v["params"]["progress"].as_f64().unwrap());
            } else if v["id"] == 9 {
                break v;
            }
        };
        assert_eq!(
            progress,
            [1.0, 2.0, 3.0],
            "fast={fast}: every step, in order, before the answer"
        );
        assert_eq!(answer["result"]["content"][0]["text"], "slept 300 ms");
        raw.close().await;
    }
}

#[tokio::test]
async fn a_host_using_every_slot_is_never_refused() {
    // As many callers as `max_in_flight`, each sending its next call the moment its answer
    // arrives: the slot must be free by then, on both paths.
    let mut settings = fast_settings();
    settings["max_in_flight"] = json!(2);
    let cfg = write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": settings}));
    for fast in [true, false] {
        let mut raw = start(&cfg, fast).await;
        for round in 0..150 {
            for k in 0..2 {
                raw.send(
                    json!({"jsonrpc": "2.0", "id": round * 2 + k, "method": "tools/call",
                                "params": {"name": "fx__echo", "arguments": {"message": "x"}}}),
                )
                .await;
            }
            for _ in 0..2 {
                let a = raw.answer().await;
                assert!(a.get("error").is_none(), "fast={fast}, round {round}: {a}");
            }
        }
        raw.close().await;
    }
}
