//! Hot reload, the control socket, metrics and the audit log.

use std::{
    os::unix::fs::PermissionsExt,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::common::*;

fn write(cfg: &TempConfig, v: &Value) {
    // As editors do: write a temporary file, then rename it over the config.
    let tmp = cfg.dir.path().join(".mcp_servers.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    std::fs::rename(&tmp, &cfg.path).unwrap();
}

fn reloads(host: &Host) -> usize {
    host.stderr().matches("config reloaded").count()
}

async fn wait_reloads(host: &Host, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while reloads(host) < n {
        assert!(
            Instant::now() < deadline,
            "no reload seen:\n{}",
            host.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The surface task announces after the reload's hold is released.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn add_remove_change_and_invalid_edits() {
    let base = json!({
        "servers": {"keep": fixture(&[]), "drop": fixture(&[]), "edit": fixture(&[])},
        "orchestrator": fast_settings()
    });
    let cfg = write_config(&base);
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            ["keep", "drop", "edit"]
                .iter()
                .all(|id| state_of(s, id) == "running")
        })
        .await;
    let keep_pid = pid_of(&s, "keep").unwrap();
    let edit_pid = pid_of(&s, "edit").unwrap();
    let drop_pid = pid_of(&s, "drop").unwrap();
    let changed_before = host.settled_list_changed().await;

    let mut next = base.clone();
    next["servers"].as_object_mut().unwrap().remove("drop");
    next["servers"]["edit"] = fixture(&["--tool", "edited_tool"]);
    next["servers"]["added"] = fixture(&[]);
    let saved = Instant::now();
    write(&cfg, &next);
    // Time from the save to the new tools being listed.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let names = host.tool_names().await;
        if names.contains(&"edit__edited_tool".to_owned())
            && names.contains(&"added__echo".to_owned())
        {
            eprintln!("save → new tools listed: {:?}", saved.elapsed());
            assert!(!names.iter().any(|n| n.starts_with("drop__")), "{names:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new tools never listed: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_reloads(&host, 1).await;
    let s = host.status().await;
    assert_eq!(
        pid_of(&s, "keep"),
        Some(keep_pid),
        "untouched server keeps its process"
    );
    assert_ne!(
        pid_of(&s, "edit"),
        Some(edit_pid),
        "changed server restarted"
    );
    assert!(s["servers"].get("drop").is_none());
    assert!(!group_alive(drop_pid), "removed server stopped");
    assert_eq!(state_of(&s, "added"), "running");
    assert_eq!(
        host.settled_list_changed().await - changed_before,
        1,
        "one list_changed for the whole reload"
    );

    // An invalid edit changes nothing that runs, and status says why.
    let mut broken = next.clone();
    broken["servers"]["keep"]["comand"] = json!("oops");
    write(&cfg, &broken);
    let s = host
        .wait_status(Duration::from_secs(10), |s| s["config_error"].is_string())
        .await;
    let err = s["config_error"].as_str().unwrap();
    assert!(
        err.contains("servers.keep") && err.contains("comand"),
        "{err}"
    );
    assert_eq!(pid_of(&s, "keep"), Some(keep_pid));
    assert_eq!(state_of(&s, "added"), "running");
    // Fixing it clears the error.
    write(&cfg, &next);
    let s = host
        .wait_status(Duration::from_secs(10), |s| s["config_error"].is_null())
        .await;
    assert!(s["config_error"].is_null(), "{s}");
    assert_eq!(pid_of(&s, "keep"), Some(keep_pid));
    host.close().await;
}

#[tokio::test]
async fn rapid_writes_are_one_reload() {
    let base = json!({"servers": {"a": fixture(&[])}, "orchestrator": fast_settings()});
    let cfg = write_config(&base);
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "a") == "running")
        .await;
    for i in 0..6 {
        let mut v = base.clone();
        v["servers"]["b"] = fixture(&["--tool", &format!("t{i}")]);
        std::fs::write(&cfg.path, serde_json::to_vec(&v).unwrap()).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_reloads(&host, 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(reloads(&host), 1, "{}", host.stderr());
    assert!(
        host.tool_names().await.contains(&"b__t5".to_owned()),
        "the last write won"
    );
    host.close().await;
}

#[tokio::test]
async fn reload_during_a_stream_of_calls_loses_none() {
    let base =
        json!({"servers": {"a": fixture(&[]), "b": fixture(&[])}, "orchestrator": fast_settings()});
    let cfg = write_config(&base);
    let host = std::sync::Arc::new(Host::start(&cfg.path).await);
    host.wait_status(Duration::from_secs(10), |s| {
        state_of(s, "a") == "running" && state_of(s, "b") == "running"
    })
    .await;
    let caller = {
        let host = host.clone();
        tokio::spawn(async move {
            let mut results = Vec::new();
            for i in 0..150 {
                let target = if i % 2 == 0 { "a__slow" } else { "b__echo" };
                let r = host
                    .call(target, json!({"ms": 20, "steps": 1, "message": "x"}))
                    .await;
                results.push(r.map(|r| r.is_error != Some(true)));
            }
            results
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Change `a` (restart with drain) and add `c` while calls stream to both.
    let mut next = base.clone();
    next["servers"]["a"] = fixture(&["--tool", "v2"]);
    next["servers"]["c"] = fixture(&[]);
    write(&cfg, &next);
    let results = caller.await.unwrap();
    assert_eq!(results.len(), 150);
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| !matches!(r, Ok(true)))
        .collect();
    assert!(
        failed.is_empty(),
        "calls lost or failed during reload: {failed:?}"
    );
    wait_reloads(&host, 1).await;
    let host = std::sync::Arc::into_inner(host).unwrap();
    host.close().await;
}

#[tokio::test]
async fn control_socket_status_restart_reload_and_permissions() {
    let base = json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()});
    let cfg = write_config(&base);
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let pid = pid_of(&s, "fx").unwrap();

    // Status through the socket reports the host's instance (same pid), not a new one.
    let (code, out, err) = cli(&cfg.path, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pid_of(&v, "fx"), Some(pid));

    let sock_dir = cfg.dir.path().join("mcp-orchestrator");
    let sock = std::fs::read_dir(&sock_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&sock_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );

    // A call through the socket counts in the instance's metrics.
    let (code, out, _) = cli(
        &cfg.path,
        &["call", "fx__echo", "--args", r#"{"message":"via socket"}"#],
    );
    assert_eq!((code, out.trim()), (0, "echo: via socket"));

    // The admin tools are not offered to the host.
    assert!(
        !host
            .tool_names()
            .await
            .iter()
            .any(|n| n == "orchestrator_restart")
    );

    let (code, out, err) = cli(&cfg.path, &["restart", "fx"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("fx: running"), "{out}");
    let s = host.status().await;
    assert_ne!(pid_of(&s, "fx"), Some(pid));
    assert!(!group_alive(pid));

    let mut next = base.clone();
    next["servers"]["extra"] = fixture(&[]);
    std::fs::write(&cfg.path, serde_json::to_vec(&next).unwrap()).unwrap();
    let (code, out, err) = cli(&cfg.path, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reloaded"), "{out}");
    let s = host
        .wait_status(Duration::from_secs(10), |s| {
            state_of(s, "extra") == "running"
        })
        .await;
    assert_eq!(state_of(&s, "extra"), "running");

    let (code, _, err) = cli(&cfg.path, &["restart", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("nope"), "{err}");

    host.close().await;
    assert!(!sock.exists(), "socket removed on shutdown");
    let (code, _, err) = cli(&cfg.path, &["reload"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs a running"), "{err}");
}

#[tokio::test]
async fn a_stale_socket_is_cleaned_up() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    // A socket file nobody listens on, as a SIGKILLed instance leaves behind.
    let first = Host::start(&cfg.path).await;
    first
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let sock_dir = cfg.dir.path().join("mcp-orchestrator");
    let sock = std::fs::read_dir(&sock_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pid = first.process.id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sock.exists(), "SIGKILL leaves the socket file");
    // With a stale socket, status starts its own servers rather than failing.
    let (code, out, err) = cli(&cfg.path, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        state_of(&serde_json::from_str(&out).unwrap(), "fx"),
        "running"
    );
    // A new instance takes the socket over.
    let second = Host::start(&cfg.path).await;
    second
        .wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    let (code, out, _) = cli(&cfg.path, &["status", "--json"]);
    assert_eq!(code, 0);
    let second_pid = pid_of(&second.status().await, "fx");
    assert_eq!(
        pid_of(&serde_json::from_str(&out).unwrap(), "fx"),
        second_pid
    );
    second.close().await;
}

#[tokio::test]
async fn sighup_reloads() {
    let base = json!({"servers": {"a": fixture(&[])}, "orchestrator": fast_settings()});
    let cfg = write_config(&base);
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "a") == "running")
        .await;
    let mut next = base.clone();
    next["servers"]["b"] = fixture(&[]);
    // Written without a rename and with the watcher busy: SIGHUP must do it alone too.
    std::fs::write(&cfg.path, serde_json::to_vec(&next).unwrap()).unwrap();
    let pid = host.process.id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let s = host
        .wait_status(Duration::from_secs(10), |s| state_of(s, "b") == "running")
        .await;
    assert_eq!(state_of(&s, "b"), "running");
    host.close().await;
}

#[tokio::test]
async fn metrics_count_calls_and_errors_and_audit_lines_hold_no_arguments() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let host = Host::start(&cfg.path).await;
    host.wait_status(Duration::from_secs(10), |s| state_of(s, "fx") == "running")
        .await;
    for _ in 0..20 {
        host.call("fx__echo", json!({"message": "secret-argument-value"}))
            .await
            .unwrap();
    }
    for _ in 0..5 {
        host.call("fx__fail", json!({"message": "bad"}))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        host.call("fx__slow", json!({"ms": 30, "steps": 1}))
            .await
            .unwrap();
    }
    let s = host.status().await;
    let m = &s["servers"]["fx"]["metrics"];
    assert_eq!(m["calls"], 28, "{m}");
    assert_eq!(m["errors"], 5, "{m}");
    assert_eq!(m["last_error"], "bad");
    let lat = &m["latency_us"];
    assert!(
        lat["p50"].as_u64().unwrap() < 30_000,
        "most calls are fast: {lat}"
    );
    assert!(
        lat["p99"].as_u64().unwrap() >= 30_000,
        "the slow ones show at p99: {lat}"
    );
    assert!(m["overhead_us"]["p50"].as_u64().unwrap() < lat["p50"].as_u64().unwrap());
    // `serve` writes its log in batches, at least every 100 ms.
    let log = host
        .stderr_when(Duration::from_secs(3), |log| {
            log.matches("mcp_orchestrator::audit").count() >= 28
        })
        .await;
    assert!(
        log.matches("mcp_orchestrator::audit").count() >= 28,
        "{log}"
    );
    assert!(log.contains("server=fx name=echo outcome=\"ok\""), "{log}");
    assert!(
        !log.contains("secret-argument-value"),
        "arguments never logged"
    );
    host.close().await;
}
