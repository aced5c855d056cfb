//! aimock (npm `@copilotkit/aimock`, installed by scripts/setup-aimock.sh): a real
//! OpenAI-compatible server that runs offline. Absent peer = skip, or failure when
//! `MCP_REQUIRE_PEERS=1`.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::Value;

/// The key aimock accepts; any other gets HTTP 401.
pub const KEY: &str = "sk-aimock-accepted-key-0123456789";

/// A running aimock, killed on drop.
pub struct Aimock {
    pub base: String,
    _child: tokio::process::Child,
    _fixtures: PathBuf,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("AIMOCK_BIN") {
        return path.into();
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cache =
        std::env::var_os("MCP_CACHE_DIR").map_or_else(|| repo.join(".cache"), PathBuf::from);
    cache.join("peers/aimock/node_modules/.bin/llmock")
}

/// Starts aimock with `fixtures` (the JSON of one fixture file) and `extra` CLI flags, or
/// returns `None` (after saying why) when the peer is not installed and not required.
pub async fn start(fixtures: &Value, extra: &[&str]) -> Option<Aimock> {
    let bin = binary();
    if !bin.exists() {
        let why = format!(
            "aimock not found at {} (run scripts/setup-aimock.sh)",
            bin.display()
        );
        if std::env::var("MCP_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{why}; MCP_REQUIRE_PEERS=1 requires it");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").port()
    };
    let dir =
        std::env::temp_dir().join(format!("mcp-vendors-aimock-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("fixture dir");
    std::fs::write(dir.join("fixtures.json"), fixtures.to_string()).expect("fixture file");
    let child = tokio::process::Command::new(&bin)
        .args(["-p", &port.to_string(), "-f"])
        .arg(&dir)
        .args(["--log-level", "warn"])
        .args(extra)
        .env("AIMOCK_API_KEYS", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn aimock");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let ready = client
            .get(format!("{base}/__aimock/health"))
            .bearer_auth(KEY)
            .send()
            .await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Some(Aimock {
                base,
                _child: child,
                _fixtures: dir,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aimock did not become ready on {base}");
}

impl Aimock {
    /// The request bodies aimock received, oldest first.
    pub async fn journal(&self) -> Vec<Value> {
        let journal: Value = reqwest::Client::new()
            .get(format!("{}/__aimock/journal", self.base))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("journal")
            .json()
            .await
            .expect("journal json");
        journal.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Aimock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._fixtures);
    }
}
