//! A host that speaks raw JSON-RPC lines to `serve`, for tests of the wire itself. Every line
//! it reads back must be one JSON-RPC 2.0 message (stdout purity is checked on every read).

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::{capture_stderr, serve_command};

pub struct Raw {
    pub child: tokio::process::Child,
    pub stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Raw {
    pub async fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[]).await
    }

    pub async fn start_with_env(config: &Path, env: &[(&str, String)]) -> Self {
        let mut child = serve_command(config, env).spawn().unwrap();
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = capture_stderr(&mut child);
        Self {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_bytes(format!("{v}\n").as_bytes()).await;
    }

    /// Writes bytes as they are (the caller adds the newline).
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Sends `initialize` and `notifications/initialized`.
    pub async fn initialize(&mut self) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
            .await;
        let r = self.response(&json!("init")).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r
    }

    /// The next line on stdout, which must be one JSON-RPC message.
    pub async fn recv(&mut self) -> Value {
        self.recv_within(Duration::from_secs(5))
            .await
            .expect("an answer within the limit")
    }

    /// The next line within `limit`, or `None` if stdout stays quiet that long.
    pub async fn recv_within(&mut self, limit: Duration) -> Option<Value> {
        let line = tokio::time::timeout(limit, self.lines.next_line())
            .await
            .ok()?
            .unwrap()
            .expect("stdout open");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?}: {e}"));
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        assert!(
            v.get("method").is_some() || v.get("id").is_some(),
            "not a JSON-RPC message: {v}"
        );
        Some(v)
    }

    /// The next response or error, skipping notifications.
    pub async fn answer(&mut self) -> Value {
        loop {
            let v = self.recv().await;
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    /// The response with this id, skipping notifications.
    pub async fn response(&mut self, id: &Value) -> Value {
        loop {
            let v = self.recv().await;
            if v.get("id") == Some(id) {
                return v;
            }
            assert!(v.get("method").is_some(), "unexpected message {v}");
        }
    }

    /// Every response (not notification) arriving within `limit`.
    pub async fn responses_within(&mut self, limit: Duration) -> Vec<Value> {
        let end = tokio::time::Instant::now() + limit;
        let mut out = Vec::new();
        while let Some(v) = self
            .recv_within(end.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if v.get("method").is_none() {
                out.push(v);
            }
        }
        out
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes stdin and waits for a clean exit.
    pub async fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exit within 10 s after stdin closes")
            .unwrap()
    }
}
