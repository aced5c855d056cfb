//! The wire toward the host: raw JSON-RPC lines, nothing else on stdout.

use crate::{common::*, raw::Raw};
use serde_json::json;

#[tokio::test]
async fn discover_answers_both_eras_and_unknown_methods_get_method_not_found() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut raw = Raw::start(&cfg.path).await;
    // What the Python SDK and Inspector send first (string id, modern _meta).
    raw.send(json!({"jsonrpc": "2.0", "id": "server-discover-probe-1", "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}}}})).await;
    let r = raw.response(&json!("server-discover-probe-1")).await;
    let versions = r["result"]["supportedVersions"].as_array().expect("{r}");
    assert!(versions.contains(&json!("2026-07-28")), "{r}");
    assert!(versions.contains(&json!("2025-11-25")), "{r}");
    assert_eq!(
        r["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-orchestrator"
    );
    // A dual-era host may still choose the handshake after probing.

    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})).await;
    let r = raw.response(&json!(1)).await;
    assert_eq!(r["result"]["protocolVersion"], "2025-11-25", "{r}");
    assert_eq!(r["result"]["serverInfo"]["name"], "mcp-orchestrator");
    assert!(
        r["result"]["capabilities"]["tools"]["listChanged"]
            .as_bool()
            .unwrap()
    );
    raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;

    raw.send(json!({"jsonrpc": "2.0", "id": "x-7", "method": "no/such/method", "params": {}}))
        .await;
    let r = raw.response(&json!("x-7")).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");

    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "nobody__nothing"}})).await;
    let r = raw.response(&json!(2)).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");

    raw.send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        .await;
    let r = raw.response(&json!(3)).await;
    assert_eq!(r["result"], json!({}), "{r}");

    assert!(raw.close().await.success());
}

#[tokio::test]
async fn older_protocol_versions_are_echoed() {
    let cfg = write_config(&json!({"servers": {}}));
    let mut raw = Raw::start(&cfg.path).await;
    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})).await;
    let r = raw.response(&json!(1)).await;
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18", "{r}");
}

/// Node and Electron hosts hand a stdio server Unix socket pairs, not pipes.
#[tokio::test]
async fn a_host_on_socket_pairs_is_served() {
    use std::io::{BufRead, BufReader, Write};
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let (ours_in, theirs_in) = std::os::unix::net::UnixStream::pair().unwrap();
    let (ours_out, theirs_out) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut child = std::process::Command::new(orchestrator_bin())
        .args(["--config", cfg.path.to_str().unwrap(), "serve"])
        .env("XDG_RUNTIME_DIR", cfg.dir.path())
        .env("XDG_STATE_HOME", cfg.dir.path().join("state"))
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs_in,
        )))
        .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs_out,
        )))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answers = tokio::task::spawn_blocking(move || {
        let mut write = ours_in;
        let mut read = BufReader::new(ours_out);
        read.get_ref()
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut ask = |line: serde_json::Value| {
            writeln!(write, "{line}").unwrap();
            loop {
                let mut answer = String::new();
                read.read_line(&mut answer).unwrap();
                let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
                if v.get("id") == line.get("id") {
                    return v;
                }
            }
        };
        let init = ask(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "sock", "version": "0"}}}));
        let ping = ask(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}));
        writeln!(write, "not json").unwrap();
        let bad = loop {
            let mut answer = String::new();
            read.read_line(&mut answer).unwrap();
            if !answer.contains("\"method\"") {
                break answer;
            }
        };
        drop(write);
        (init, ping, bad)
    })
    .await
    .unwrap();
    assert_eq!(
        answers.0["result"]["serverInfo"]["name"],
        "mcp-orchestrator"
    );
    assert_eq!(answers.1["result"], json!({}));
    assert!(answers.2.contains("-32700"), "{}", answers.2);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}
