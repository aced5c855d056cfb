//! Chaos soak (issue #6, reliability-security.md T1–T3): thousands of calls across several
//! children while children are SIGKILLed at random. Every call gets exactly one response (a
//! result or a clear error) within a bound, nothing hangs, memory stays bounded, and nothing is
//! left running afterwards.
//!
//! The short form runs in `cargo test`; the long form is
//! `MCP_SOAK_CALLS=100000 cargo test --release --test integration chaos -- --nocapture`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{common::*, raw::Raw};

const CHILDREN: [&str; 4] = ["a", "b", "c", "d"];

/// Pids of the orchestrator's child processes that are fixtures (not the reaper companion).
fn fixture_children(parent: u32) -> Vec<u32> {
    live_pids()
        .filter(|&pid| {
            proc_stat(pid).is_some_and(|s| {
                s.fields.get(1) == Some(&parent.to_string()) && s.comm.contains("fixture")
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_every_call_gets_exactly_one_answer_while_children_are_killed() {
    let calls: u64 = std::env::var("MCP_SOAK_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let window = 48;
    let servers: serde_json::Map<String, Value> = CHILDREN
        .iter()
        .map(|id| ((*id).to_owned(), fixture(&[])))
        .collect();
    let cfg = write_config(&json!({
        "servers": servers,
        "orchestrator": {
            "default_timeout": 5, "health_check_interval": 30, "startup_timeout": 10,
            "max_restarts": 1000, "restart_window": 1, "shutdown_grace": 1, "max_in_flight": 32
        }
    }));
    let mut raw = Raw::start(&cfg.path).await;
    raw.initialize().await;
    let orch = raw.child.id().unwrap();
    // Wait until all four children are up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fixture_children(orch).len() < CHILDREN.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hwm_before = vm_hwm_kib(orch);

    // The killer: a SIGKILL to a random fixture child every 100–300 ms.
    let stop = tokio_util::sync::CancellationToken::new();
    let killer = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut kills = 0u32;
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            loop {
                let pause = Duration::from_millis(100 + next() % 200);
                tokio::select! {
                    () = stop.cancelled() => return kills,
                    () = tokio::time::sleep(pause) => {}
                }
                let pids = fixture_children(orch);
                if let Some(&pid) = pids.get((next() % pids.len().max(1) as u64) as usize) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    kills += 1;
                }
            }
        }
    });

    let started = Instant::now();
    let mut outstanding: HashMap<u64, Instant> = HashMap::new();
    let mut answered: HashMap<u64, u32> = HashMap::new();
    let (mut ok, mut errors) = (0u64, HashMap::<i64, u64>::new());
    let mut slowest = Duration::ZERO;
    let mut sent = 0u64;
    while sent < calls || !outstanding.is_empty() {
        if sent < calls && outstanding.len() < window {
            let server = CHILDREN[(sent % 4) as usize];
            let (tool, args) = if sent.is_multiple_of(10) {
                ("slow", json!({"ms": 20}))
            } else {
                ("echo", json!({"message": sent}))
            };
            raw.send(json!({"jsonrpc": "2.0", "id": sent, "method": "tools/call",
                "params": {"name": format!("{server}__{tool}"), "arguments": args}}))
                .await;
            outstanding.insert(sent, Instant::now());
            sent += 1;
            continue;
        }
        let Some(msg) = raw.recv_within(Duration::from_secs(20)).await else {
            panic!(
                "no answer for 20 s; {} calls outstanding, e.g. {:?}",
                outstanding.len(),
                outstanding.keys().take(5).collect::<Vec<_>>()
            );
        };
        if msg.get("method").is_some() {
            continue; // list_changed and friends
        }
        let id = msg["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("answer without our id: {msg}"));
        *answered.entry(id).or_default() += 1;
        let at = outstanding
            .remove(&id)
            .unwrap_or_else(|| panic!("a second or unknown answer for id {id}: {msg}"));
        slowest = slowest.max(at.elapsed());
        if msg.get("result").is_some() {
            ok += 1;
        } else {
            let code = msg["error"]["code"].as_i64().unwrap_or(0);
            let text = msg["error"]["message"].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "an error must say what happened: {msg}");
            *errors.entry(code).or_default() += 1;
        }
    }
    stop.cancel();
    let kills = killer.await.unwrap();
    let elapsed = started.elapsed();
    let hwm_after = vm_hwm_kib(orch);
    eprintln!(
        "soak: {calls} calls in {elapsed:?}, {kills} kills, {ok} ok, errors by code {errors:?}, \
         slowest answer {slowest:?}, peak RSS {hwm_before} → {hwm_after} KiB"
    );
    assert_eq!(answered.len() as u64, calls);
    assert!(answered.values().all(|&n| n == 1));
    assert!(kills > 0, "the killer never fired");
    assert!(ok > calls / 2, "most calls should succeed: {ok} of {calls}");
    assert!(
        slowest < Duration::from_secs(16),
        "slowest answer {slowest:?}"
    );
    assert!(
        hwm_after.saturating_sub(hwm_before) < 32 * 1024,
        "peak RSS grew {} KiB",
        hwm_after.saturating_sub(hwm_before)
    );
    // Still healthy after the storm, and a clean exit leaves no child behind.
    raw.send(json!({"jsonrpc": "2.0", "id": "after", "method": "ping"}))
        .await;
    assert_eq!(raw.response(&json!("after")).await["result"], json!({}));
    assert!(raw.close().await.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fixture_children(orch).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fixture_children(orch).is_empty());
}
