//! Child faults the router must absorb (reliability-security.md §5: R3, R4, R8, R9; the other R cases
//! live in supervision.rs, reload.rs and chaos.rs).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

fn code_of(e: &rmcp::ServiceError) -> Option<i32> {
    match e {
        rmcp::ServiceError::McpError(e) => Some(e.code.0),
        _ => None,
    }
}

#[tokio::test]
async fn r4_a_child_that_never_initializes_is_cut_off_and_the_rest_serve() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[]), "stuck": fixture(&["--slow-start", "60000"])},
        "orchestrator": {"startup_timeout": 0.5, "max_restarts": 1, "restart_window": 30, "shutdown_grace": 1}
    }));
    let started = Instant::now();
    let host = Host::start(&cfg.path).await;
    let status = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "fx") == "running" && s["servers"]["stuck"]["last_error"].is_string()
        })
        .await;
    let err = status["servers"]["stuck"]["last_error"].as_str().unwrap();
    assert!(err.contains("did not finish `initialize`"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let names = host.tool_names().await;
    assert!(names.contains(&"fx__echo".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("stuck__")), "{names:?}");
    assert!(host.close().await.success());
}

#[tokio::test]
async fn r8_a_stderr_flood_neither_blocks_calls_nor_grows_memory() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let pid = host.process.id().unwrap();
    let before = vm_hwm_kib(pid);
    let flood = host.call("fx__stderr_flood", json!({"bytes": 24 << 20}));
    let r = tokio::time::timeout(Duration::from_secs(60), flood)
        .await
        .expect("the flood call ends")
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    for i in 0..20 {
        let r = host.call("fx__echo", json!({"message": i})).await.unwrap();
        assert_ne!(r.is_error, Some(true));
    }
    let grown = vm_hwm_kib(pid).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "peak RSS grew {grown} KiB during a 24 MiB stderr flood"
    );
    let status = host.status().await;
    assert_eq!(status["servers"]["fx"]["restarts"], 0);
    assert!(host.close().await.success());
}

#[tokio::test]
async fn r9_an_oversized_child_answer_fails_fast_and_the_child_keeps_serving() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[])},
        "orchestrator": {"default_timeout": 30, "max_message_bytes": 1048576, "shutdown_grace": 1}
    }));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let pid = host.process.id().unwrap();
    let before = vm_hwm_kib(pid);
    let sent = Instant::now();
    let err = host
        .call("fx__huge", json!({"bytes": 3 << 20}))
        .await
        .expect_err("over the cap");
    let took = sent.elapsed();
    assert_eq!(code_of(&err), Some(-32012), "{err}");
    assert!(err.to_string().contains("max_message_bytes"), "{err}");
    assert!(
        took < Duration::from_secs(2),
        "took {took:?}, the timeout is 30 s"
    );
    // Under the cap passes; the child was never restarted.
    let r = host
        .call("fx__huge", json!({"bytes": 512 << 10}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let grown = vm_hwm_kib(pid).saturating_sub(before);
    assert!(grown < 2 * 1024 + 4096, "peak RSS grew {grown} KiB");
    assert_eq!(host.status().await["servers"]["fx"]["restarts"], 0);
    assert!(host.close().await.success());
}

/// CPU time (user + system) the process has used so far, in clock ticks of 10 ms (Linux /proc).
fn cpu_ticks(pid: u32) -> u64 {
    let fields = proc_stat(pid).expect("process alive").fields;
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn r3_a_child_that_exits_at_start_ends_failed_costing_no_cpu_and_calls_fail_fast() {
    let cfg = write_config(&json!({
        "servers": {"fx": fixture(&[]), "dead": fixture(&["--exit-at-start", "1"])},
        "orchestrator": {"max_restarts": 3, "restart_window": 30, "startup_timeout": 10, "shutdown_grace": 1}
    }));
    let host = Host::start(&cfg.path).await;
    let status = host
        .wait_status(Duration::from_secs(20), |s| {
            state_of(s, "dead") == "failed" && state_of(s, "fx") == "running"
        })
        .await;
    assert_eq!(state_of(&status, "dead"), "failed", "{status}");
    let pid = host.process.id().unwrap();
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks(pid) - before;
    assert!(
        used <= 10,
        "{used} ticks of CPU in 1 s while a child is failed"
    );
    let sent = Instant::now();
    let err = host.call("dead__echo", json!({})).await.expect_err("down");
    assert!(
        sent.elapsed() < Duration::from_millis(500),
        "{:?}",
        sent.elapsed()
    );
    assert!(err.to_string().contains("failed"), "{err}");
    let r = host
        .call("fx__echo", json!({"message": "hi"}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    assert!(host.close().await.success());
}
