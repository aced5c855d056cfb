//! Shared test harness: fixture binaries, temporary configs, and a host that drives
//! `mcp-orchestrator serve` over real stdio while recording what it is sent.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ClientConfig, ProgressNotificationParam},
    service::{NotificationContext, RunningService},
    transport::async_rw::AsyncRwTransport,
};
use serde_json::Value;
use tokio::{io::AsyncReadExt, process::Child};

/// The orchestrator binary under test.
pub fn orchestrator_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcp-orchestrator"))
}

/// The fixture server, built once per test run (cargo only hands integration tests the binaries
/// of their own package).
pub fn fixture_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let target = orchestrator_bin().parent().expect("target dir").to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "-p", "mcp-fixture-server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the fixture");
        assert!(status.success(), "building mcp-fixture-server failed");
        let bin = target.join("mcp-fixture-server");
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
    .clone()
}

/// The vendor servers' binary, built once per run; it lands next to `mcp-orchestrator`, which is
/// where the default config's bare `mcp-vendor` command is looked up.
pub fn vendor_bin() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let target = orchestrator_bin().parent().expect("target dir").to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "-p", "mcp-vendors"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for the vendor servers");
        assert!(status.success(), "building mcp-vendors failed");
        target.join("mcp-vendor")
    })
    .clone()
}

/// A config file in a temporary directory that lives as long as this value.
pub struct TempConfig {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// Writes `json` as `mcp_servers.json` in a fresh temporary directory.
pub fn write_config(json: &Value) -> TempConfig {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp_servers.json");
    std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
    TempConfig { dir, path }
}

/// A fixture server entry with these flags.
pub fn fixture(args: &[&str]) -> Value {
    serde_json::json!({ "command": fixture_bin(), "args": args })
}

/// Settings that make supervision tests quick.
pub fn fast_settings() -> Value {
    serde_json::json!({
        "default_timeout": 5, "health_check_interval": 30, "startup_timeout": 10,
        "max_restarts": 3, "restart_window": 30, "shutdown_grace": 1
    })
}

/// What the test host has been sent besides responses.
#[derive(Default)]
pub struct Recorded {
    pub tool_list_changed: usize,
    pub progress: Vec<ProgressNotificationParam>,
    /// Logging notifications' `logger` and `data`.
    pub logs: Vec<(Option<String>, Value)>,
}

/// A host-side client that records notifications.
#[derive(Clone, Default)]
pub struct RecordingClient {
    pub recorded: Arc<Mutex<Recorded>>,
    pub changed: Arc<tokio::sync::Notify>,
}

impl ClientHandler for RecordingClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(rmcp::model::ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.recorded.lock().unwrap().tool_list_changed += 1;
        self.changed.notify_waiters();
    }

    async fn on_progress(
        &self,
        p: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.recorded.lock().unwrap().progress.push(p);
    }

    #[allow(
        deprecated,
        reason = "legacy hosts get alerts as logging notifications"
    )]
    async fn on_logging_message(
        &self,
        p: rmcp::model::LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.recorded.lock().unwrap().logs.push((p.logger, p.data));
    }
}

/// `mcp-orchestrator serve` driven by a recording client over its real stdin/stdout.
pub struct Host {
    pub client: RunningService<RoleClient, RecordingClient>,
    pub recorder: RecordingClient,
    pub process: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Host {
    /// Starts `serve` on `config` and completes `initialize`.
    pub async fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[]).await
    }

    /// Like [`Host::start`], with extra environment variables for the orchestrator.
    pub async fn start_with_env(config: &Path, env: &[(&str, String)]) -> Self {
        let mut process = serve_command(config, env)
            .env("MCP_ORCHESTRATOR_LOG", "info")
            .spawn()
            .expect("spawn mcp-orchestrator serve");
        let stderr = capture_stderr(&mut process);
        let transport = AsyncRwTransport::new_client(
            process.stdout.take().unwrap(),
            process.stdin.take().unwrap(),
        );
        let recorder = RecordingClient::default();
        let client =
            tokio::time::timeout(Duration::from_secs(20), recorder.clone().serve(transport))
                .await
                .expect("initialize within 20 s")
                .expect("initialize");
        Self {
            client,
            recorder,
            process,
            stderr,
        }
    }

    /// Host-visible tool names.
    pub async fn tool_names(&self) -> Vec<String> {
        let tools = self.client.list_all_tools().await.expect("tools/list");
        tools.into_iter().map(|t| t.name.to_string()).collect()
    }

    /// Calls a tool with JSON arguments.
    pub async fn call(
        &self,
        name: &str,
        args: Value,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        self.client.call_tool(params).await
    }

    /// The `orchestrator_status` object.
    pub async fn status(&self) -> Value {
        let r = self
            .call("orchestrator_status", Value::Null)
            .await
            .expect("status");
        r.structured_content.expect("status has structuredContent")
    }

    /// Polls the status until `pred` holds, for at most `limit`.
    pub async fn wait_status(&self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.status().await;
            if pred(&s) || tokio::time::Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `list_changed` count once no notification has arrived for 400 ms: a baseline that
    /// start-up announcements (late on a loaded machine) cannot spill into.
    pub async fn settled_list_changed(&self) -> usize {
        loop {
            let n = self.list_changed();
            tokio::time::sleep(Duration::from_millis(400)).await;
            if self.list_changed() == n {
                return n;
            }
        }
    }

    /// Number of `tools/list_changed` received so far.
    pub fn list_changed(&self) -> usize {
        self.recorder.recorded.lock().unwrap().tool_list_changed
    }

    /// Everything the orchestrator logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log once `pred` holds of it, or as it is after `limit` (`serve` writes its log in
    /// batches, at least every 100 ms).
    pub async fn stderr_when(&self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let log = self.stderr();
            if pred(&log) || tokio::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Closes stdin (the host going away) and waits for the orchestrator to exit.
    pub async fn close(mut self) -> std::process::ExitStatus {
        let _ = self.client.close().await;
        drop(self.client);
        tokio::time::timeout(Duration::from_secs(15), self.process.wait())
            .await
            .expect("orchestrator exits within 15 s of stdin EOF")
            .expect("wait")
    }
}

/// `mcp-orchestrator serve` on `config` with piped stdio, its control socket and pin file beside
/// the config, and `env` added.
pub fn serve_command(config: &Path, env: &[(&str, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(orchestrator_bin());
    command
        .args(["--config", config.to_str().unwrap(), "serve"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("XDG_RUNTIME_DIR", config.parent().unwrap())
        .env("XDG_STATE_HOME", config.parent().unwrap().join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Collects a spawned process's stderr into a string as it arrives.
pub fn capture_stderr(process: &mut Child) -> Arc<Mutex<String>> {
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err = process.stderr.take().expect("stderr piped");
    let sink = stderr.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    stderr
}

/// Peak resident memory of a process in KiB (`VmHWM` in /proc), 0 if it is gone.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs the CLI with the control socket looked up beside `config` (as `Host` puts it there).
pub fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(orchestrator_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("XDG_RUNTIME_DIR", config.parent().unwrap())
        .env("XDG_STATE_HOME", config.parent().unwrap().join("state"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether any live process is in process group `pgid` (Linux /proc).
pub fn group_alive(pgid: u32) -> bool {
    live_pids().any(|pid| {
        proc_stat(pid).is_some_and(|s| {
            s.fields.len() > 2 && s.fields[2] == pgid.to_string() && s.fields[0] != "X"
        })
    })
}

/// One process's `/proc/PID/stat`: its command name, and the fields after it (`fields[0]` is the
/// state, `[1]` the parent pid, `[2]` the process group, `[11]`/`[12]` user/system CPU ticks).
pub struct ProcStat {
    pub comm: String,
    pub fields: Vec<String>,
}

/// The stat of `pid`, if it exists.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    Some(ProcStat {
        comm: stat[open + 1..close].to_owned(),
        fields: stat[close + 1..]
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

/// Pids of the processes that exist and are not zombies.
pub fn live_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|s| s.fields.first().is_some_and(|st| st != "Z")))
}

/// The pid of a server in a status object.
pub fn pid_of(status: &Value, server: &str) -> Option<u32> {
    status["servers"][server]["pid"].as_u64().map(|p| p as u32)
}

/// The state of a server in a status object.
pub fn state_of(status: &Value, server: &str) -> String {
    status["servers"][server]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `serve --http 127.0.0.1:0` on a config, with its address read from its log.
pub struct HttpServe {
    pub child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub port: u16,
}

impl HttpServe {
    /// Starts it with `extra` arguments and `env`.
    pub async fn start(config: &Path, extra: &[&str], env: &[(&str, String)]) -> Self {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut cmd = tokio::process::Command::new(orchestrator_bin());
        cmd.args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--no-watch",
            "--http",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("MCP_ORCHESTRATOR_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("http://") {
                    return line[i..].split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("serve --http never said where it listens");
        })
        .await
        .unwrap();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/mcp")
            .parse()
            .unwrap();
        Self { child, url, port }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The Python of the test peers' venv, or `None` (then the test skips, unless peers are
/// required, when it fails).
pub fn peers_python() -> Option<PathBuf> {
    let python = std::env::var_os("MCP_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"))
        .join("peers/venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
        "the Python test peers are missing: run scripts/setup-mcp-peers.sh"
    );
    eprintln!("skipping: the Python test peers are not installed (run scripts/setup-mcp-peers.sh)");
    None
}
