//! One MCP server under test: spawned as a process, spoken to with rmcp's client over its
//! stdin/stdout. Direct children, the orchestrator and the peer aggregator all go through this
//! same code, so the only difference between "direct" and "through" is the extra hop.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use rmcp::{
    ClientHandler, Peer, RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResponse, ClientConfig, JsonObject, ProtocolVersion},
    service::{ClientCacheConfig, NotificationContext, RunningService},
    transport::async_rw::AsyncRwTransport,
};
use tokio::{process::Child, sync::Notify};

/// How to start a server.
#[derive(Clone, Debug)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Spec {
    pub fn new(program: &Path, args: &[&str]) -> Self {
        Self {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }
}

/// The bench's MCP client: pins 2025-11-25 (legacy `initialize`, what every server here speaks)
/// and wakes start-up polling on `tools/list_changed`.
#[derive(Clone, Default)]
pub struct BenchClient {
    changed: Arc<Notify>,
}

impl ClientHandler for BenchClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

/// A running server and our session with it.
pub struct Server {
    pub pid: u32,
    child: Child,
    service: RunningService<RoleClient, BenchClient>,
    changed: Arc<Notify>,
    spawned: Instant,
}

impl Server {
    /// Spawns `spec` (stderr to `log`) and completes `initialize`.
    pub async fn start(spec: &Spec, log: &Path) -> Result<Self> {
        let stderr = std::fs::File::create(log).with_context(|| log.display().to_string())?;
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", spec.program.display()))?;
        let pid = child.id().context("child pid")?;
        let transport = AsyncRwTransport::new_client(
            child.stdout.take().context("stdout")?,
            child.stdin.take().context("stdin")?,
        );
        let client = BenchClient::default();
        let changed = client.changed.clone();
        let service = tokio::time::timeout(Duration::from_secs(60), client.serve(transport))
            .await
            .with_context(|| format!("{}: initialize timed out", spec.program.display()))?
            .with_context(|| {
                format!(
                    "{}: initialize failed (stderr in {})",
                    spec.program.display(),
                    log.display()
                )
            })?;
        // List answers must come from the server every time (start-up polling).
        service
            .peer()
            .set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        Ok(Self {
            pid,
            child,
            service,
            changed,
            spawned,
        })
    }

    pub fn peer(&self) -> Peer<RoleClient> {
        self.service.peer().clone()
    }

    pub async fn tool_names(&self) -> Result<Vec<String>> {
        let tools = self.service.peer().list_all_tools().await?;
        Ok(tools.into_iter().map(|t| t.name.to_string()).collect())
    }

    /// Lists tools until `ready` holds (re-listing on `list_changed` or every 2 ms); returns the
    /// time from spawn to the answer that satisfied it.
    pub async fn wait_tools(
        &self,
        ready: impl Fn(&[String]) -> bool,
        limit: Duration,
    ) -> Result<(Duration, Vec<String>)> {
        let deadline = Instant::now() + limit;
        loop {
            let names = self.tool_names().await?;
            if ready(&names) {
                return Ok((self.spawned.elapsed(), names));
            }
            if Instant::now() > deadline {
                bail!("tools not ready after {limit:?}; have {names:?}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(2), self.changed.notified()).await;
        }
    }

    /// Closes our side (stdin EOF, the MCP stdio shutdown) and waits for the process to exit;
    /// kills it after `grace`.
    pub async fn stop(self, grace: Duration) {
        let Self {
            mut child, service, ..
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(2), service.cancel()).await;
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// A call that takes longer than this fails the run (a hung server, not a slow one).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One `tools/call`; an error result counts as a failure.
pub async fn call(peer: &Peer<RoleClient>, tool: &str, args: &JsonObject) -> Result<()> {
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args.clone());
    let answer = tokio::time::timeout(CALL_TIMEOUT, peer.call_tool_once(params))
        .await
        .with_context(|| format!("{tool}: no answer within {CALL_TIMEOUT:?}"))??;
    match answer {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => Ok(()),
        other => bail!("{tool} answered {other:?}"),
    }
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples `pid`'s VmRSS every 20 ms until `stop` fires; returns the largest.
pub fn rss_sampler(pid: u32, stop: Arc<tokio::sync::Notify>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut max = 0;
        loop {
            if let Some((rss, _)) = rss_kib(pid) {
                max = max.max(rss);
            }
            if tokio::time::timeout(Duration::from_millis(20), stop.notified())
                .await
                .is_ok()
            {
                return max;
            }
        }
    })
}

/// Sum of `VmRSS` (KiB) of every descendant of `pid` (not `pid` itself).
pub fn descendants_rss_kib(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let parents: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // The command name is in parentheses and may contain spaces: split after the last ')'.
            let rest = &stat[stat.rfind(')')? + 2..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut frontier = vec![pid];
    let mut total = 0;
    while let Some(parent) = frontier.pop() {
        for &(p, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            total += rss_kib(p).map_or(0, |(rss, _)| rss);
            frontier.push(p);
        }
    }
    total
}

/// Linux's `USER_HZ`, the unit of `/proc/PID/stat`'s times (fixed at 100 by the kernel ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// A process's CPU time and its threads' context switches at one moment.
pub struct ProcCounters {
    /// `utime + stime` in ticks: every thread's, exited ones included, but only to 10 ms.
    ticks: u64,
    /// Per live thread: (CPU ns, voluntary, involuntary context switches). `/proc/PID/status`
    /// and `/proc/PID/sched` count only the main thread, so each `/proc/PID/task/TID/…` is read;
    /// `se.sum_exec_runtime` is to the ns, which a batch of a few thousand calls needs.
    threads: HashMap<u32, (u64, u64, u64)>,
}

/// What a process spent between two [`ProcCounters`].
#[derive(Default, Clone, Copy, Debug)]
pub struct ProcUsage {
    /// CPU time of its threads (`se.sum_exec_runtime`).
    pub cpu: Duration,
    /// `utime + stime` (10 ms resolution; a cross-check that also counts exited threads).
    pub cpu_ticks: Duration,
    pub voluntary: u64,
    pub involuntary: u64,
}

impl ProcUsage {
    pub fn add(&mut self, other: ProcUsage) {
        self.cpu += other.cpu;
        self.cpu_ticks += other.cpu_ticks;
        self.voluntary += other.voluntary;
        self.involuntary += other.involuntary;
    }
}

impl ProcCounters {
    /// `pid`'s counters now; `None` if it has gone.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): state is field 3, utime 14,
        // stime 15.
        let rest: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
        let field = |n: usize| rest.get(n - 3)?.parse::<u64>().ok();
        let ticks = field(14)? + field(15)?;
        let mut threads = HashMap::new();
        for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let Some(tid) = entry
                .ok()
                .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
            else {
                continue;
            };
            let read =
                |file: &str| std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/{file}"));
            // Either may fail if the thread exited meanwhile.
            let (Ok(status), Ok(sched)) = (read("status"), read("sched")) else {
                continue;
            };
            let value = |text: &str, name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).trim())
                    .map(str::to_owned)
            };
            let count = |name: &str| {
                value(&status, name)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            // In ms with six decimals.
            let cpu_ns = value(&sched, "se.sum_exec_runtime")
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0, |ms| (ms * 1e6) as u64);
            threads.insert(
                tid,
                (
                    cpu_ns,
                    count("voluntary_ctxt_switches:"),
                    count("nonvoluntary_ctxt_switches:"),
                ),
            );
        }
        Some(Self { ticks, threads })
    }

    /// What was spent since `before` (threads that exited in between are missing from all but
    /// `cpu_ticks`).
    pub fn since(&self, before: &ProcCounters) -> ProcUsage {
        let (mut cpu_ns, mut voluntary, mut involuntary) = (0, 0, 0);
        for (tid, (c, v, n)) in &self.threads {
            let (c0, v0, n0) = before.threads.get(tid).copied().unwrap_or_default();
            cpu_ns += c.saturating_sub(c0);
            voluntary += v.saturating_sub(v0);
            involuntary += n.saturating_sub(n0);
        }
        ProcUsage {
            cpu: Duration::from_nanos(cpu_ns),
            cpu_ticks: Duration::from_secs_f64(
                self.ticks.saturating_sub(before.ticks) as f64 / TICKS_PER_SECOND,
            ),
            voluntary,
            involuntary,
        }
    }
}
