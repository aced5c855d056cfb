//! The wire toward the host: raw JSON-RPC lines, nothing else on stdout.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::*;

struct Raw {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Raw {
    async fn start(config: &std::path::Path) -> Self {
        let mut child = tokio::process::Command::new(orchestrator_bin())
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    async fn send(&mut self, v: Value) {
        self.stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next line on stdout, which must be one JSON-RPC message.
    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), self.lines.next_line())
            .await
            .expect("an answer within 5 s")
            .unwrap()
            .expect("stdout open");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?}: {e}"));
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        v
    }

    /// The response with this id, skipping notifications.
    async fn response(&mut self, id: &Value) -> Value {
        loop {
            let v = self.recv().await;
            if v.get("id") == Some(id) {
                return v;
            }
            assert!(v.get("method").is_some(), "unexpected message {v}");
        }
    }
}

#[tokio::test]
async fn discover_probe_and_unknown_methods_get_method_not_found() {
    let cfg =
        write_config(&json!({"servers": {"fx": fixture(&[])}, "orchestrator": fast_settings()}));
    let mut raw = Raw::start(&cfg.path).await;
    // What the Python SDK and Inspector send first (string id, modern _meta).
    raw.send(json!({"jsonrpc": "2.0", "id": "server-discover-probe-1", "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}}}})).await;
    let r = raw.response(&json!("server-discover-probe-1")).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");

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

    drop(raw.stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), raw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
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
