//! The fleet (`--fleet`, issue #18 item 5): stateless (2026-07-28) `tools/call`s of the fixture
//! child's `echo` sent as raw JSON-RPC POSTs over HTTP keep-alive (as tests/integration/fleet.rs's
//! `modern_call`, one connection per caller) to 1, 2 and 3 `serve --http` replicas behind haproxy
//! running the shipped recipe (`deploy/haproxy/haproxy.cfg`, round-robin; its `bind` and `server`
//! lines pointed at our ports), every replica on one PostgreSQL database; and one replica without
//! haproxy, for the cost of the balancer's hop. Per case: calls/s over a fixed time, p50/p99, the
//! split between replicas, and the CPU per call of each kind of process. Then the takeover: a
//! replica SIGKILLed while it drives a workflow step, under load through haproxy; how long until
//! a survivor runs the step again (each replica in a UTS namespace of its own, so the survivor
//! waits the lease out as on separate machines), when haproxy takes the dead one out, and what
//! the callers saw meanwhile.

pub mod http;
pub mod procs;
pub mod report;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use self::{
    http::{Conn, call_result, modern_request},
    procs::{Haproxy, Replica, TOKEN, find_haproxy, uts_namespaces},
};
use super::workflows::{Pg, pg, psql, with_db};
use crate::{
    ctx::Ctx,
    server::{ProcCounters, ProcUsage},
    stats::Samples,
};

/// Where a case sends its calls.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Route {
    /// One replica, no haproxy: the baseline for the balancer's hop.
    Alone,
    /// N replicas behind haproxy.
    Haproxy(usize),
}

/// The process groups whose CPU is counted per call.
pub const GROUPS: [&str; 5] = [
    "replicas",
    "fixture children",
    "haproxy",
    "PostgreSQL",
    "client",
];

/// One path × concurrency.
#[derive(Debug)]
pub struct Case {
    pub path: Route,
    pub conc: usize,
    pub latency: Samples,
    pub ok: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub wall: Duration,
    /// Answers per replica, by haproxy's `X-Mcp-Replica` (empty without haproxy).
    pub per_replica: BTreeMap<String, usize>,
    /// CPU of each of [`GROUPS`] over the measured batch (absent: not measured).
    pub cpu: BTreeMap<&'static str, ProcUsage>,
    /// `/proc/loadavg` (1, 5, 15 min) when the case started.
    pub loadavg: String,
}

/// One SIGKILL trial.
#[derive(Debug, Default)]
pub struct Kill {
    pub replicas: usize,
    pub conc: usize,
    /// Kill → a survivor ran the interrupted (safe to repeat) step again.
    pub takeover: Option<Duration>,
    /// Kill → haproxy logged the dead replica DOWN (its health check).
    pub down: Option<Duration>,
    /// Calls/s and p99 (µs) over the 2 s before the kill.
    pub before: (f64, f64),
    /// Calls/s from the kill until haproxy took the replica out, and after that.
    pub until_down: f64,
    pub after_down: f64,
    /// Calls that failed after the kill, and the slowest call after it.
    pub failed_after: usize,
    /// Calls that failed in the whole trial (before the kill too).
    pub failed: usize,
    pub slowest_after: Duration,
    pub first_error: Option<String>,
    /// The run's final status, read through a survivor.
    pub run_status: String,
}

/// Everything the fleet phase measured.
#[derive(Debug, Default)]
pub struct FleetResults {
    pub cases: Vec<Case>,
    pub kills: Vec<Kill>,
    /// Why nothing (or no takeover) was measured.
    pub skipped: Option<String>,
    pub pg_note: Option<String>,
    /// Replicas in UTS namespaces of their own (else on one host: the survivor sees the dead pid).
    pub uts: bool,
    pub haproxy_version: String,
}

/// The fixture's `echo`, as every case calls it.
const TOOL: &str = "fx__echo";
const MESSAGE: &str = "benchmark payload: hello";

/// The whole phase: cases, then kills; the database and a PostgreSQL it started are removed.
pub async fn run(ctx: &Ctx) -> Result<FleetResults> {
    let mut res = FleetResults::default();
    let Some(haproxy) = find_haproxy(ctx.args.haproxy.as_deref()) else {
        res.skipped = Some("haproxy is not installed (scripts/setup-system.sh test)".into());
        return Ok(res);
    };
    res.haproxy_version = haproxy_version(&haproxy).await;
    let pg = match pg(ctx).await? {
        Ok(pg) => pg,
        Err(note) => {
            res.skipped = Some(format!("PostgreSQL {note}"));
            return Ok(res);
        }
    };
    let db = format!("router_bench_fleet_{}", std::process::id());
    let url = match psql(&pg.url, &format!("CREATE DATABASE {db}")).await {
        Ok(()) => with_db(&pg.url, &db),
        Err(e) => {
            res.pg_note = Some(format!("no database of its own ({e}): used `{}`", pg.url));
            pg.url.clone()
        }
    };
    res.pg_note.get_or_insert_with(|| {
        if pg.started.is_some() {
            "a throwaway server started by `scripts/postgres.sh` (fsync off, synchronous_commit off)".into()
        } else {
            "the server given with `--pg-url`".into()
        }
    });
    res.uts = uts_namespaces();
    let r = measure(ctx, &haproxy, &url, &pg, &mut res).await;
    if url != pg.url {
        let _ = psql(
            &pg.url,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
    pg.stop().await;
    r.map(|()| res)
}

async fn haproxy_version(bin: &Path) -> String {
    let out = tokio::process::Command::new(bin).arg("-v").output().await;
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "haproxy (version unknown)".into())
}

/// The replicas' shared config, its workflow, and where the workflow's steps record themselves.
struct Setup {
    config: PathBuf,
    dir: PathBuf,
    record: PathBuf,
    haproxy: PathBuf,
    /// The postmaster's pid, when we know it (a server we started): its processes' CPU is
    /// counted as the store's.
    postmaster: Option<u32>,
}

async fn measure(
    ctx: &Ctx,
    haproxy: &Path,
    url: &str,
    pg: &Pg,
    res: &mut FleetResults,
) -> Result<()> {
    let a = &ctx.args;
    let setup = write_setup(ctx, url, haproxy, pg)?;
    let mut counts = a.fleet_replicas.clone();
    counts.sort_unstable();
    counts.dedup();
    let mut concs = a.fleet_concurrency.clone();
    concs.sort_unstable();
    concs.dedup();
    let mut paths = vec![Route::Alone];
    paths.extend(counts.iter().map(|&n| Route::Haproxy(n)));
    for path in paths {
        let n = match path {
            Route::Alone => 1,
            Route::Haproxy(n) => n,
        };
        let replicas = start_replicas(ctx, &setup, n, res.uts).await?;
        let lb = match path {
            Route::Alone => None,
            Route::Haproxy(_) => Some(start_lb(ctx, &setup, &replicas).await?),
        };
        let port = lb.as_ref().map_or(replicas[0].port, |l| l.port);
        for &conc in &concs {
            eprintln!(
                "router-bench: fleet {} c={conc}: warm-up {} s, then {} s",
                label(path),
                a.fleet_warmup_seconds,
                a.fleet_seconds
            );
            let loadavg = loadavg();
            drive_for(port, conc, Duration::from_secs(a.fleet_warmup_seconds)).await?;
            let groups = groups(&setup, &replicas, lb.as_ref());
            let before = read_groups(&groups);
            let d = drive_for(port, conc, Duration::from_secs(a.fleet_seconds)).await?;
            let after = read_groups(&groups);
            let case = d.into_case(path, conc, usage(&before, &after), loadavg);
            eprintln!(
                "router-bench:   {:.0} calls/s, p50 {:.0} µs, p99 {:.0} µs, {} failed, split {:?}",
                case.ok as f64 / case.wall.as_secs_f64(),
                case.latency.p50(),
                case.latency.p99(),
                case.failed,
                case.per_replica
            );
            res.cases.push(case);
        }
        // Dropped: SIGKILL for all (the database is the bench's alone).
        drop(lb);
        drop(replicas);
    }
    let n = counts.last().copied().unwrap_or(2).max(2);
    let conc = concs[0];
    for trial in 0..a.fleet_kills {
        eprintln!(
            "router-bench: fleet takeover {}/{}: {n} replicas, c={conc}, lease_ttl {} s",
            trial + 1,
            a.fleet_kills,
            a.fleet_lease_ttl
        );
        let k = kill_trial(ctx, &setup, n, conc, res.uts).await?;
        eprintln!(
            "router-bench:   takeover after {:?}, haproxy DOWN after {:?}, {} failed after the kill, slowest {:?}",
            k.takeover, k.down, k.failed_after, k.slowest_after
        );
        res.kills.push(k);
    }
    Ok(())
}

pub fn label(path: Route) -> String {
    match path {
        Route::Alone => "1 replica, no haproxy".into(),
        Route::Haproxy(1) => "1 replica behind haproxy".into(),
        Route::Haproxy(n) => format!("{n} replicas behind haproxy"),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The config every replica runs (default settings but the store and the lease), with the
/// takeover's workflow: `s1` → `s2` (5 s, declared idempotent: repeated after a takeover) →
/// `s3`, each appending its name to the record file.
fn write_setup(ctx: &Ctx, url: &str, haproxy: &Path, pg: &Pg) -> Result<Setup> {
    let dir = ctx.dir.join("fleet");
    let cfg_dir = dir.join("config");
    std::fs::create_dir_all(cfg_dir.join("workflows"))?;
    let record = dir.join("record.log");
    let file = record.to_str().context("utf-8 path")?;
    let step = |name: &str, tool: &str, ms: u64, deps: &[&str]| {
        json!({"name": name, "mcp": "fx", "action": tool, "dependsOn": deps,
               "params": {"file": file, "label": name, "ms": ms}})
    };
    let safe = json!({"name": "safe", "version": "1", "steps": [
        step("s1", "record", 0, &[]), step("s2", "record_safe", 5000, &["s1"]),
        step("s3", "record", 0, &["s2"])
    ]});
    std::fs::write(
        cfg_dir.join("workflows").join("safe.json"),
        serde_json::to_vec_pretty(&safe)?,
    )?;
    let cfg = json!({
        "servers": {"fx": {"command": ctx.args.fixture, "args": []}},
        "orchestrator": {"store": url, "lease_ttl": ctx.args.fleet_lease_ttl},
    });
    let config = cfg_dir.join("mcp_servers.json");
    std::fs::write(&config, serde_json::to_vec_pretty(&cfg)?)?;
    let postmaster = pg.started.as_ref().and_then(|(_, d)| {
        let pid = std::fs::read_to_string(d.join("data").join("postmaster.pid")).ok()?;
        pid.lines().next()?.trim().parse().ok()
    });
    Ok(Setup {
        config,
        dir: dir.join("run"),
        record,
        haproxy: haproxy.to_owned(),
        postmaster,
    })
}

/// `n` replicas, mcp1…mcpN (haproxy's server names too), started one after another.
async fn start_replicas(ctx: &Ctx, setup: &Setup, n: usize, uts: bool) -> Result<Vec<Replica>> {
    let mut v = Vec::new();
    for i in 1..=n {
        let name = format!("mcp{i}");
        let host = format!("replica-{i}");
        v.push(
            Replica::start(
                &ctx.args.orchestrator,
                &setup.config,
                &setup.dir,
                &name,
                uts.then_some(host.as_str()),
                &ctx.log(&format!("fleet-{name}")),
            )
            .await?,
        );
    }
    Ok(v)
}

async fn start_lb(ctx: &Ctx, setup: &Setup, replicas: &[Replica]) -> Result<Haproxy> {
    let refs: Vec<&Replica> = replicas.iter().collect();
    Haproxy::start(
        &setup.haproxy,
        &ctx.args.haproxy_recipe,
        &setup.dir,
        &refs,
        &ctx.log(&format!("fleet-haproxy-{}", replicas.len())),
    )
    .await
}

/// The pids of each counted group now.
fn groups(
    setup: &Setup,
    replicas: &[Replica],
    lb: Option<&Haproxy>,
) -> Vec<(&'static str, Vec<u32>)> {
    let pids: Vec<u32> = replicas.iter().map(|r| r.pid).collect();
    let children = pids.iter().flat_map(|&p| children_of(p)).collect();
    let mut g = vec![(GROUPS[0], pids), (GROUPS[1], children)];
    if let Some(lb) = lb {
        g.push((GROUPS[2], vec![lb.pid]));
    }
    if let Some(pm) = setup.postmaster {
        let mut v = vec![pm];
        v.extend(children_of(pm));
        g.push((GROUPS[3], v));
    }
    g.push((GROUPS[4], vec![std::process::id()]));
    g
}

/// `pid`'s child processes (`/proc/PID/task/*/children`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

type Counters = Vec<(&'static str, Vec<(u32, ProcCounters)>)>;

fn read_groups(groups: &[(&'static str, Vec<u32>)]) -> Counters {
    groups
        .iter()
        .map(|(g, pids)| {
            (
                *g,
                pids.iter()
                    .filter_map(|&p| Some((p, ProcCounters::read(p)?)))
                    .collect(),
            )
        })
        .collect()
}

/// Per group, what its processes spent between the two readings.
fn usage(before: &Counters, after: &Counters) -> BTreeMap<&'static str, ProcUsage> {
    let mut m = BTreeMap::new();
    for ((g, b), (_, a)) in before.iter().zip(after) {
        let e: &mut ProcUsage = m.entry(*g).or_default();
        for (pid, after) in a {
            if let Some((_, before)) = b.iter().find(|(p, _)| p == pid) {
                e.add(after.since(before));
            }
        }
    }
    m
}

/// One call as a caller saw it: when it started (from the batch's start), how long it took,
/// whether it succeeded.
#[derive(Clone, Copy, Debug)]
struct Event {
    at: Duration,
    took: Duration,
    ok: bool,
}

/// A batch of calls from `conc` callers.
struct Driven {
    events: Vec<Event>,
    per_replica: BTreeMap<String, usize>,
    first_error: Option<String>,
    wall: Duration,
}

impl Driven {
    fn into_case(
        self,
        path: Route,
        conc: usize,
        cpu: BTreeMap<&'static str, ProcUsage>,
        loadavg: String,
    ) -> Case {
        let mut latency = Samples::default();
        let mut failed = 0;
        for e in &self.events {
            if e.ok {
                latency.push(e.took);
            } else {
                failed += 1;
            }
        }
        Case {
            path,
            conc,
            ok: latency.len(),
            latency,
            failed,
            first_error: self.first_error,
            wall: self.wall,
            per_replica: if path == Route::Alone {
                BTreeMap::new()
            } else {
                self.per_replica
            },
            cpu,
            loadavg,
        }
    }
}

/// `conc` callers for `secs`.
async fn drive_for(port: u16, conc: usize, secs: Duration) -> Result<Driven> {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let d = drive(port, conc, stop, Instant::now()).await;
    timer.abort();
    d
}

/// `conc` callers, each on its own keep-alive connection, each sending its next call when the
/// previous one is answered, until `stop`. A failed call is counted and the caller goes on (on
/// a new connection if the old one broke): the takeover trial needs to see failures, not stop.
async fn drive(port: u16, conc: usize, stop: Arc<AtomicBool>, t0: Instant) -> Result<Driven> {
    let mut set = tokio::task::JoinSet::new();
    for task in 0..conc {
        let stop = stop.clone();
        set.spawn(async move {
            let mut conn = Conn::new(port);
            let mut events = Vec::new();
            let mut per_replica: BTreeMap<String, usize> = BTreeMap::new();
            let mut first_error = None;
            // Ids unique across callers; the body is built around the id once.
            let (headers, body) = modern_request(
                TOKEN,
                0,
                "tools/call",
                json!({"name": TOOL, "arguments": {"message": MESSAGE}}),
            );
            let body = String::from_utf8(body).unwrap_or_default();
            let (head, tail) = body.split_once("\"id\":0").unwrap_or((&body, ""));
            let want = format!("echo: {MESSAGE}");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = (task as u64) << 32 | n;
                let req = format!("{head}\"id\":{id}{tail}");
                let start = Instant::now();
                let r = conn
                    .request("POST", "/mcp", &headers, req.as_bytes())
                    .await
                    .and_then(|r| {
                        let result = call_result(&r, id)?;
                        if result["content"][0]["text"].as_str() != Some(want.as_str()) {
                            bail!("unexpected result {result}");
                        }
                        Ok(r.replica)
                    });
                let took = start.elapsed();
                let ok = match r {
                    Ok(replica) => {
                        if let Some(name) = replica {
                            *per_replica.entry(name).or_default() += 1;
                        }
                        true
                    }
                    Err(e) => {
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        // Do not spin on a refused connection.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        false
                    }
                };
                events.push(Event {
                    at: start - t0,
                    took,
                    ok,
                });
            }
            (events, per_replica, first_error)
        });
    }
    let mut d = Driven {
        events: Vec::new(),
        per_replica: BTreeMap::new(),
        first_error: None,
        wall: Duration::ZERO,
    };
    while let Some(r) = set.join_next().await {
        let (events, per_replica, err) = r?;
        d.events.extend(events);
        for (k, v) in per_replica {
            *d.per_replica.entry(k).or_default() += v;
        }
        if d.first_error.is_none() {
            d.first_error = err;
        }
    }
    d.wall = t0.elapsed();
    Ok(d)
}

/// One `tools/call` to a replica's own port; its result.
async fn call(port: u16, id: u64, tool: &str, args: Value) -> Result<Value> {
    let (headers, body) = modern_request(
        TOKEN,
        id,
        "tools/call",
        json!({"name": tool, "arguments": args}),
    );
    let r = Conn::new(port)
        .request("POST", "/mcp", &headers, &body)
        .await?;
    call_result(&r, id).with_context(|| format!("{tool} on port {port}"))
}

fn recorded(file: &Path, label: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == label)
        .count()
}

/// A fresh fleet of `n` under load at `conc` through haproxy; a workflow run started on mcp1
/// and mcp1 SIGKILLed while the run's 5 s step is running there.
async fn kill_trial(ctx: &Ctx, setup: &Setup, n: usize, conc: usize, uts: bool) -> Result<Kill> {
    let _ = std::fs::remove_file(&setup.record);
    let mut replicas = start_replicas(ctx, setup, n, uts).await?;
    let lb = start_lb(ctx, setup, &replicas).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let load = tokio::spawn(drive(lb.port, conc, stop.clone(), t0));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let started = call(
        replicas[0].port,
        1,
        "workflow_start",
        json!({"workflow": "safe"}),
    )
    .await?;
    let run_id = started["structuredContent"]["run_id"]
        .as_str()
        .with_context(|| format!("workflow_start answered {started}"))?
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorded(&setup.record, "s2") == 0 {
        if Instant::now() > deadline {
            bail!("step s2 never started on mcp1");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // From the signal: what the callers see starts there, not when the process is reaped.
    let killed = Instant::now();
    let kill_at = killed - t0;
    replicas[0].kill().await?;

    let mut k = Kill {
        replicas: n,
        conc,
        ..Kill::default()
    };
    // The lease's life, a maintenance tick (lease_ttl / 3) and a margin.
    let limit = Duration::from_secs_f64(ctx.args.fleet_lease_ttl * 2.0 + 20.0);
    while k.takeover.is_none() || k.down.is_none() {
        if k.takeover.is_none() && recorded(&setup.record, "s2") >= 2 {
            k.takeover = Some(killed.elapsed());
        }
        if k.down.is_none() && lb.logged_down(&replicas[0].name) {
            k.down = Some(killed.elapsed());
        }
        if killed.elapsed() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Some calls after both, for the rate once the fleet is one smaller.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let d = load.await??;

    let survivor = replicas[1].port;
    let deadline = Instant::now() + Duration::from_secs(60);
    k.run_status = loop {
        let s = call(survivor, 2, "workflow_status", json!({"run_id": run_id})).await?;
        let status = s["structuredContent"]["status"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        if !["pending", "running", "paused"].contains(&status.as_str()) {
            break status;
        }
        if Instant::now() > deadline {
            break format!("{status} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let window = |from: Duration, to: Duration| -> Vec<Event> {
        d.events
            .iter()
            .filter(|e| e.at >= from && e.at < to)
            .copied()
            .collect()
    };
    let rate = |from: Duration, to: Duration| {
        let ok = window(from, to).iter().filter(|e| e.ok).count();
        ok as f64 / (to.saturating_sub(from)).as_secs_f64().max(1e-9)
    };
    let before_from = kill_at.saturating_sub(Duration::from_secs(2));
    let mut before = Samples::default();
    for e in window(before_from, kill_at).iter().filter(|e| e.ok) {
        before.push(e.took);
    }
    k.before = (rate(before_from, kill_at), before.p99());
    let end = d.wall;
    let down_at = k.down.map_or(end, |dn| kill_at + dn);
    k.until_down = rate(kill_at, down_at);
    k.after_down = rate(down_at, end);
    // The calls the kill could touch: those in flight at that moment and those sent after it.
    let after: Vec<Event> = d
        .events
        .iter()
        .filter(|e| e.at + e.took > kill_at)
        .copied()
        .collect();
    k.failed_after = after.iter().filter(|e| !e.ok).count();
    k.failed = d.events.iter().filter(|e| !e.ok).count();
    k.slowest_after = after.iter().map(|e| e.took).max().unwrap_or_default();
    k.first_error = d.first_error;
    drop(lb);
    drop(replicas);
    Ok(k)
}
