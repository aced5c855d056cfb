//! `router-bench`: measures `tools/call` latency and throughput direct to a child vs through
//! `mcp-orchestrator serve` (and through a peer aggregator), the orchestrator's RSS, start-up
//! with five children, and unified-tool fallback. Prints Markdown tables on stdout; progress
//! goes to stderr. `scripts/bench.sh` builds everything and runs it.
//!
//! Method (also in docs/benchmarks.md): one rmcp client per target, spawned by this process over
//! stdio; concurrency N = N tasks sharing clones of that one client `Peer`, each sending its next
//! call when the previous one is answered. Targets are measured in alternating rounds so that
//! background load falls on all of them alike.

// This is a benchmark report generator, not a server: its table goes to stdout.
#![allow(clippy::print_stdout)]
#![allow(missing_docs)]

mod server;
mod stats;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rmcp::{Peer, RoleClient, model::JsonObject};
use serde_json::{Value, json};
use server::{Server, Spec, call, descendants_rss_kib, rss_kib};
use stats::{Samples, median};

#[derive(Parser, Debug)]
#[command(about = "MCP Orchestrator benchmark: direct vs through, RSS, start-up, fallback")]
struct Args {
    /// The mcp-orchestrator binary.
    #[arg(long)]
    orchestrator: PathBuf,
    /// The mcp-fixture-server binary (the Rust echo child).
    #[arg(long)]
    fixture: PathBuf,
    /// `mcp-server-everything` (npm @modelcontextprotocol/server-everything); rows skipped without it.
    #[arg(long)]
    everything: Option<PathBuf>,
    /// The `fastmcp` CLI (PyPI fastmcp), measured as a peer aggregator; column skipped without it.
    #[arg(long)]
    fastmcp: Option<PathBuf>,
    /// Calls per target and round at concurrency 1.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Calls per task and round at concurrency `--concurrency`.
    #[arg(long, default_value_t = 60)]
    calls_per_task: usize,
    /// Concurrent callers for the throughput rows.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Rounds (targets alternate within each round).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Warm-up calls per target and round at concurrency 1 (at most a quarter of the measured
    /// calls); at the high concurrency each task warms up with warmup/8 calls (at most as many as
    /// it then measures).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Cold starts per start-up configuration and target.
    #[arg(long, default_value_t = 5)]
    startup_runs: usize,
    /// Fallback calls per path.
    #[arg(long, default_value_t = 1000)]
    fallback_calls: usize,
    /// Cap on the calls per round sent through the peer aggregator at concurrency 1 (it is
    /// much slower; its percentiles need fewer samples).
    #[arg(long, default_value_t = 200)]
    peer_calls: usize,
    /// Calls per task through the peer aggregator at the high concurrency.
    #[arg(long, default_value_t = 3)]
    peer_calls_per_task: usize,
    /// Rounds that include the peer aggregator (the first N).
    #[arg(long, default_value_t = 1)]
    peer_rounds: usize,
    /// Skip the start-up measurements (item 4).
    #[arg(long)]
    no_startup: bool,
    /// Working directory for configs and server logs (default: a fresh one under /tmp).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Also write every figure as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What a call goes through.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Via {
    Direct,
    Orchestrator,
    Peer,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Orchestrator => "orchestrator",
            Via::Peer => "fastmcp",
        }
    }
}

/// The child kinds measured in the latency rows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Fixture,
    Everything,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Fixture => "fixture",
            Kind::Everything => "everything",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Fixture => "Rust fixture `echo`",
            Kind::Everything => "server-everything `echo`",
        }
    }
}

/// Latency samples and wall time, per (child kind, concurrency, via).
#[derive(Default)]
struct Load {
    samples: BTreeMap<(Kind, usize, Via), Samples>,
    wall: BTreeMap<(Kind, usize, Via), (usize, Duration)>,
}

struct Ctx {
    args: Args,
    dir: PathBuf,
    log_n: std::sync::atomic::AtomicUsize,
}

impl Ctx {
    fn log(&self, name: &str) -> PathBuf {
        let n = self
            .log_n
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Not next to the configs: the orchestrator watches its config's directory, and its own
        // log writes there would wake that watch on every call.
        self.dir.join("logs").join(format!("{n:03}-{name}.log"))
    }

    fn fixture(&self, args: &[&str]) -> Spec {
        Spec::new(&self.args.fixture, args)
    }

    fn everything(&self) -> Option<Spec> {
        self.args
            .everything
            .as_ref()
            .map(|p| Spec::new(p, &["stdio"]))
    }

    /// The five children behind the orchestrator and the peer in the load phase.
    fn five(&self) -> Vec<(&'static str, Spec)> {
        let mut v = vec![("fixture", self.fixture(&[]))];
        match self.everything() {
            Some(e) => v.push(("everything", e)),
            None => v.push(("spare2", self.fixture(&[]))),
        }
        v.push((
            "vendor_a",
            self.fixture(&["--vendor", "a", "--mode", "unavailable"]),
        ));
        v.push(("vendor_b", self.fixture(&["--vendor", "b"])));
        v.push(("spare", self.fixture(&[])));
        v
    }

    /// Five fixture children: the orchestrator's own start-up cost without slow children.
    fn five_fixtures(&self) -> Vec<(&'static str, Spec)> {
        ["fx1", "fx2", "fx3", "fx4", "fx5"]
            .into_iter()
            .map(|id| (id, self.fixture(&[])))
            .collect()
    }

    fn entry(spec: &Spec) -> Value {
        json!({ "command": spec.program, "args": spec.args })
    }

    fn write(&self, name: &str, v: &Value) -> Result<PathBuf> {
        let path = self.dir.join("config").join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(v)?)?;
        Ok(path)
    }

    /// `serve` on these children. Unified `chat` falls back vendor_a → vendor_b; one try per
    /// vendor and no circuit breaker, so every call takes the fallback path.
    fn orchestrator(&self, name: &str, children: &[(&str, Spec)]) -> Result<Spec> {
        let servers: serde_json::Map<String, Value> = children
            .iter()
            .map(|(id, s)| ((*id).to_owned(), Self::entry(s)))
            .collect();
        let mut cfg = json!({ "servers": servers });
        if children.iter().any(|(id, _)| *id == "vendor_a") {
            cfg["routing"] = json!({ "chat": ["vendor_a", "vendor_b"] });
            cfg["orchestrator"] =
                json!({ "retry_attempts": 1, "breaker_min_calls": 1_000_000_000u32 });
        }
        let path = self.write(&format!("{name}.json"), &cfg)?;
        Ok(Spec::new(
            &self.args.orchestrator,
            &["--config", path.to_str().context("utf-8 path")?, "serve"],
        )
        // The control socket goes in our working directory, not the user's runtime dir.
        .env("XDG_RUNTIME_DIR", self.dir.join("run").to_string_lossy()))
    }

    /// `fastmcp run` on an `mcpServers` file with these children (a composite stdio proxy).
    fn peer(&self, name: &str, children: &[(&str, Spec)]) -> Result<Option<Spec>> {
        let Some(fastmcp) = &self.args.fastmcp else {
            return Ok(None);
        };
        let servers: serde_json::Map<String, Value> = children
            .iter()
            .map(|(id, s)| ((*id).to_owned(), Self::entry(s)))
            .collect();
        let path = self.write(&format!("{name}.json"), &json!({ "mcpServers": servers }))?;
        Ok(Some(
            Spec::new(
                fastmcp,
                &[
                    "run",
                    path.to_str().context("utf-8 path")?,
                    "--no-banner",
                    "--log-level",
                    "WARNING",
                ],
            )
            .env("FASTMCP_LOG_LEVEL", "WARNING")
            .env("FASTMCP_SHOW_CLI_BANNER", "false"),
        ))
    }
}

/// Every child id has at least one tool under its prefix (`id__tool` for us, `id_tool` for
/// fastmcp).
fn all_children_listed(ids: &[&str]) -> impl Fn(&[String]) -> bool {
    let prefixes: Vec<String> = ids.iter().map(|id| format!("{id}_")).collect();
    move |names: &[String]| {
        prefixes
            .iter()
            .all(|p| names.iter().any(|n| n.starts_with(p.as_str())))
    }
}

/// The host-visible name of child `id`'s tool `tool` on a target.
fn tool_name(names: &[String], via: Via, id: &str, tool: &str) -> Result<String> {
    let want = match via {
        Via::Direct => tool.to_owned(),
        Via::Orchestrator => format!("{id}__{tool}"),
        Via::Peer => format!("{id}_{tool}"),
    };
    if names.contains(&want) {
        Ok(want)
    } else {
        bail!("{} has no tool {want}; it lists {names:?}", via.label())
    }
}

const STOP_GRACE: Duration = Duration::from_secs(8);

async fn sequential(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: &JsonObject,
    n: usize,
) -> Result<Samples> {
    let mut s = Samples::default();
    for _ in 0..n {
        let t = Instant::now();
        call(peer, tool, args).await?;
        s.push(t.elapsed());
    }
    Ok(s)
}

async fn concurrent(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: &JsonObject,
    tasks: usize,
    per_task: usize,
) -> Result<(Samples, Duration)> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (peer, tool, args) = (peer.clone(), tool.to_owned(), args.clone());
        set.spawn(async move { sequential(&peer, &tool, &args, per_task).await });
    }
    let mut all = Samples::default();
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    Ok((all, start.elapsed()))
}

fn echo_args() -> JsonObject {
    let mut m = JsonObject::new();
    m.insert("message".into(), json!("benchmark payload: hello"));
    m
}

/// RSS observations of one process.
#[derive(Default, Clone, Copy)]
struct Rss {
    idle_kib: u64,
    load_max_kib: u64,
    hwm_kib: u64,
    children_kib: u64,
}

/// Samples `pid`'s VmRSS every 20 ms until `stop` fires; returns the largest.
fn rss_sampler(pid: u32, stop: Arc<tokio::sync::Notify>) -> tokio::task::JoinHandle<u64> {
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

struct Startup {
    label: String,
    slowest_child: Option<(String, Vec<Duration>)>,
    orchestrator: Vec<Duration>,
    peer: Vec<Duration>,
}

async fn startup(ctx: &Ctx, label: &str, children: &[(&'static str, Spec)]) -> Result<Startup> {
    let ids: Vec<&str> = children.iter().map(|(id, _)| *id).collect();
    let orch = ctx.orchestrator(&format!("startup-{label}"), children)?;
    let peer = ctx.peer(&format!("startup-peer-{label}"), children)?;
    // Distinct child commands, each alone.
    let mut distinct: Vec<(&str, &Spec)> = Vec::new();
    for (id, s) in children {
        if !distinct
            .iter()
            .any(|(_, d)| d.program == s.program && d.args == s.args)
        {
            distinct.push((id, s));
        }
    }
    let mut alone: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut out = Startup {
        label: label.to_owned(),
        slowest_child: None,
        orchestrator: Vec::new(),
        peer: Vec::new(),
    };
    for run in 0..ctx.args.startup_runs {
        eprintln!("router-bench: start-up {label}, run {}", run + 1);
        for (id, spec) in &distinct {
            let s = Server::start(spec, &ctx.log(&format!("alone-{id}"))).await?;
            let (t, _) = s
                .wait_tools(|n| !n.is_empty(), Duration::from_secs(30))
                .await?;
            s.stop(STOP_GRACE).await;
            alone.entry(id).or_default().push(t);
        }
        let ready = all_children_listed(&ids);
        let s = Server::start(&orch, &ctx.log("startup-orchestrator")).await?;
        let (t, _) = s.wait_tools(&ready, Duration::from_secs(60)).await?;
        s.stop(STOP_GRACE).await;
        out.orchestrator.push(t);
        if let Some(p) = &peer {
            let s = Server::start(p, &ctx.log("startup-fastmcp")).await?;
            let (t, _) = s.wait_tools(&ready, Duration::from_secs(60)).await?;
            s.stop(STOP_GRACE).await;
            out.peer.push(t);
        }
        // Let the stopped processes go before the next cold start.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    out.slowest_child = alone
        .into_iter()
        .max_by_key(|(_, v)| median(v))
        .map(|(id, v)| (id.to_owned(), v));
    Ok(out)
}

struct Fallback {
    fallback: Samples,
    alone: Samples,
    direct: Samples,
}

async fn run(ctx: &Ctx) -> Result<String> {
    let a = &ctx.args;
    let mut report = String::new();

    // ---- 4. start-up (first, on a quiet machine) ----
    let mut startups = Vec::new();
    if !a.no_startup {
        startups.push(startup(ctx, "five Rust fixtures", &ctx.five_fixtures()).await?);
        let mixed_label = if a.everything.is_some() {
            "4 fixtures + server-everything"
        } else {
            "five fixtures (mixed flags)"
        };
        startups.push(startup(ctx, mixed_label, &ctx.five()).await?);
    }

    // ---- load phase: direct children, the orchestrator and the peer, all up at once ----
    eprintln!("router-bench: starting the load-phase servers");
    let five = ctx.five();
    let ids: Vec<&str> = five.iter().map(|(id, _)| *id).collect();
    let orch = Server::start(
        &ctx.orchestrator("load", &five)?,
        &ctx.log("load-orchestrator"),
    )
    .await?;
    let (_, orch_names) = orch
        .wait_tools(all_children_listed(&ids), Duration::from_secs(60))
        .await?;
    let peer = match ctx.peer("load-peer", &five)? {
        Some(spec) => {
            let s = Server::start(&spec, &ctx.log("load-fastmcp")).await?;
            let (_, names) = s
                .wait_tools(all_children_listed(&ids), Duration::from_secs(60))
                .await?;
            Some((s, names))
        }
        None => None,
    };
    let mut kinds = vec![(Kind::Fixture, ctx.fixture(&[]))];
    if let Some(e) = ctx.everything() {
        kinds.push((Kind::Everything, e));
    }
    let mut direct = Vec::new();
    for (kind, spec) in &kinds {
        let s = Server::start(spec, &ctx.log(&format!("direct-{}", kind.id()))).await?;
        let (_, names) = s
            .wait_tools(|n| !n.is_empty(), Duration::from_secs(30))
            .await?;
        direct.push((*kind, s, names));
    }
    let vendor_b = Server::start(
        &ctx.fixture(&["--vendor", "b"]),
        &ctx.log("direct-vendor_b"),
    )
    .await?;

    // Idle RSS: everything up, nothing called for a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut rss: BTreeMap<Via, Rss> = BTreeMap::new();
    let mut procs = vec![(Via::Orchestrator, orch.pid)];
    if let Some((p, _)) = &peer {
        procs.push((Via::Peer, p.pid));
    }
    for (via, pid) in &procs {
        let (idle, _) = rss_kib(*pid).context("read /proc/PID/status")?;
        rss.insert(
            *via,
            Rss {
                idle_kib: idle,
                children_kib: descendants_rss_kib(*pid),
                ..Rss::default()
            },
        );
    }

    // Targets per kind: (via, peer, tool name).
    let mut targets: Vec<(Kind, Via, Peer<RoleClient>, String)> = Vec::new();
    for (kind, s, names) in &direct {
        targets.push((
            *kind,
            Via::Direct,
            s.peer(),
            tool_name(names, Via::Direct, kind.id(), "echo")?,
        ));
        targets.push((
            *kind,
            Via::Orchestrator,
            orch.peer(),
            tool_name(&orch_names, Via::Orchestrator, kind.id(), "echo")?,
        ));
        if let Some((p, names)) = &peer {
            targets.push((
                *kind,
                Via::Peer,
                p.peer(),
                tool_name(names, Via::Peer, kind.id(), "echo")?,
            ));
        }
    }

    let args = echo_args();
    let mut load = Load::default();
    let conc = a.concurrency;
    for (kind, _) in &kinds {
        for round in 0..a.rounds {
            let mut these: Vec<_> = targets
                .iter()
                .filter(|t| t.0 == *kind && (t.1 != Via::Peer || round < a.peer_rounds))
                .collect();
            // Alternate the order so no target always goes first.
            if round % 2 == 1 {
                these.reverse();
            }
            for (k, via, p, tool) in these {
                let (n, per_task) = if *via == Via::Peer {
                    (
                        a.calls.min(a.peer_calls),
                        a.calls_per_task.min(a.peer_calls_per_task),
                    )
                } else {
                    (a.calls, a.calls_per_task)
                };
                eprintln!(
                    "router-bench: {} via {} round {}: c=1 ×{n}",
                    k.id(),
                    via.label(),
                    round + 1
                );
                sequential(p, tool, &args, a.warmup.min(n / 4).max(1)).await?;
                let t = Instant::now();
                let s = sequential(p, tool, &args, n).await?;
                eprintln!(
                    "router-bench:   {:.1} s, p50 {:.0} µs, p99 {:.0} µs",
                    t.elapsed().as_secs_f64(),
                    s.p50(),
                    s.p99()
                );
                load.samples.entry((*k, 1, *via)).or_default().extend(s);

                eprintln!(
                    "router-bench: {} via {} round {}: c={conc} ×{}",
                    k.id(),
                    via.label(),
                    round + 1,
                    conc * per_task
                );
                concurrent(p, tool, &args, conc, (a.warmup / 8).clamp(1, per_task)).await?;
                let stop = Arc::new(tokio::sync::Notify::new());
                let sampler = procs
                    .iter()
                    .find(|(v, _)| v == via)
                    .map(|(_, pid)| rss_sampler(*pid, stop.clone()));
                let (s, wall) = concurrent(p, tool, &args, conc, per_task).await?;
                stop.notify_one();
                if let Some(h) = sampler {
                    let max = h.await?;
                    let r = rss.entry(*via).or_default();
                    r.load_max_kib = r.load_max_kib.max(max);
                }
                let calls = s.len();
                eprintln!(
                    "router-bench:   {:.1} s, {:.0} calls/s, p50 {:.0} µs, p99 {:.0} µs",
                    wall.as_secs_f64(),
                    calls as f64 / wall.as_secs_f64(),
                    s.p50(),
                    s.p99()
                );
                load.samples.entry((*k, conc, *via)).or_default().extend(s);
                let w = load.wall.entry((*k, conc, *via)).or_default();
                w.0 += calls;
                w.1 += wall;
            }
        }
    }
    for (via, pid) in &procs {
        if let Some((_, hwm)) = rss_kib(*pid) {
            rss.entry(*via).or_default().hwm_kib = hwm;
        }
    }

    // ---- 5. fallback ----
    eprintln!("router-bench: fallback");
    let chat = |vendor: Option<&str>| {
        let mut m = JsonObject::new();
        m.insert("message".into(), json!("hi"));
        if let Some(v) = vendor {
            m.insert("vendor".into(), json!(v));
        }
        m
    };
    let op = orch.peer();
    let vb = vendor_b.peer();
    let (fb_args, alone_args, direct_args) = (chat(None), chat(Some("vendor_b")), chat(None));
    let mut fb = Fallback {
        fallback: Samples::default(),
        alone: Samples::default(),
        direct: Samples::default(),
    };
    for round in 0..a.rounds {
        let n = a.fallback_calls / a.rounds.max(1);
        let w = a.warmup / 2;
        let mut order = [0, 1, 2];
        if round % 2 == 1 {
            order.reverse();
        }
        for which in order {
            match which {
                0 => {
                    sequential(&op, "chat", &fb_args, w).await?;
                    fb.fallback
                        .extend(sequential(&op, "chat", &fb_args, n).await?);
                }
                1 => {
                    sequential(&op, "chat", &alone_args, w).await?;
                    fb.alone
                        .extend(sequential(&op, "chat", &alone_args, n).await?);
                }
                _ => {
                    sequential(&vb, "chat", &direct_args, w).await?;
                    fb.direct
                        .extend(sequential(&vb, "chat", &direct_args, n).await?);
                }
            }
        }
    }
    // The orchestrator's own view of its overhead (handler time minus time waiting on the child).
    let status = orch_status(&orch.peer()).await.unwrap_or(Value::Null);

    // ---- stop everything ----
    for (_, s, _) in direct {
        s.stop(STOP_GRACE).await;
    }
    vendor_b.stop(STOP_GRACE).await;
    orch.stop(STOP_GRACE).await;
    if let Some((p, _)) = peer {
        p.stop(STOP_GRACE).await;
    }

    write_report(
        &mut report,
        ctx,
        &kinds,
        &load,
        &rss,
        &startups,
        &fb,
        &status,
    )?;
    Ok(report)
}

async fn orch_status(peer: &Peer<RoleClient>) -> Result<Value> {
    let r = peer
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "orchestrator_status",
        ))
        .await?;
    r.structured_content.context("no structuredContent")
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `a − b` in ms, signed.
fn signed_ms(a: Duration, b: Duration) -> f64 {
    (a.as_secs_f64() - b.as_secs_f64()) * 1000.0
}

fn range_ms(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!("{} ({}–{})", ms(median(v)), ms(min), ms(max))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "**holds**" } else { "**missed**" }
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    out: &mut String,
    ctx: &Ctx,
    kinds: &[(Kind, Spec)],
    load: &Load,
    rss: &BTreeMap<Via, Rss>,
    startups: &[Startup],
    fb: &Fallback,
    status: &Value,
) -> Result<()> {
    let a = &ctx.args;
    let conc = a.concurrency;
    let has_peer = a.fastmcp.is_some();
    let get = |k: Kind, c: usize, v: Via| load.samples.get(&(k, c, v));
    let tput = |k: Kind, v: Via| {
        load.wall
            .get(&(k, conc, v))
            .map(|(n, w)| *n as f64 / w.as_secs_f64())
    };
    let mut json_out = json!({});

    writeln!(
        out,
        "### 1. `tools/call` latency, direct vs through (µs)\n\n\
         {} rounds × {} calls at c=1 and {} rounds × {}×{} calls at c={conc} per target{}; \
         added = through − direct at the same percentile; ratio = through ÷ direct.\n",
        a.rounds,
        a.calls,
        a.rounds,
        conc,
        a.calls_per_task,
        if has_peer {
            format!(
                " (fastmcp: {} round × {} and {}×{})",
                a.peer_rounds.min(a.rounds),
                a.calls.min(a.peer_calls),
                conc,
                a.calls_per_task.min(a.peer_calls_per_task)
            )
        } else {
            String::new()
        }
    )?;
    let mut head = String::from(
        "| child | c | direct p50 | direct p99 | orchestrator p50 | orchestrator p99 | added p50 | added p99 | ratio p50 | ratio p99 |",
    );
    let mut sep = String::from("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if has_peer {
        head.push_str(" fastmcp p50 | fastmcp p99 | fastmcp added p50 |");
        sep.push_str("---:|---:|---:|");
    }
    writeln!(out, "{head}\n{sep}")?;
    let mut worst_added = (0.0f64, 0.0f64);
    for (k, _) in kinds {
        for c in [1, conc] {
            let (Some(d), Some(o)) = (get(*k, c, Via::Direct), get(*k, c, Via::Orchestrator))
            else {
                continue;
            };
            let (d50, d99, o50, o99) = (d.p50(), d.p99(), o.p50(), o.p99());
            if c == 1 {
                worst_added.0 = worst_added.0.max(o50 - d50);
                worst_added.1 = worst_added.1.max(o99 - d99);
            }
            write!(
                out,
                "| {} | {c} | {d50:.0} | {d99:.0} | {o50:.0} | {o99:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
                k.label(),
                o50 - d50,
                o99 - d99,
                o50 / d50,
                o99 / d99
            )?;
            let mut row = json!({"direct": {"p50_us": d50, "p99_us": d99, "n": d.len()},
                                 "orchestrator": {"p50_us": o50, "p99_us": o99, "n": o.len()}});
            if let Some(p) = get(*k, c, Via::Peer) {
                write!(
                    out,
                    " {:.0} | {:.0} | {:.0} |",
                    p.p50(),
                    p.p99(),
                    p.p50() - d50
                )?;
                row["fastmcp"] = json!({"p50_us": p.p50(), "p99_us": p.p99(), "n": p.len()});
            } else if has_peer {
                write!(out, " – | – | – |")?;
            }
            writeln!(out)?;
            json_out["latency"][k.id()][c.to_string()] = row;
        }
    }

    writeln!(
        out,
        "\n### 2. Throughput at c={conc} (calls/s, total calls ÷ total wall time over the rounds)\n"
    )?;
    let mut head = String::from("| child | direct | orchestrator | orchestrator ÷ direct |");
    let mut sep = String::from("|---|---:|---:|---:|");
    if has_peer {
        head.push_str(" fastmcp | fastmcp ÷ direct |");
        sep.push_str("---:|---:|");
    }
    writeln!(out, "{head}\n{sep}")?;
    let mut worst_tput = f64::INFINITY;
    for (k, _) in kinds {
        let (Some(d), Some(o)) = (tput(*k, Via::Direct), tput(*k, Via::Orchestrator)) else {
            continue;
        };
        worst_tput = worst_tput.min(o / d);
        write!(
            out,
            "| {} | {d:.0} | {o:.0} | {:.0} % |",
            k.label(),
            100.0 * o / d
        )?;
        json_out["throughput"][k.id()] = json!({"direct": d, "orchestrator": o});
        if let Some(p) = tput(*k, Via::Peer) {
            write!(out, " {p:.0} | {:.0} % |", 100.0 * p / d)?;
            json_out["throughput"][k.id()]["fastmcp"] = json!(p);
        } else if has_peer {
            write!(out, " – | – |")?;
        }
        writeln!(out)?;
    }

    writeln!(
        out,
        "\n### 3. Memory of the aggregator process itself, five children (MiB)\n\n\
         idle = VmRSS after start-up and 1 s without calls; under load = largest VmRSS sampled every 20 ms \
         during the c={conc} runs through it; VmHWM = peak at the end of the load phase; children = \
         sum of the VmRSS of all its descendants when idle (not included in the other columns).\n"
    )?;
    writeln!(
        out,
        "| process | idle VmRSS | VmRSS under load (max) | VmHWM | its children (sum) |\n|---|---:|---:|---:|---:|"
    )?;
    for (via, r) in rss {
        let label = match via {
            Via::Orchestrator => "mcp-orchestrator",
            _ => "fastmcp (python)",
        };
        writeln!(
            out,
            "| {label} | {} | {} | {} | {} |",
            mib(r.idle_kib),
            mib(r.load_max_kib),
            mib(r.hwm_kib),
            mib(r.children_kib)
        )?;
        json_out["rss_kib"][via.label()] = json!({"idle": r.idle_kib, "load_max": r.load_max_kib, "hwm": r.hwm_kib, "children": r.children_kib});
    }

    writeln!(
        out,
        "\n### 4. Start-up: spawn → first `tools/list` answer listing all five children (ms)\n\n\
         median (min–max) of {} cold starts each; \"slowest child alone\" = the child whose own \
         spawn → `initialize` → `tools/list` median is largest, started directly by the bench.\n",
        a.startup_runs
    )?;
    let mut head = String::from(
        "| children | slowest child alone | orchestrator | orchestrator − slowest (medians) |",
    );
    let mut sep = String::from("|---|---:|---:|---:|");
    if has_peer {
        head.push_str(" fastmcp | fastmcp − slowest |");
        sep.push_str("---:|---:|");
    }
    writeln!(out, "{head}\n{sep}")?;
    let mut worst_startup = f64::NEG_INFINITY;
    for s in startups {
        let Some((id, alone)) = &s.slowest_child else {
            continue;
        };
        let extra = signed_ms(median(&s.orchestrator), median(alone));
        worst_startup = worst_startup.max(extra);
        write!(
            out,
            "| {} | {} (`{id}`) | {} | {extra:+.1} |",
            s.label,
            range_ms(alone),
            range_ms(&s.orchestrator),
        )?;
        if !s.peer.is_empty() {
            write!(
                out,
                " {} | {:+.1} |",
                range_ms(&s.peer),
                signed_ms(median(&s.peer), median(alone))
            )?;
        }
        writeln!(out)?;
        let v = |d: &[Duration]| {
            d.iter()
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect::<Vec<_>>()
        };
        json_out["startup_ms"][&s.label] = json!({"slowest_child": id, "alone": v(alone),
            "orchestrator": v(&s.orchestrator), "fastmcp": v(&s.peer)});
    }

    writeln!(
        out,
        "\n### 5. Fallback: unified `chat`, c=1 (µs)\n\n\
         vendor_a answers at once with a retryable 503-style tool error (`--mode unavailable`); config \
         `retry_attempts: 1` and the circuit breaker out of reach, so every call tries vendor_a, then vendor_b.\n"
    )?;
    writeln!(out, "| path | p50 | p99 |\n|---|---:|---:|")?;
    for (label, s) in [
        ("`chat`: vendor_a fails, vendor_b answers", &fb.fallback),
        (
            "`chat` with `vendor: vendor_b` (the second vendor alone)",
            &fb.alone,
        ),
        ("vendor_b's `chat` direct (no orchestrator)", &fb.direct),
    ] {
        writeln!(out, "| {label} | {:.0} | {:.0} |", s.p50(), s.p99())?;
    }
    writeln!(
        out,
        "| fallback cost (first row − second row) | {:.0} | {:.0} |",
        fb.fallback.p50() - fb.alone.p50(),
        fb.fallback.p99() - fb.alone.p99()
    )?;
    json_out["fallback_us"] = json!({
        "fallback": {"p50": fb.fallback.p50(), "p99": fb.fallback.p99()},
        "second_alone": {"p50": fb.alone.p50(), "p99": fb.alone.p99()},
        "direct": {"p50": fb.direct.p50(), "p99": fb.direct.p99()},
    });

    if let Some(m) = status.pointer("/servers/fixture/metrics") {
        let o = &m["overhead_us"];
        writeln!(
            out,
            "\nThe orchestrator's own overhead metric for `fixture` (handler entry → answer minus time \
             waiting on the child, last 1024 calls, i.e. the c={conc} runs): p50 {} µs, p99 {} µs.",
            o["p50"], o["p99"]
        )?;
        json_out["orchestrator_metrics_fixture"] = m.clone();
    }

    let orch_rss = rss.get(&Via::Orchestrator).copied().unwrap_or_default();
    writeln!(
        out,
        "\n### Targets\n\n| target | measured | verdict |\n|---|---|---|"
    )?;
    writeln!(
        out,
        "| added p50 at c=1 ≤ 50 µs | {:.0} µs (worst child) | {} |",
        worst_added.0,
        verdict(worst_added.0 <= 50.0)
    )?;
    writeln!(
        out,
        "| added p99 at c=1 ≤ 250 µs | {:.0} µs (worst child) | {} |",
        worst_added.1,
        verdict(worst_added.1 <= 250.0)
    )?;
    writeln!(
        out,
        "| throughput through ≥ 90 % of direct at c={conc} | {:.0} % (worst child) | {} |",
        100.0 * worst_tput,
        verdict(worst_tput >= 0.9)
    )?;
    let peak = orch_rss
        .load_max_kib
        .max(orch_rss.idle_kib)
        .max(orch_rss.hwm_kib);
    writeln!(
        out,
        "| orchestrator RSS ≤ 20 MB with five children | {} MiB peak (VmHWM), {} MiB idle | {} |",
        mib(peak),
        mib(orch_rss.idle_kib),
        verdict(peak as f64 * 1024.0 <= 20e6)
    )?;
    writeln!(
        out,
        "| start-up ≤ slowest child + 20 ms | {worst_startup:+.1} ms (worst configuration) | {} |",
        verdict(worst_startup <= 20.0)
    )?;

    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&json_out)?)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    for (what, p) in [
        ("orchestrator", &args.orchestrator),
        ("fixture", &args.fixture),
    ] {
        if !p.exists() {
            bail!("--{what} {}: no such file", p.display());
        }
    }
    let dir = match &args.workdir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("router-bench-{}", std::process::id())),
    };
    for sub in ["config", "logs", "run"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let keep = args.workdir.is_some();
    let ctx = Ctx {
        args,
        dir: dir.clone(),
        log_n: 0.into(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(run(&ctx));
    rt.shutdown_timeout(Duration::from_secs(2));
    match report {
        Ok(r) => {
            print!("{r}");
            if !keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "router-bench: failed; configs and server logs kept in {}",
                dir.display()
            );
            Err(e)
        }
    }
}
