//! Drives `mcp-vendor` over real stdio with an rmcp client, the way the router does.

#![allow(dead_code, missing_docs)]

pub mod aimock;
pub mod errors;

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ClientConfig, ProtocolVersion, Tool},
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// The `_meta` key of the error classification.
pub const META_KEY: &str = "mcp-orchestrator/error";

/// A running `mcp-vendor <provider>` with an initialised MCP session.
pub struct Vendor {
    client: Option<RunningService<RoleClient, ClientConfig>>,
    stderr: Arc<Mutex<String>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts `mcp-vendor provider` with only `env` (plus PATH), debug logging and a short HTTP
/// timeout, and initialises a session pinned to 2025-11-25 like the router's.
#[expect(
    clippy::disallowed_methods,
    reason = "a test driver's stderr reader; the shutdown-tree rule is for the servers"
)]
pub async fn start(provider: &str, env: &[(&str, &str)]) -> Vendor {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-vendor"));
    let provider = provider.to_owned();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    cmd = cmd.configure(|c| {
        c.arg(&provider)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "debug")
            .env("MCP_HTTP_TIMEOUT", "1")
            .env("MCP_HTTP_CONNECT_TIMEOUT", "1")
            .envs(env);
    });
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-vendor");
    let buffer = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buffer);
    let mut pipe = stderr.expect("stderr piped");
    let stderr_task = tokio::spawn(async move {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let config =
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE);
    let client = tokio::time::timeout(Duration::from_secs(20), config.serve(transport))
        .await
        .expect("initialize timed out")
        .unwrap_or_else(|e| panic!("initialize failed: {e}; stderr: {}", buffer.lock().unwrap()));
    Vendor {
        client: Some(client),
        stderr: buffer,
        stderr_task: Some(stderr_task),
    }
}

impl Vendor {
    fn client(&self) -> &RunningService<RoleClient, ClientConfig> {
        self.client.as_ref().expect("session open")
    }

    /// The advertised tools.
    pub async fn tools(&self) -> Vec<Tool> {
        self.client().list_all_tools().await.expect("tools/list")
    }

    /// Calls `name` with `args` (a JSON object).
    pub async fn call(&self, name: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        let args = args.as_object().cloned().expect("arguments are an object");
        let call = self
            .client()
            .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args));
        tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("tools/call timed out")
    }

    /// Calls `name` and expects a tool result (success or `isError`).
    pub async fn result(&self, name: &str, args: Value) -> CallToolResult {
        self.call(name, args)
            .await
            .unwrap_or_else(|e| panic!("{name} failed at the protocol level: {e}"))
    }

    /// Closes stdin, waits for the process to exit, and returns everything it wrote to stderr.
    pub async fn finish(mut self) -> String {
        if let Some(mut client) = self.client.take() {
            let _ = client.close_with_timeout(Duration::from_secs(10)).await;
        }
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.stderr.lock().unwrap().clone()
    }
}

/// Borrows an owned environment list for [`start`].
pub fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The result as JSON (what went over the wire).
pub fn json(result: &CallToolResult) -> Value {
    serde_json::to_value(result).expect("serialise result")
}

/// The text of the first content block.
pub fn text(result: &CallToolResult) -> String {
    json(result)["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `_meta` error classification of a failed result.
pub fn classification(result: &CallToolResult) -> Value {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected isError: {}",
        json(result)
    );
    json(result)["_meta"][META_KEY].clone()
}

/// Asserts a successful result whose `structuredContent` is returned.
pub fn structured(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "unexpected tool error: {}",
        json(result)
    );
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

/// Asserts `secret` appears nowhere in `haystack`.
pub fn assert_secret_absent(secret: &str, haystack: &str, what: &str) {
    assert!(
        !haystack.contains(secret),
        "the API key leaked into {what}:\n{haystack}"
    );
}
