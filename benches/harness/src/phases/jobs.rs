//! Item 8 (`--jobs`): durable jobs. For each store (an SQLite file in the working directory;
//! PostgreSQL from `--pg-url` or started with `--postgres-script`, as in [`super::workflows`])
//! and each worker-pool size of `--jobs-pool` (`jobs.max_concurrent`), a fresh `serve` with one
//! fixture child `fx`; every job is a tool job `{"tool": "fx__echo", "arguments": {"message":
//! "x"}}` (a no-op). Measured per case, all over the one MCP session:
//!
//! - c=1: `job_submit` one after another (client-side time of the call); `fx__echo` called
//!   directly through the orchestrator the same way (the MCP round trip without a job), `echo`
//!   direct to a fixture, and `job_status` of an ended job (a read);
//! - c=1, submit → completed: `job_submit` then `job_status {wait_seconds}` at once, timed from
//!   the submit to the answer, and the job report's `created_at` → `finished_at`;
//! - sustained: `--jobs-submitters` tasks for `--jobs-seconds`, each looping submit → wait;
//!   completed jobs/s and submits/s; `fx__echo` at the same concurrency for a few seconds first
//!   (what the one session carries without jobs);
//! - flood: the same submitters only submitting for `--jobs-flood-seconds` (submits/s), then the
//!   time until the pool has run the backlog;
//! - the orchestrator's RSS; the store's size before and after, per 10,000 jobs.

pub mod report;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use rmcp::{
    Peer, RoleClient,
    model::{CallToolRequestParams, JsonObject},
};
use serde_json::{Value, json};

use super::{
    STOP_GRACE,
    workflows::{Ms, Store, call, file_len, loadavg, obj, store_bytes},
};
use crate::{
    ctx::Ctx,
    server::{Server, Spec, rss_kib, rss_sampler},
};

const SUBMIT: &str = "job_submit";
const STATUS: &str = "job_status";
const ECHO: &str = "fx__echo";
/// What a waiting `job_status` asks for, per call (a job still running after it is waited on
/// again).
const WAIT_S: f64 = 60.0;
/// How long `fx__echo` is driven at the submitters' concurrency (the session's capacity).
const ECHO_CONC_SECONDS: u64 = 5;
/// Longest the pool may take to run the flood's backlog.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// A timed loop of many callers.
#[derive(Default, Debug)]
pub struct Loop {
    /// Callers.
    pub tasks: usize,
    /// Start → the last caller's last answer.
    pub wall: Duration,
    /// `job_submit` calls answered (or `fx__echo` calls, for the session baseline).
    pub submits: usize,
    /// Jobs seen `completed` by their waiting `job_status`.
    pub completed: usize,
    /// Jobs seen in another end state (failed, cancelled), or a submit refused.
    pub failed: usize,
    /// Each `job_submit`'s (or `fx__echo`'s) time.
    pub submit: Ms,
    /// Each submit → completed loop's time (submit + waiting `job_status`).
    pub cycle: Ms,
    /// From the waited-for job reports: `created_at` → `finished_at` (1-ms resolution).
    pub report_done: Ms,
    /// From the same reports: `created_at` → `started_at` (queueing before a worker took it).
    pub report_queue: Ms,
}

impl Loop {
    pub fn per_s(&self, n: usize) -> f64 {
        n as f64 / self.wall.as_secs_f64()
    }
}

/// One store × pool size.
#[derive(Default, Debug)]
pub struct Case {
    /// `/proc/loadavg` (1, 5, 15 min) when the case started, and when it ended.
    pub load: String,
    pub load_end: String,
    /// c=1: `job_submit` one after another.
    pub submit_seq: Ms,
    /// c=1: reports of a sample of those jobs (read after the batch).
    pub submit_seq_done: Ms,
    pub submit_seq_queue: Ms,
    /// c=1: `fx__echo` through the orchestrator, the same way.
    pub echo_seq: Ms,
    /// c=1: `echo` direct to a fixture started by the bench.
    pub direct_echo: Ms,
    /// c=1: `job_status` (no wait) of an ended job.
    pub status_seq: Ms,
    /// c=1: submit → waiting `job_status` → completed.
    pub wait_seq: Loop,
    /// `fx__echo` at `--jobs-submitters` concurrency for a few seconds (no jobs).
    pub echo_conc: Loop,
    /// The sustained submit → wait loops.
    pub sustained: Loop,
    /// Submit-only loops (`None`: `--jobs-flood-seconds 0`).
    pub flood: Option<Loop>,
    /// After the flood: its end → every job ended.
    pub drain: Option<Duration>,
    /// Jobs the flood left not yet ended when it stopped.
    pub backlog: Option<u64>,
    /// Largest VmRSS sampled every 20 ms during the sustained loops, KiB.
    pub rss_sustained_max_kib: u64,
    /// VmRSS and VmHWM at the end of the case, KiB.
    pub rss_end_kib: u64,
    pub hwm_kib: u64,
    /// `orchestrator_status` → `workflows.store_bytes` right after start and at the end.
    pub store_bytes_before: Option<u64>,
    pub store_bytes_after: Option<u64>,
    /// SQLite: the database file + its WAL on disk right after start and at the end.
    pub sqlite_disk_before: Option<u64>,
    pub sqlite_disk_after: Option<u64>,
    /// `orchestrator_status` → `jobs.totals` at the end (jobs in the store by state).
    pub totals: BTreeMap<String, u64>,
}

impl Case {
    /// Jobs in the store at the end.
    pub fn jobs_stored(&self) -> u64 {
        self.totals.values().sum()
    }
}

/// Everything item 8 measured.
#[derive(Default, Debug)]
pub struct Jobs {
    pub cases: BTreeMap<(Store, usize), Case>,
    /// Why a store was not measured.
    pub skipped: BTreeMap<Store, String>,
    /// How PostgreSQL was reached.
    pub pg_note: Option<String>,
}

/// Every case, store by store.
pub async fn run(ctx: &Ctx) -> Result<Jobs> {
    let a = &ctx.args;
    let r = super::workflows::per_store(
        ctx,
        &a.jobs_stores,
        &a.jobs_pool,
        "router_bench_jobs",
        async |store, pool, url| case(ctx, store, pool, url).await,
    )
    .await?;
    Ok(Jobs {
        cases: r.cases,
        skipped: r.skipped,
        pg_note: r.pg_note,
    })
}

/// The config of one case and (SQLite) its store; returns `serve`'s spec and the SQLite file.
/// A one-step workflow is loaded only so that `orchestrator_status` reports the store's size
/// (its `workflows` section is there when a workflow is); no run of it is made.
fn write_case(
    ctx: &Ctx,
    store: Store,
    pool: usize,
    pg_url: Option<&str>,
) -> Result<(Spec, Option<PathBuf>)> {
    let root = ctx.dir.join("jobs").join(format!("{}-{pool}", store.id()));
    let cfg_dir = root.join("config");
    std::fs::create_dir_all(cfg_dir.join("workflows"))?;
    // The store is not beside the config: the orchestrator watches that directory.
    std::fs::create_dir_all(root.join("store"))?;
    std::fs::create_dir_all(ctx.dir.join("state"))?;
    let (url, sqlite) = match store {
        Store::Sqlite => {
            let f = root.join("store").join("jobs.db");
            (format!("sqlite://{}", f.display()), Some(f))
        }
        Store::Postgres => (pg_url.context("no PostgreSQL URL")?.to_owned(), None),
    };
    let cfg = json!({
        "servers": {"fx": {"command": ctx.args.fixture, "args": []}},
        "orchestrator": {"store": url},
        "jobs": {"types": {}, "max_concurrent": pool},
    });
    let path = cfg_dir.join("mcp_servers.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg)?)?;
    let noop = json!({
        "name": "noop", "version": "1.0.0",
        "description": "router-bench: loaded so that the status reports the store's size; never run",
        "steps": [{"name": "a", "mcp": "fx", "action": "echo", "params": {"message": "x"}}],
    });
    std::fs::write(
        cfg_dir.join("workflows").join("noop.json"),
        serde_json::to_vec_pretty(&noop)?,
    )?;
    let spec = Spec::new(
        &ctx.args.orchestrator,
        &["--config", path.to_str().context("utf-8 path")?, "serve"],
    )
    .env("XDG_RUNTIME_DIR", ctx.dir.join("run").to_string_lossy())
    .env("XDG_STATE_HOME", ctx.dir.join("state").to_string_lossy());
    Ok((spec, sqlite))
}

fn echo_args() -> JsonObject {
    obj(json!({"message": "x"}))
}

fn submission() -> JsonObject {
    obj(json!({"tool": ECHO, "arguments": {"message": "x"}}))
}

/// One `job_submit`: the job id, checked pending (or already further).
async fn submit(peer: &Peer<RoleClient>) -> Result<String> {
    let r = call(peer, SUBMIT, submission()).await?;
    let s = r
        .structured_content
        .context("job_submit: no structuredContent")?;
    s["job_id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("job_submit: no job_id in {s}"))
}

/// `job_status` of `id`, waiting (server side) until it has ended; its report.
async fn wait_end(peer: &Peer<RoleClient>, id: &str) -> Result<Value> {
    loop {
        let r = call(
            peer,
            STATUS,
            obj(json!({"job_id": id, "wait_seconds": WAIT_S})),
        )
        .await?;
        let s = r
            .structured_content
            .context("job_status: no structuredContent")?;
        match s["status"].as_str() {
            Some("pending" | "running") => continue,
            Some(_) => return Ok(s),
            None => bail!("job_status: no status in {s}"),
        }
    }
}

/// `created_at` → `finished_at` and `created_at` → `started_at` of a job report, ms.
fn report_times(s: &Value) -> (Option<f64>, Option<f64>) {
    let created = s["created_at"].as_i64();
    let at = |k: &str| Some((s[k].as_i64()? - created?) as f64);
    (at("finished_at"), at("started_at"))
}

fn record(s: &Value, l: &mut Loop) {
    if s["status"] == "completed" {
        l.completed += 1;
    } else {
        l.failed += 1;
    }
    let (done, queue) = report_times(s);
    if let Some(d) = done {
        l.report_done.0.push(d);
    }
    if let Some(q) = queue {
        l.report_queue.0.push(q);
    }
}

/// `orchestrator_status` → `jobs.totals`.
async fn totals(peer: &Peer<RoleClient>) -> Result<BTreeMap<String, u64>> {
    let r = peer
        .call_tool(CallToolRequestParams::new("orchestrator_status"))
        .await?;
    let s = r
        .structured_content
        .context("orchestrator_status: no structuredContent")?;
    Ok(s.pointer("/jobs/totals")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default())
}

fn not_ended(t: &BTreeMap<String, u64>) -> u64 {
    ["pending", "running"]
        .iter()
        .map(|k| t.get(*k).copied().unwrap_or(0))
        .sum()
}

/// Polls the totals until no job is pending or running; how long that took.
async fn drain(peer: &Peer<RoleClient>) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if not_ended(&totals(peer).await?) == 0 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > DRAIN_LIMIT {
            bail!("jobs still not ended {DRAIN_LIMIT:?} after the flood");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What each caller of a [`timed_loop`] does per loop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Submit → wait.
    Cycle,
    /// Submit only.
    Flood,
    /// `fx__echo` only.
    Echo,
}

/// `tasks` callers sharing the one session, each looping until `secs` have passed since the
/// start (the loop under way then is finished and counted).
async fn timed_loop(peer: &Peer<RoleClient>, tasks: usize, secs: u64, kind: Kind) -> Result<Loop> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let peer = peer.clone();
        set.spawn(async move {
            let mut l = Loop::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                match kind {
                    Kind::Echo => {
                        call(&peer, ECHO, echo_args()).await?;
                        l.submit.push(t.elapsed());
                        l.submits += 1;
                    }
                    Kind::Flood => {
                        submit(&peer).await?;
                        l.submit.push(t.elapsed());
                        l.submits += 1;
                    }
                    Kind::Cycle => {
                        let id = submit(&peer).await?;
                        l.submit.push(t.elapsed());
                        l.submits += 1;
                        let s = wait_end(&peer, &id).await?;
                        l.cycle.push(t.elapsed());
                        record(&s, &mut l);
                    }
                }
            }
            anyhow::Ok(l)
        });
    }
    let mut all = Loop {
        tasks,
        ..Loop::default()
    };
    while let Some(r) = set.join_next().await {
        let l = r??;
        all.submits += l.submits;
        all.completed += l.completed;
        all.failed += l.failed;
        all.submit.0.extend(l.submit.0);
        all.cycle.0.extend(l.cycle.0);
        all.report_done.0.extend(l.report_done.0);
        all.report_queue.0.extend(l.report_queue.0);
    }
    all.wall = start.elapsed();
    Ok(all)
}

async fn case(ctx: &Ctx, store: Store, pool: usize, pg_url: Option<&str>) -> Result<Case> {
    let label = format!("{} pool={pool}", store.id());
    let mut c = Case {
        load: loadavg(),
        ..Case::default()
    };
    eprintln!("router-bench: jobs {label}: starting (loadavg {})", c.load);
    let (spec, sqlite) = write_case(ctx, store, pool, pg_url)?;
    let orch = Server::start(&spec, &ctx.log(&format!("jobs-{}-{pool}", store.id()))).await?;
    let disk = |f: &PathBuf| {
        let wal = PathBuf::from(format!("{}-wal", f.display()));
        file_len(f) + file_len(&wal)
    };
    let r = measure(ctx, &orch, &label, &mut c, || sqlite.as_ref().map(disk)).await;
    if let Some(f) = &sqlite {
        c.sqlite_disk_after = Some(disk(f));
    }
    orch.stop(STOP_GRACE).await;
    c.load_end = loadavg();
    r?;
    Ok(c)
}

async fn measure(
    ctx: &Ctx,
    orch: &Server,
    label: &str,
    c: &mut Case,
    disk: impl Fn() -> Option<u64>,
) -> Result<()> {
    let a = &ctx.args;
    orch.wait_tools(
        |names| names.iter().any(|t| t == SUBMIT) && names.iter().any(|t| t == ECHO),
        Duration::from_secs(60),
    )
    .await?;
    let peer = orch.peer();
    c.store_bytes_before = store_bytes(&peer).await;
    c.sqlite_disk_before = disk();
    let direct = Server::start(&ctx.fixture(&[]), &ctx.log("jobs-direct-fixture")).await?;
    let dpeer = direct.peer();

    // Warm-up: submit → wait loops, echo through and direct.
    for _ in 0..a.jobs_warmup {
        let id = submit(&peer).await?;
        wait_end(&peer, &id).await?;
        call(&peer, ECHO, echo_args()).await?;
        call(&dpeer, "echo", echo_args()).await?;
    }

    // c=1: submits one after another (the jobs run meanwhile), then their reports.
    eprintln!("router-bench: jobs {label}: c=1 submit ×{}", a.jobs_seq);
    let mut ids = Vec::with_capacity(a.jobs_seq);
    for _ in 0..a.jobs_seq {
        let t = Instant::now();
        ids.push(submit(&peer).await?);
        c.submit_seq.push(t.elapsed());
    }
    let stride = ids.len().div_ceil(a.jobs_sample.max(1)).max(1);
    for id in ids.iter().step_by(stride) {
        let s = wait_end(&peer, id).await?;
        let (done, queue) = report_times(&s);
        c.submit_seq_done.0.extend(done);
        c.submit_seq_queue.0.extend(queue);
    }
    // Every one of them ended before the baselines.
    drain(&peer).await?;

    // c=1 baselines: fx__echo through, echo direct, job_status of an ended job.
    for _ in 0..a.jobs_seq {
        let t = Instant::now();
        call(&peer, ECHO, echo_args()).await?;
        c.echo_seq.push(t.elapsed());
    }
    for _ in 0..a.jobs_seq {
        let t = Instant::now();
        call(&dpeer, "echo", echo_args()).await?;
        c.direct_echo.push(t.elapsed());
    }
    direct.stop(STOP_GRACE).await;
    for id in ids.iter().cycle().take(a.jobs_seq) {
        let t = Instant::now();
        call(&peer, STATUS, obj(json!({"job_id": id}))).await?;
        c.status_seq.push(t.elapsed());
    }

    // c=1: submit → completed.
    eprintln!(
        "router-bench: jobs {label}: c=1 submit → wait ×{}",
        a.jobs_sample
    );
    let start = Instant::now();
    for _ in 0..a.jobs_sample {
        let t = Instant::now();
        let id = submit(&peer).await?;
        c.wait_seq.submit.push(t.elapsed());
        c.wait_seq.submits += 1;
        let s = wait_end(&peer, &id).await?;
        c.wait_seq.cycle.push(t.elapsed());
        record(&s, &mut c.wait_seq);
    }
    c.wait_seq.wall = start.elapsed();
    c.wait_seq.tasks = 1;

    // The session without jobs, at the submitters' concurrency.
    let n = a.jobs_submitters;
    eprintln!("router-bench: jobs {label}: fx__echo c={n} for {ECHO_CONC_SECONDS} s");
    c.echo_conc = timed_loop(&peer, n, ECHO_CONC_SECONDS, Kind::Echo).await?;

    // Sustained: submit → wait, RSS sampled.
    eprintln!(
        "router-bench: jobs {label}: sustained c={n} for {} s (loadavg {})",
        a.jobs_seconds,
        loadavg()
    );
    let stop = Arc::new(tokio::sync::Notify::new());
    let sampler = rss_sampler(orch.pid, stop.clone());
    let sustained = timed_loop(&peer, n, a.jobs_seconds, Kind::Cycle).await;
    stop.notify_one();
    c.rss_sustained_max_kib = sampler.await?;
    c.sustained = sustained?;
    eprintln!(
        "router-bench:   {:.1} s, {} completed ({:.0}/s), {} failed, cycle p50 {:.1} ms, p99 {:.1} ms",
        c.sustained.wall.as_secs_f64(),
        c.sustained.completed,
        c.sustained.per_s(c.sustained.completed),
        c.sustained.failed,
        c.sustained.cycle.p50(),
        c.sustained.cycle.p99()
    );

    // Flood: submit only, then until the pool has run them all.
    if a.jobs_flood_seconds > 0 {
        eprintln!(
            "router-bench: jobs {label}: submit-only c={n} for {} s",
            a.jobs_flood_seconds
        );
        let flood = timed_loop(&peer, n, a.jobs_flood_seconds, Kind::Flood).await?;
        c.backlog = Some(not_ended(&totals(&peer).await?));
        let d = drain(&peer).await?;
        eprintln!(
            "router-bench:   {} submits ({:.0}/s), backlog {} drained in {:.1} s",
            flood.submits,
            flood.per_s(flood.submits),
            c.backlog.unwrap_or(0),
            d.as_secs_f64()
        );
        c.flood = Some(flood);
        c.drain = Some(d);
    }

    c.totals = totals(&peer).await?;
    c.store_bytes_after = store_bytes(&peer).await;
    if let Some((rss, hwm)) = rss_kib(orch.pid) {
        c.rss_end_kib = rss;
        c.hwm_kib = hwm;
    }
    Ok(())
}
