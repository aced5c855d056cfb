//! A fleet behind a real load balancer: two `serve --http` replicas on one config and one
//! PostgreSQL store, with Debian's HAProxy in front running `deploy/haproxy/haproxy.cfg` (its
//! `bind` and `server` lines pointed at this test's ports, everything else as shipped).
//!
//! - stateless (2026-07-28) requests are spread round-robin and every one succeeds;
//! - a handshake-era (2025-11-25) session sticks to the replica that created it, through the
//!   stick table keyed on `Mcp-Session-Id` (and the other replica does not know it);
//! - a job submitted through one replica is seen and cancelled through the other;
//! - a replica killed with SIGKILL mid-run: the survivor takes its workflow runs over and
//!   finishes them, repeating only a step that is safe to repeat; once with both replicas on this
//!   host (the survivor sees the dead pid), once as on two machines (each replica in its own UTS
//!   namespace with its own host name, so the survivor waits the lease out).
//!
//! Needs `MCP_TEST_POSTGRES_URL` (scripts/test.sh starts a server) and `haproxy`
//! (scripts/setup-system.sh test); without them the tests skip, unless `MCP_REQUIRE_PEERS=1`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Child,
};

use crate::common::*;

pub(crate) const TOKEN: &str = "fleet-lb-token-0123456789";
const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
/// Jobs this replica runs now.
const RUNNING_HERE: (&str, &[(&str, &str)]) = ("mcp_orchestrator_jobs_running_here", &[]);
/// Calls to the fixture child in flight now.
const FX_IN_FLIGHT: (&str, &[(&str, &str)]) = ("mcp_orchestrator_in_flight", &[("server", "fx")]);

/// A fresh database on the run's PostgreSQL (`MCP_TEST_POSTGRES_URL`), or `None` to skip when it
/// is not set and peers are not required (as `jobs.rs` does).
pub(crate) async fn postgres_database() -> Option<String> {
    use sqlx::{Connection, Executor};
    let Ok(base) = std::env::var("MCP_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
            "MCP_TEST_POSTGRES_URL is not set: run the suite through scripts/test.sh"
        );
        eprintln!("skipping: no PostgreSQL (run the suite through scripts/test.sh)");
        return None;
    };
    let name = format!("fleet_{}", unique());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let _ = conn.close().await;
    let (head, tail) = base.split_once('?').unwrap_or((base.as_str(), ""));
    let head = match head.rfind('/') {
        Some(i) if i > "postgres://".len() => &head[..i],
        _ => head,
    };
    Some(if tail.is_empty() {
        format!("{head}/{name}")
    } else {
        format!("{head}/{name}?{tail}")
    })
}

fn unique() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{t:x}{:x}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Debian's haproxy, or `None` (skip) when it is not installed and peers are not required.
fn haproxy_bin() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
            "haproxy is not installed: run scripts/setup-system.sh test"
        );
        eprintln!("skipping: haproxy is not installed (run scripts/setup-system.sh test)");
    }
    found
}

/// Collects a child's stderr or stdout into a string as it arrives.
fn collect(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let sink = Arc::new(Mutex::new(String::new()));
    let into = sink.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut s = into.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    sink
}

/// One `serve --http 127.0.0.1:0` replica; killed when dropped.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) port: u16,
    log: Arc<Mutex<String>>,
}

impl Replica {
    /// Starts it on `config` with its own runtime and state dirs (as on its own machine); with
    /// `hostname`, in a UTS namespace of its own under that host name.
    /// With `watch`, the replica reloads its config file when it changes.
    async fn start_watching(
        config: &Path,
        name: &str,
        hostname: Option<&str>,
        own_pids: bool,
        watch: bool,
    ) -> Self {
        let run = config.parent().unwrap().join(name);
        std::fs::create_dir_all(&run).unwrap();
        let mut serve = vec!["--config", config.to_str().unwrap(), "serve"];
        if !watch {
            serve.push("--no-watch");
        }
        serve.extend(["--http", "127.0.0.1:0"]);
        let mut cmd = match hostname {
            // `unshare` execs sh, which execs serve: the pid is serve's, and SIGKILL reaches it.
            Some(host) => {
                let mut c = tokio::process::Command::new("unshare");
                if own_pids {
                    // A pid namespace of its own, as a container has; the replica is its init,
                    // and dies with `unshare` (which the test kills).
                    c.args(["--pid", "--fork", "--kill-child", "--mount-proc"]);
                }
                c.args(["--uts", "sh", "-c", r#"hostname "$0" && exec "$@""#, host])
                    .arg(orchestrator_bin())
                    .args(&serve);
                c
            }
            None => {
                let mut c = tokio::process::Command::new(orchestrator_bin());
                c.args(&serve);
                c
            }
        };
        cmd.env("MCP_ORCHESTRATOR_LOG", "info")
            .env("MCP_ORCHESTRATOR_HTTP_TOKEN", TOKEN)
            .env("XDG_RUNTIME_DIR", &run)
            .env("XDG_STATE_HOME", run.join("state"))
            .stdin(Stdio::null())
            // stdout is the JSON-RPC channel's; the log is on stderr.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn serve --http");
        let log = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            let found = log.lock().unwrap().lines().find_map(|l| {
                let i = l.find("http://127.0.0.1:")?;
                let rest = &l[i + "http://127.0.0.1:".len()..];
                rest.split("/mcp").next()?.parse::<u16>().ok()
            });
            if let Some(p) = found {
                break p;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "replica {name} exited ({status}) before listening:\n{}",
                    log.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "replica {name} never said where it listens:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let replica = Self { child, port, log };
        replica.wait_ready(name).await;
        replica
    }

    pub(crate) fn at(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `/health/ready` answers 200 (the store answers, the child has started).
    async fn wait_ready(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(self.at("/health/ready")).await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica {name} never ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A counter of its Prometheus exposition: the sum of the samples of `family` whose labels
    /// include every one of `labels` (0 when there is none).
    async fn counter(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        let text = reqwest::Client::new()
            .get(self.at("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name_labels, value) = l.rsplit_once(' ')?;
                let (name, rest) = name_labels.split_once('{').unwrap_or((name_labels, ""));
                (name == family
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
                .then(|| value.parse::<f64>().ok())?
            })
            .sum()
    }

    /// A whole-number sample: `(family, labels)`.
    async fn gauge(&self, (family, labels): (&str, &[(&str, &str)])) -> u64 {
        self.counter(family, labels).await as u64
    }

    /// How many calls of the fixture's `tool` this replica made.
    async fn fx_calls(&self, tool: &str) -> u64 {
        self.counter(
            "mcp_orchestrator_tool_calls_total",
            &[("server", "fx"), ("tool", tool)],
        )
        .await as u64
    }
}

/// HAProxy running the shipped recipe in front of the replicas; killed when dropped.
pub(crate) struct Haproxy {
    _child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Haproxy {
    /// The shipped recipe with this test's ports on its `bind` and `server` lines.
    fn config(port: u16, replicas: &[u16]) -> String {
        let recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy/haproxy.cfg");
        let recipe = std::fs::read_to_string(recipe).unwrap();
        let mut out = String::new();
        let mut servers_written = false;
        for line in recipe.lines() {
            let t = line.trim_start();
            if t.starts_with("bind ") {
                out.push_str(&format!("    bind 127.0.0.1:{port}\n"));
            } else if t.starts_with("server ") {
                if !servers_written {
                    for (i, p) in replicas.iter().enumerate() {
                        out.push_str(&format!("    server mcp{} 127.0.0.1:{p}\n", i + 1));
                    }
                    servers_written = true;
                }
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        assert!(servers_written, "the recipe has no server line");
        out
    }

    async fn start(bin: &Path, dir: &Path, replicas: &[u16]) -> Self {
        let port = free_port();
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, Self::config(port, replicas)).unwrap();
        let check = std::process::Command::new(bin)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "haproxy -c refuses the recipe: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = tokio::process::Command::new(bin)
            .arg("-f")
            .arg(&cfg)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn haproxy");
        let log = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let lb = Self {
            _child: child,
            port,
            log,
        };
        // Until both replicas have answered a probe through it (its health checks run beside).
        let names = replicas.len();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = std::collections::HashSet::new();
        while seen.len() < names {
            if let Ok(r) = reqwest::get(lb.at("/health/ready")).await
                && r.status() == 200
                && let Some(name) = r.headers().get("x-mcp-replica")
            {
                seen.insert(name.to_str().unwrap().to_owned());
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never reached every replica (saw {seen:?}):\n{}\n{}",
                lb.log(),
                err.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        lb
    }

    pub(crate) fn at(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// A port nothing listens on now (the window until haproxy binds it is small).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two replicas on one config and one PostgreSQL database, HAProxy in front.
pub(crate) struct Fleet {
    pub(crate) replicas: Vec<Replica>,
    pub(crate) lb: Haproxy,
    _cfg: TempConfig,
    http: reqwest::Client,
}

impl Fleet {
    /// `None` (skip) without PostgreSQL or haproxy. `hostnames`: each replica in its own UTS
    /// namespace under these names, as on separate machines.
    async fn start(
        workflows: &[(&str, Value)],
        hostnames: Option<[&str; 2]>,
        own_pids: bool,
    ) -> Option<Self> {
        Self::start_with(workflows, hostnames, own_pids, json!({})).await
    }

    /// [`Fleet::start`] with `orchestrator` settings of `extra` over the fleet's own (the
    /// database's URL, `lease_ttl` 3 s, quick supervision).
    pub(crate) async fn start_with(
        workflows: &[(&str, Value)],
        hostnames: Option<[&str; 2]>,
        own_pids: bool,
        extra: Value,
    ) -> Option<Self> {
        Self::start_inner(workflows, hostnames, own_pids, extra, false).await
    }

    /// Two replicas that reload the shared config file when it changes.
    async fn start_watching() -> Option<Self> {
        Self::start_inner(&[], None, false, json!({}), true).await
    }

    async fn start_inner(
        workflows: &[(&str, Value)],
        hostnames: Option<[&str; 2]>,
        own_pids: bool,
        extra: Value,
        watch: bool,
    ) -> Option<Self> {
        let haproxy = haproxy_bin()?;
        let store = postgres_database().await?;
        let mut settings = fast_settings();
        settings["store"] = json!(store);
        settings["lease_ttl"] = json!(3);
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                settings[k] = v;
            }
        }
        let cfg = write_config(&json!({
            "servers": {"fx": fixture(&[])},
            "orchestrator": settings,
            "jobs": {"types": {}}
        }));
        if !workflows.is_empty() {
            let dir = cfg.dir.path().join("workflows");
            std::fs::create_dir(&dir).unwrap();
            for (name, def) in workflows {
                std::fs::write(dir.join(format!("{name}.json")), def.to_string()).unwrap();
            }
        }
        let a =
            Replica::start_watching(&cfg.path, "a", hostnames.map(|h| h[0]), own_pids, watch).await;
        let b =
            Replica::start_watching(&cfg.path, "b", hostnames.map(|h| h[1]), own_pids, watch).await;
        let lb = Haproxy::start(&haproxy, cfg.dir.path(), &[a.port, b.port]).await;
        Some(Self {
            replicas: vec![a, b],
            lb,
            _cfg: cfg,
            http: reqwest::Client::new(),
        })
    }

    /// A stateless (2026-07-28) request, as the conformance suite sends one: the version and
    /// method in headers, the client's version, info and capabilities in `_meta`. Returns the
    /// HTTP status, the `X-Mcp-Replica` header (set by haproxy) and the JSON-RPC response.
    pub(crate) async fn modern(
        &self,
        url: &str,
        method: &str,
        mut params: Value,
    ) -> (u16, Option<String>, Value) {
        static ID: AtomicU64 = AtomicU64::new(1);
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "fleet-test", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}
        });
        let id = ID.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut req = self
            .http
            .post(url)
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", method);
        if let Some(name) = params["name"].as_str() {
            req = req.header("Mcp-Name", name);
        }
        let r = req.body(body.to_string()).send().await.unwrap();
        let status = r.status().as_u16();
        let replica = header(&r, "x-mcp-replica");
        let text = r.text().await.unwrap();
        (status, replica, jsonrpc_response(&text, id))
    }

    /// `tools/call` of `name` as a stateless request to `url`; the result, or a panic with the
    /// error.
    pub(crate) async fn modern_call(
        &self,
        url: &str,
        name: &str,
        args: Value,
    ) -> (Option<String>, Value) {
        let (status, replica, r) = self
            .modern(url, "tools/call", json!({"name": name, "arguments": args}))
            .await;
        assert_eq!(status, 200, "{name}: {r}");
        assert!(r["error"].is_null(), "{name}: {r}");
        assert_ne!(r["result"]["isError"], json!(true), "{name}: {r}");
        (replica, r["result"].clone())
    }

    /// A REST request with the token; the status and the JSON body.
    async fn rest(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, url).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The config file both replicas run.
    pub(crate) fn config_path(&self) -> &Path {
        &self._cfg.path
    }

    /// The logs of both replicas and haproxy, for failure messages.
    pub(crate) fn logs(&self) -> String {
        format!(
            "--- replica a:\n{}\n--- replica b:\n{}\n--- haproxy:\n{}",
            self.replicas[0].log(),
            self.replicas[1].log(),
            self.lb.log()
        )
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The JSON-RPC response with `id` in a body that is JSON or an SSE stream.
pub(crate) fn jsonrpc_response(text: &str, id: u64) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v["id"] == json!(id))
        .unwrap_or_else(|| panic!("no response with id {id} in: {text}"))
}

/// The replica names (haproxy's `mcp1`, `mcp2`) and how many answers each gave.
fn tally(names: &[Option<String>]) -> std::collections::BTreeMap<String, usize> {
    let mut t = std::collections::BTreeMap::new();
    for n in names {
        *t.entry(n.clone().expect("every answer names its replica"))
            .or_insert(0) += 1;
    }
    t
}

#[tokio::test]
async fn stateless_requests_are_spread_round_robin_over_both_replicas() {
    let Some(fleet) = Fleet::start(&[], None, false).await else {
        return;
    };
    let mcp = fleet.lb.at("/mcp");
    let (status, _, discover) = fleet.modern(&mcp, "server/discover", json!({})).await;
    assert_eq!(status, 200, "{discover}");
    assert!(
        discover["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(MODERN))),
        "{discover}"
    );
    // No session: no request carries an Mcp-Session-Id, so none is stuck to a replica.
    let mut replicas = Vec::new();
    for i in 0..20 {
        let (replica, result) = fleet
            .modern_call(&mcp, "fx__echo", json!({"message": format!("rr {i}")}))
            .await;
        assert_eq!(
            result["content"][0]["text"],
            format!("echo: rr {i}"),
            "{result}"
        );
        replicas.push(replica);
    }
    let t = tally(&replicas);
    eprintln!("20 stateless calls through haproxy: {t:?}");
    assert_eq!(t.len(), 2, "both replicas answer: {t:?}");
    // Round-robin alternates: 10 each (health checks are not balanced requests).
    assert_eq!(t.values().copied().collect::<Vec<_>>(), [10, 10], "{t:?}");
    // Each replica's own count of calls to the child agrees with what haproxy says it sent.
    let a = fleet.replicas[0].fx_calls("echo").await;
    let b = fleet.replicas[1].fx_calls("echo").await;
    assert_eq!(
        (a, b),
        (t["mcp1"] as u64, t["mcp2"] as u64),
        "{}",
        fleet.logs()
    );
}

#[tokio::test]
async fn a_legacy_session_sticks_to_the_replica_that_created_it() {
    let Some(fleet) = Fleet::start(&[], None, false).await else {
        return;
    };
    let mcp = fleet.lb.at("/mcp");

    // rmcp's streamable HTTP client, handshake era, through haproxy: 20 calls on one session.
    let config = StreamableHttpClientTransportConfig::with_uri(mcp.clone()).auth_header(TOKEN);
    let client = RecordingClient::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("initialize through haproxy");
    assert_eq!(
        client.peer_info().map(|i| i.protocol_version.to_string()),
        Some(LEGACY.to_owned())
    );
    for i in 0..20 {
        let r = client
            .call_tool(
                CallToolRequestParams::new("fx__echo").with_arguments(
                    json!({"message": format!("sticky {i}")})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await
            .unwrap_or_else(|e| panic!("call {i} on the session: {e}\n{}", fleet.logs()));
        assert_eq!(
            r.content[0].as_text().unwrap().text,
            format!("echo: sticky {i}")
        );
    }
    client.cancel().await.unwrap();
    let counts = [
        fleet.replicas[0].fx_calls("echo").await,
        fleet.replicas[1].fx_calls("echo").await,
    ];
    eprintln!("20 calls on one legacy session, per replica: {counts:?}");
    assert!(
        counts == [20, 0] || counts == [0, 20],
        "all on one replica: {counts:?}"
    );

    // The same by hand, to see the session's route: initialize through haproxy, then every
    // request of the session goes where the session was made.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {},
        "clientInfo": {"name": "fleet-raw", "version": "0"}}});
    let legacy = |url: &str, session: Option<&str>, body: &Value| {
        let mut req = fleet
            .http
            .post(url)
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", LEGACY);
        if let Some(s) = session {
            req = req.header("Mcp-Session-Id", s);
        }
        req.body(body.to_string()).send()
    };
    let r = legacy(&mcp, None, &init).await.unwrap();
    assert_eq!(r.status(), 200);
    let session = header(&r, "mcp-session-id").expect("a session id");
    let home = header(&r, "x-mcp-replica").expect("haproxy names the replica");
    let _ = r.text().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = legacy(&mcp, Some(&session), &initialized).await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "x-mcp-replica").as_deref(), Some(home.as_str()));
    for i in 0..6u64 {
        let call = json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
            "params": {"name": "fx__echo", "arguments": {"message": format!("raw {i}")}}});
        let r = legacy(&mcp, Some(&session), &call).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(&r, "x-mcp-replica").as_deref(),
            Some(home.as_str()),
            "request {i} of the session left its replica"
        );
        let v = jsonrpc_response(&r.text().await.unwrap(), 10 + i);
        assert_eq!(
            v["result"]["content"][0]["text"],
            format!("echo: raw {i}"),
            "{v}"
        );
    }
    // Why it must stick: the other replica does not know the session.
    let other = &fleet.replicas[if home == "mcp1" { 1 } else { 0 }];
    let call = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
        "params": {"name": "fx__echo", "arguments": {"message": "elsewhere"}}});
    let r = legacy(&other.at("/mcp"), Some(&session), &call)
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_job_submitted_through_one_replica_is_seen_and_cancelled_through_the_other() {
    let Some(fleet) = Fleet::start(&[], None, false).await else {
        return;
    };
    let [a, b] = [&fleet.replicas[0], &fleet.replicas[1]];
    let (code, job) = fleet
        .rest(
            reqwest::Method::POST,
            &a.at("/jobs"),
            Some(json!({"tool": "fx__hang"})),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    // B sees it running (A runs it: the submitting replica claims a job when it has a slot).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, seen) = fleet
            .rest(reqwest::Method::GET, &b.at(&format!("/jobs/{id}")), None)
            .await;
        assert_eq!(code, 200, "{seen}");
        if seen["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "never running: {seen}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        [a.gauge(RUNNING_HERE).await, b.gauge(RUNNING_HERE).await],
        [1, 0],
        "A runs the job"
    );
    assert_eq!(
        [a.gauge(FX_IN_FLIGHT).await, b.gauge(FX_IN_FLIGHT).await],
        [1, 0],
        "A's call to the child is open"
    );
    // Through haproxy, whichever replica answers, the job is listed.
    for _ in 0..2 {
        let (code, list) = fleet
            .rest(reqwest::Method::GET, &fleet.lb.at("/jobs"), None)
            .await;
        assert_eq!(code, 200, "{list}");
        assert!(
            list["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["job_id"] == json!(id) || j["id"] == json!(id)),
            "{list}"
        );
    }
    // Cancelled through B: A's call to the child is cancelled, and the job ends cancelled.
    let (code, body) = fleet
        .rest(reqwest::Method::DELETE, &b.at(&format!("/jobs/{id}")), None)
        .await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ended = loop {
        let (_, job) = fleet
            .rest(
                reqwest::Method::GET,
                &fleet.lb.at(&format!("/jobs/{id}")),
                None,
            )
            .await;
        if !["pending", "running"].contains(&job["status"].as_str().unwrap_or_default()) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "not cancelled: {job}\n{}",
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let log = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let log = a.log();
            if log.contains("hang was cancelled") {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        log.is_ok(),
        "the child's call on A was not cancelled:\n{}",
        fleet.logs()
    );
    assert_eq!(
        [a.gauge(RUNNING_HERE).await, a.gauge(FX_IN_FLIGHT).await],
        [0, 0],
        "A let the job go"
    );

    // And the other way round, a completed one: submitted to B, its result read through A.
    let (code, job) = fleet
        .rest(
            reqwest::Method::POST,
            &b.at("/jobs"),
            Some(json!({"tool": "fx__echo", "arguments": {"message": "from b"}})),
        )
        .await;
    assert_eq!(code, 201, "{job}");
    let id = job["job_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, job) = fleet
            .rest(reqwest::Method::GET, &a.at(&format!("/jobs/{id}")), None)
            .await;
        if job["status"] == "completed" {
            assert!(job.to_string().contains("echo: from b"), "{job}");
            break;
        }
        assert!(Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Two workflows whose steps append their names to `file`, each with a second step of `ms`:
/// `safe` (s1 → s2, declared idempotent → s3: a holder that dies in s2 gets it repeated) and
/// `risky` (a, with a compensation → b, not safe to repeat: unknown, and the run compensates a).
pub(crate) fn safe_and_risky(file: &str, ms: u64) -> [Value; 2] {
    let step = |name: &str, tool: &str, ms: u64, deps: &[&str]| {
        json!({"name": name, "mcp": "fx", "action": tool, "dependsOn": deps,
               "params": {"file": file, "label": name, "ms": ms}})
    };
    let safe = json!({"name": "safe", "version": "1", "steps": [
        step("s1", "record", 0, &[]), step("s2", "record_safe", ms, &["s1"]),
        step("s3", "record", 0, &["s2"])
    ]});
    let mut first = step("a", "record", 0, &[]);
    first["compensation"] =
        json!({"action": "record", "params": {"file": file, "label": "undo_a"}});
    let risky = json!({"name": "risky", "version": "1", "steps": [
        first, step("b", "record", ms, &["a"])
    ]});
    [safe, risky]
}

/// SIGKILL the replica driving two runs mid-step; the other takes them over. Returns the time
/// from the kill until the survivor repeated the safe step (the run moving again).
async fn takeover(hostnames: Option<[&str; 2]>, own_pids: bool) -> Option<Duration> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.path().to_str().unwrap().to_owned();
    let [safe, risky] = safe_and_risky(&file, 4000);
    let mut fleet = Fleet::start(&[("safe", safe), ("risky", risky)], hostnames, own_pids).await?;
    let a_mcp = fleet.replicas[0].at("/mcp");
    let mut runs = Vec::new();
    for name in ["safe", "risky"] {
        let (_, r) = fleet
            .modern_call(&a_mcp, "workflow_start", json!({"workflow": name}))
            .await;
        runs.push(
            r["structuredContent"]["run_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_owned(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !["s2", "b"]
        .iter()
        .all(|l| lines(log.path()).contains(&(*l).to_owned()))
    {
        assert!(
            Instant::now() < deadline,
            "s2 and b never started: {:?}\n{}",
            lines(log.path()),
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = &mut fleet.replicas[0];
    a.child.start_kill().unwrap();
    let _ = a.child.wait().await;
    let killed = Instant::now();

    // The survivor repeats s2 (safe) and finishes the run.
    let count = |l: &str| lines(log.path()).iter().filter(|x| *x == l).count();
    let deadline = killed + Duration::from_secs(40);
    while count("s2") < 2 {
        assert!(
            Instant::now() < deadline,
            "the survivor never took the run over: {:?}\n{}",
            lines(log.path()),
            fleet.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resumed = killed.elapsed();
    let b_mcp = fleet.replicas[1].at("/mcp");
    let status = |run: String| {
        let fleet = &fleet;
        let b_mcp = b_mcp.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(40);
            loop {
                let (_, r) = fleet
                    .modern_call(&b_mcp, "workflow_status", json!({"run_id": run}))
                    .await;
                let s = r["structuredContent"].clone();
                if !["pending", "running", "paused"].contains(&s["status"].as_str().unwrap()) {
                    return s;
                }
                assert!(Instant::now() < deadline, "{s}\n{}", fleet.logs());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let safe = status(runs[0].clone()).await;
    let finished = killed.elapsed();
    assert_eq!(safe["status"], "completed", "{safe}");
    let risky = status(runs[1].clone()).await;
    assert_eq!(risky["status"], "compensated", "{risky}");
    assert_eq!(risky["steps"][1]["status"], "unknown", "{risky}");
    let recorded = lines(log.path());
    let n = |l: &str| recorded.iter().filter(|x| *x == l).count();
    assert_eq!(
        [n("s1"), n("s2"), n("s3")],
        [1, 2, 1],
        "only the safe step repeats: {recorded:?}"
    );
    assert_eq!(
        [n("a"), n("b"), n("undo_a")],
        [1, 1, 1],
        "the unsafe step is not repeated; the run compensates: {recorded:?}"
    );
    // Clients of the load balancer keep being answered, by the survivor (haproxy's health check
    // takes the dead replica out; before it does, `option redispatch` retries elsewhere).
    let lb = fleet.lb.at("/mcp");
    for i in 0..6 {
        let (replica, r) = fleet
            .modern_call(&lb, "fx__echo", json!({"message": format!("after {i}")}))
            .await;
        assert_eq!(r["content"][0]["text"], format!("echo: after {i}"), "{r}");
        assert_eq!(replica.as_deref(), Some("mcp2"));
    }
    eprintln!(
        "takeover ({}): the survivor resumed the run {:.2} s after the SIGKILL, finished it after {:.2} s (lease_ttl 3 s, s2 takes 4 s)",
        if own_pids {
            "two containers with one host name, own pid namespaces: lease expiry"
        } else if hostnames.is_some() {
            "replicas as on two machines: lease expiry"
        } else {
            "replicas on one host: dead pid seen"
        },
        resumed.as_secs_f64(),
        finished.as_secs_f64()
    );
    drop(fleet);
    Some(resumed)
}

#[tokio::test]
async fn a_replica_killed_mid_run_is_taken_over_at_once_on_the_same_host() {
    let Some(resumed) = takeover(None, false).await else {
        return;
    };
    // The dead pid is seen on the survivor's next maintenance tick (lease_ttl / 3 = 1 s), before
    // the 3 s lease runs out.
    assert!(resumed < Duration::from_secs(3), "{resumed:?}");
}

#[tokio::test]
async fn a_replica_killed_mid_run_on_another_host_is_taken_over_when_its_lease_expires() {
    let uts = std::process::Command::new("unshare")
        .args(["--uts", "hostname", "probe"])
        .output();
    if !uts.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: no UTS namespace for a replica (`unshare --uts` needs root)");
        return;
    }
    let Some(resumed) = takeover(Some(["replica-a", "replica-b"]), false).await else {
        return;
    };
    // Another host's process cannot be asked: the lease (3 s, renewed every second) is waited
    // out, then claimed on the next tick.
    assert!(
        resumed >= Duration::from_secs(1) && resumed < Duration::from_secs(8),
        "{resumed:?}"
    );
}

#[tokio::test]
async fn containers_with_one_host_name_wait_out_each_others_leases() {
    let probe = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--uts", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: no pid namespace for a replica (`unshare --pid` needs root)");
        return;
    }
    // Both replicas are called `replica` and each is pid 1 of its own namespace: neither may
    // judge the other dead by its pid, so the dead one's lease is waited out.
    let Some(resumed) = takeover(Some(["replica", "replica"]), true).await else {
        return;
    };
    assert!(
        resumed >= Duration::from_secs(1) && resumed < Duration::from_secs(8),
        "{resumed:?}"
    );
}

#[tokio::test]
async fn a_reload_of_the_shared_config_reaches_every_replica() {
    let Some(fleet) = Fleet::start_watching().await else {
        return;
    };
    // One edit of the file both replicas run (a ConfigMap in Kubernetes): a second server.
    let path = fleet.config_path().to_owned();
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["servers"]["fy"] = fixture(&[]);
    let staged = path.with_extension("new");
    std::fs::write(&staged, config.to_string()).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    for (i, replica) in fleet.replicas.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, _, r) = fleet
                .modern(&replica.at("/mcp"), "tools/list", json!({}))
                .await;
            let listed = r["result"]["tools"]
                .as_array()
                .is_some_and(|tools| tools.iter().any(|t| t["name"] == "fy__echo"));
            if listed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {i} never listed fy__echo: {r}\n{}",
                fleet.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (_, _, r) = fleet
            .modern(
                &replica.at("/mcp"),
                "tools/call",
                json!({"name": "fy__echo", "arguments": {"message": "reloaded"}}),
            )
            .await;
        assert_eq!(r["result"]["content"][0]["text"], "echo: reloaded", "{r}");
    }
}
