//! Both protocol eras, both ways: a stateless (2026-07-28) host, an rmcp client in the
//! `server/discover` lifecycle, driving the orchestrator over stdio, with one child in each era
//! (the conformance scenario server, modern by default, legacy-only with `--legacy`). The
//! handshake-era host's cells run with the official Python SDK (`tests/peers/python_eras.py`).
//!
//! - modern host, modern child: the child's `InputRequiredResult` reaches the host, whose retry
//!   (with `inputResponses` and the echoed `requestState`) reaches the child;
//! - modern host, legacy child: the child's `elicitation/create` mid-call becomes an
//!   `InputRequiredResult` to the host, and the host's retry answers the child's waiting request.

#![expect(
    deprecated,
    reason = "sampling and roots are deprecated by SEP-2577 but hosts still answer them"
)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use rmcp::{
    ClientHandler, ErrorData, RoleClient,
    model::{
        CallToolRequestParams, CancelTaskParams, ClientCapabilities, ClientConfig, ClientRequest,
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        GetTaskParams, ListRootsResult, ProtocolVersion, Request, ServerResult,
    },
    service::{ClientLifecycleMode, ClientServiceExt as _, RequestContext, RunningService},
    transport::{StreamableHttpClientTransport, async_rw::AsyncRwTransport},
};
use serde_json::{Value, json};

use crate::common::*;

/// The conformance scenario server, built once per run.
pub fn conformance_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let target = orchestrator_bin().parent().expect("target dir").to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "mcp-conformance-server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the conformance server");
        assert!(status.success(), "building mcp-conformance-server failed");
        target.join("mcp-conformance-server")
    })
    .clone()
}

/// One child in each era.
pub fn mixed_config() -> TempConfig {
    write_config(&json!({
        "servers": {
            "modern": {"command": conformance_bin()},
            "legacy": {"command": conformance_bin(), "args": ["--legacy"]},
        },
        "orchestrator": fast_settings(),
    }))
}

/// A stateless host that answers every input request: elicitation with a name (and the fields
/// the legacy scenario asks for), sampling with a fixed text, roots with one root.
#[derive(Clone, Default)]
struct ModernHost;

impl ClientHandler for ModernHost {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .enable_roots()
            .enable_tasks()
            .build();
        ClientConfig::new(
            capabilities,
            rmcp::model::Implementation::new("modern-host", "0"),
        )
    }

    async fn create_elicitation(
        &self,
        _req: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Ok(serde_json::from_value(json!({
            "action": "accept",
            "content": {"name": "Alice", "username": "alice", "email": "alice@example.com"}
        }))
        .expect("an elicit result"))
    }

    async fn create_message(
        &self,
        _req: CreateMessageRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        Ok(serde_json::from_value(json!({
            "role": "assistant",
            "content": {"type": "text", "text": "sampled by the host"},
            "model": "test-model"
        }))
        .expect("a sampling result"))
    }

    async fn list_roots(
        &self,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(
            serde_json::from_value(json!({"roots": [{"uri": "file:///work", "name": "work"}]}))
                .expect("a roots result"),
        )
    }
}

struct Modern {
    client: RunningService<RoleClient, ModernHost>,
    process: Option<tokio::process::Child>,
}

impl Modern {
    async fn start(config: &Path) -> Self {
        let mut process = serve_command(config, &[])
            .spawn()
            .expect("spawn mcp-orchestrator serve");
        let transport = AsyncRwTransport::new_client(
            process.stdout.take().unwrap(),
            process.stdin.take().unwrap(),
        );
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        let client = tokio::time::timeout(
            Duration::from_secs(20),
            ModernHost.serve_with_lifecycle(transport, lifecycle),
        )
        .await
        .expect("discover within 20 s")
        .expect("discover");
        Self {
            client,
            process: Some(process),
        }
    }

    /// A stateless client of a running `serve --http`.
    async fn connect(url: &str) -> Self {
        let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        let client = tokio::time::timeout(
            Duration::from_secs(20),
            ModernHost.serve_with_lifecycle(transport, lifecycle),
        )
        .await
        .expect("discover within 20 s")
        .expect("discover");
        Self {
            client,
            process: None,
        }
    }

    /// Ends the client, and the orchestrator it started.
    async fn close(self) {
        drop(self.client);
        if let Some(mut process) = self.process {
            let _ = tokio::time::timeout(Duration::from_secs(10), process.wait()).await;
            let _ = process.kill().await;
        }
    }

    /// Calls `name`; rmcp's client answers each round of input through [`ModernHost`].
    async fn call_text(&self, name: &str, args: Value) -> String {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        let r = tokio::time::timeout(Duration::from_secs(20), self.client.call_tool(params))
            .await
            .unwrap_or_else(|_| panic!("{name} answered within 20 s"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(r.is_error, Some(true), "{name}: {r:?}");
        r.content[0].as_text().expect("text").text.clone()
    }

    async fn wait_tools(&self, wanted: &[&str]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let names: Vec<String> = self
                .client
                .list_all_tools()
                .await
                .expect("tools/list")
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            if wanted.iter().all(|w| names.iter().any(|n| n == w)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "tools {wanted:?} never listed: {names:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a stateless host checks of both children: input requests passed through and bridged,
/// and itself in `status`.
async fn modern_cells(host: &Modern) {
    // Modern host, modern child: the input request passes through, and so does the retry.
    assert_eq!(
        host.call_text("modern__test_input_required_result_elicitation", json!({}))
            .await,
        "Hello, Alice!"
    );
    let multi = host
        .call_text(
            "modern__test_input_required_result_multiple_inputs",
            json!({}),
        )
        .await;
    assert!(
        multi.contains("Alice") && multi.contains("sampled by the host"),
        "{multi}"
    );
    // Sealed child state survives the orchestrator's wrapping, round after round.
    let rounds = host
        .call_text("modern__test_input_required_result_multi_round", json!({}))
        .await;
    assert!(rounds.contains("Alice"), "{rounds}");

    // Modern host, legacy child: the child's elicitation/create mid-call is turned into an
    // input request, and the answer reaches the child's waiting request.
    let legacy = host
        .call_text(
            "legacy__test_elicitation",
            json!({"message": "Who are you?"}),
        )
        .await;
    assert!(
        legacy.contains("action=accept") && legacy.contains("alice@example.com"),
        "{legacy}"
    );
    let sampled = host
        .call_text("legacy__test_sampling", json!({"prompt": "Say hi"}))
        .await;
    assert!(sampled.contains("sampled by the host"), "{sampled}");

    // A plain call of the legacy child (the children's eras in `status` are checked by the
    // Python host).
    let plain = host.call_text("legacy__test_simple_text", json!({})).await;
    assert!(!plain.is_empty());
    // `status` names this host, stateless, with its extensions.
    let status = host
        .client
        .call_tool(CallToolRequestParams::new("orchestrator_status"))
        .await
        .expect("status")
        .structured_content
        .expect("structured status");
    let me = status["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["client"] == "modern-host 0"))
        .unwrap_or_else(|| panic!("this host in {}", status["hosts"]));
    assert_eq!(me["era"], "modern");
    assert_eq!(me["protocol_version"], "2026-07-28");
    assert!(
        me["extensions"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("io.modelcontextprotocol/tasks"))),
        "{me}"
    );
}

#[tokio::test]
async fn a_modern_host_uses_modern_and_legacy_children_with_input_requests() {
    let cfg = mixed_config();
    let host = Modern::start(&cfg.path).await;
    let info = host.client.peer_info().expect("discover result");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2026_07_28);
    host.wait_tools(&[
        "modern__test_input_required_result_elicitation",
        "legacy__test_elicitation",
    ])
    .await;

    modern_cells(&host).await;
    host.close().await;
}

impl Modern {
    /// Sends one request as it is, without rmcp's client-side handling of the answer.
    async fn raw(&self, request: ClientRequest) -> ServerResult {
        tokio::time::timeout(Duration::from_secs(20), self.client.send_request(request))
            .await
            .expect("answered within 20 s")
            .expect("answered")
    }

    /// Starts a tool call that the child runs as a task; returns the host's task id.
    async fn start_task(&self, name: &str, args: Value) -> String {
        let Value::Object(map) = args else {
            panic!("arguments must be an object")
        };
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(map);
        match self
            .raw(ClientRequest::CallToolRequest(Request::new(params)))
            .await
        {
            ServerResult::CreateTaskResult(created) => created.task.task_id,
            other => panic!("{name}: expected a task, got {other:?}"),
        }
    }

    async fn task(&self, id: &str) -> Value {
        let got = self
            .raw(ClientRequest::GetTaskRequest(Request::new(
                GetTaskParams::new(id),
            )))
            .await;
        let ServerResult::GetTaskResult(got) = got else {
            panic!("tasks/get: {got:?}")
        };
        serde_json::to_value(got).expect("json")
    }

    /// Polls until the task leaves `working`.
    async fn settled(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let task = self.task(id).await;
            if task["status"] != "working" {
                return task;
            }
            assert!(tokio::time::Instant::now() < deadline, "{task}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_modern_host_polls_a_childs_task_through_the_orchestrator() {
    let cfg = mixed_config();
    let host = Modern::start(&cfg.path).await;
    host.wait_tools(&["modern__slow_compute"]).await;

    // The task reaches the host under an id of ours that routes back to the child.
    let id = host
        .start_task(
            "modern__slow_compute",
            json!({"seconds": 0.3, "label": "sum"}),
        )
        .await;
    assert!(id.starts_with("child-"), "{id}");
    let done = host.settled(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["taskId"], id.as_str());
    assert_eq!(
        done["result"]["content"][0]["text"], "sum: computed after 0.3 s",
        "{done}"
    );

    // tasks/cancel reaches the child.
    let id = host
        .start_task("modern__slow_compute", json!({"seconds": 30}))
        .await;
    host.raw(ClientRequest::CancelTaskRequest(Request::new(
        CancelTaskParams::new(id.clone()),
    )))
    .await;
    let cancelled = host.settled(&id).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    // A child that dies with a task in flight: the task is failed, saying why, not a hang.
    let id = host
        .start_task("modern__slow_compute", json!({"seconds": 30}))
        .await;
    let status = host
        .client
        .call_tool(CallToolRequestParams::new("orchestrator_status"))
        .await
        .expect("status");
    let pid = status.structured_content.expect("structured status")["servers"]["modern"]["pid"]
        .as_i64()
        .expect("the modern child's pid");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let lost = host.settled(&id).await;
    assert_eq!(lost["status"], "failed", "{lost}");
    assert!(
        lost["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("server `modern`")),
        "{lost}"
    );
    host.close().await;
}

#[test]
fn a_legacy_host_uses_modern_and_legacy_children_with_real_requests() {
    let Some(python) = python_peer() else {
        return;
    };
    let cfg = mixed_config();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_eras.py");
    let out = Command::new(python)
        .arg(script)
        .arg(orchestrator_bin())
        .arg(&cfg.path)
        .output()
        .expect("run the python host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python host failed:\n{stdout}\n{stderr}"
    );
}

/// The official Python SDK from the test peers, or `None` (skip) when not installed and not
/// required.
fn python_peer() -> Option<PathBuf> {
    let python = std::env::var_os("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache"))
        .join("peers/venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
        "the Python SDK is missing: run scripts/setup-mcp-peers.sh"
    );
    eprintln!("skipping: the Python SDK is not installed (run scripts/setup-mcp-peers.sh)");
    None
}

#[tokio::test]
async fn a_modern_and_a_legacy_host_side_by_side_over_http() {
    let Some(python) = python_peer() else {
        return;
    };
    // One orchestrator, both children, both hosts at once.
    let cfg = mixed_config();
    let srv = HttpServe::start(&cfg.path, &[], &[]).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/python_eras.py");
    let url = srv.url.clone();
    let legacy = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(url)
            .output()
            .expect("run the python host")
    });
    let host = Modern::connect(&srv.url).await;
    host.wait_tools(&[
        "modern__test_input_required_result_elicitation",
        "legacy__test_elicitation",
    ])
    .await;
    modern_cells(&host).await;
    let out = legacy.await.expect("the python host ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python host over HTTP failed:\n{stdout}\n{stderr}"
    );
    host.close().await;
}
