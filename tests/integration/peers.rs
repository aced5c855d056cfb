//! End to end with real peers: the official Python `mcp` SDK as the host, and
//! `@modelcontextprotocol/server-everything` (npm) and `mcp-server-time` (PyPI) as children.
//! `scripts/setup-mcp-peers.sh` installs them; the suite's test command runs it first and sets
//! `MCP_REQUIRE_PEERS=1`, so there a missing peer fails instead of skipping.

use std::{path::PathBuf, process::Command, time::Duration};

use serde_json::{Value, json};

use crate::common::*;

fn peers_dir() -> PathBuf {
    std::env::var_os("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache"))
        .join("peers")
}

/// The peers, or `None` (skip) when they are not installed and not required.
fn peers() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let dir = peers_dir();
    let python = dir.join("venv/bin/python");
    let time = dir.join("venv/bin/mcp-server-time");
    let everything = dir.join("npm/node_modules/.bin/mcp-server-everything");
    if python.exists() && time.exists() && everything.exists() {
        return Some((python, time, everything));
    }
    assert!(
        std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
        "MCP peers missing in {}: run scripts/setup-mcp-peers.sh",
        dir.display()
    );
    eprintln!("skipping: MCP peers not installed (run scripts/setup-mcp-peers.sh)");
    None
}

fn peer_config(time: &PathBuf, everything: &PathBuf) -> TempConfig {
    write_config(&json!({
        "mcpServers": {
            "everything": {"command": everything, "args": ["stdio"]},
            "time": {"command": time}
        },
        "orchestrator": {"startup_timeout": 30, "shutdown_grace": 2}
    }))
}

#[test]
fn python_sdk_drives_the_orchestrator_over_real_children() {
    let Some((python, time, everything)) = peers() else {
        return;
    };
    let cfg = peer_config(&time, &everything);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_host.py");
    let out = Command::new(python)
        .arg(script)
        .arg(orchestrator_bin())
        .arg(&cfg.path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python host failed:\n{stdout}\n{stderr}"
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["status"]["servers"]["everything"]["state"], "running");
    assert_eq!(v["status"]["servers"]["time"]["state"], "running");
    let progress = v["progress"].as_array().unwrap();
    assert!(progress.len() >= 4, "{progress:?}");
    eprintln!("python host saw tools ready after {} s", v["tools_ready_s"]);
}

#[tokio::test]
async fn everything_server_through_the_rust_host_and_clean_exit() {
    let Some((_, time, everything)) = peers() else {
        return;
    };
    let cfg = peer_config(&time, &everything);
    let host = Host::start(&cfg.path).await;
    let s = host
        .wait_status(Duration::from_secs(60), |s| {
            state_of(s, "everything") == "running" && state_of(s, "time") == "running"
        })
        .await;
    assert_eq!(state_of(&s, "everything"), "running", "{s}");
    let pids = [
        pid_of(&s, "everything").unwrap(),
        pid_of(&s, "time").unwrap(),
    ];
    let r = host
        .call("everything__get-sum", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert!(r.content[0].as_text().unwrap().text.contains('5'));
    host.close().await;
    for p in pids {
        assert!(!group_alive(p), "group {p} survived");
    }
}
