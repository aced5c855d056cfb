//! Item 7 (`--workflows`): durable workflow runs. For each store (an SQLite file in the working
//! directory; PostgreSQL from `--pg-url` or started with `--postgres-script`) and each N of
//! `--wf-runs`, a fresh `serve` with one fixture child `fx` and the 5-step diamond workflow
//! `a` → (`b`, `c`, `d`) → `e`, every step `fx`'s `echo`. Measured per case: runs one after
//! another (c=1) and N `workflow__diamond` calls at once over the one session (c=N), their
//! client-side times and their run reports' timestamps; the same five `fx__echo` calls made one
//! by one from the client per "run" (the baseline) at c=1 and c=N; `echo` direct to a fixture at
//! c=1; the orchestrator's RSS; the store's size before and after.

pub mod report;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use rmcp::{
    Peer, RoleClient,
    model::{CallToolRequestParams, CallToolResponse, CallToolResult, JsonObject},
};
use serde_json::{Value, json};

use super::STOP_GRACE;
use crate::{
    ctx::Ctx,
    server::{Server, Spec, rss_kib, rss_sampler},
};

/// Where the runs are kept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, clap::ValueEnum)]
pub enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    pub fn label(self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres => "PostgreSQL",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        }
    }
}

/// Durations in milliseconds, with nearest-rank percentiles and the mean.
#[derive(Default, Clone, Debug)]
pub struct Ms(pub Vec<f64>);

impl Ms {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_unstable_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub fn p50(&self) -> f64 {
        self.pct(50.0)
    }

    pub fn p99(&self) -> f64 {
        self.pct(99.0)
    }

    pub fn mean(&self) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A batch of runs (workflow calls, or the baseline's five-call sequences).
#[derive(Default, Debug)]
pub struct Batch {
    /// Runs made.
    pub runs: usize,
    /// Start of the first → end of the last.
    pub wall: Duration,
    /// Each run's time as the client saw it.
    pub client: Ms,
    /// Each single call's time (baseline only: every `fx__echo`).
    pub calls: Ms,
    /// From a sample of the run reports: `created_at` → `finished_at` (1-ms resolution).
    pub report_run: Ms,
    /// From the same sample: every step's `finished_at` − `started_at` (1-ms resolution).
    pub report_step: Ms,
    /// Run reports read.
    pub sampled: usize,
}

/// One store × N.
#[derive(Default, Debug)]
pub struct Case {
    /// `/proc/loadavg` (1, 5, 15 min) when the case started.
    pub load: String,
    /// Workflow runs one after another.
    pub seq: Batch,
    /// N workflow runs at once.
    pub conc: Batch,
    /// The baseline, one "run" (five `fx__echo` one by one) after another.
    pub base_seq: Batch,
    /// The baseline, N "runs" at once.
    pub base_conc: Batch,
    /// `echo` on a fixture started directly by the bench, c=1.
    pub direct_echo: Ms,
    /// Largest VmRSS sampled every 20 ms during the c=N workflow runs, KiB.
    pub rss_load_max_kib: u64,
    /// VmHWM after the c=N workflow runs (before the baseline), KiB.
    pub hwm_kib: u64,
    /// `orchestrator_status` → `workflows.store_bytes`, right after start and after every run.
    pub store_bytes_before: Option<u64>,
    pub store_bytes_after: Option<u64>,
    /// SQLite: the database file + its WAL on disk after the runs.
    pub sqlite_disk_bytes: Option<u64>,
    /// Workflow runs stored in all (warm-up included), for bytes per run.
    pub runs_stored: usize,
}

/// Everything item 7 measured.
#[derive(Default, Debug)]
pub struct Workflows {
    pub cases: BTreeMap<(Store, usize), Case>,
    /// Why a store was not measured.
    pub skipped: BTreeMap<Store, String>,
    /// How PostgreSQL was reached.
    pub pg_note: Option<String>,
}

/// A PostgreSQL server to put databases on, and how to stop it if we started it.
pub struct Pg {
    pub url: String,
    pub started: Option<(PathBuf, PathBuf)>,
}

impl Pg {
    pub async fn stop(self) {
        if let Some((script, dir)) = self.started {
            let _ = tokio::process::Command::new(&script)
                .arg("stop")
                .env("PG_TEST_DIR", &dir)
                .status()
                .await;
        }
    }
}

/// `--pg-url`, else a throwaway server from `--postgres-script start` in our own `PG_TEST_DIR`
/// (never the tests' default one). `Err(note)` when there is none to use.
pub async fn pg(ctx: &Ctx) -> Result<std::result::Result<Pg, String>> {
    if let Some(url) = &ctx.args.pg_url {
        return Ok(Ok(Pg {
            url: url.clone(),
            started: None,
        }));
    }
    let Some(script) = &ctx.args.postgres_script else {
        return Ok(Err(
            "skipped: neither `--pg-url` nor `--postgres-script` given".into(),
        ));
    };
    let dir = std::env::temp_dir().join(format!("router-bench-pg-{}", std::process::id()));
    eprintln!(
        "router-bench: starting PostgreSQL ({} start)",
        script.display()
    );
    let out = tokio::process::Command::new(script)
        .arg("start")
        .env("PG_TEST_DIR", &dir)
        .output()
        .await
        .with_context(|| format!("run {}", script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Ok(Err(if out.status.code() == Some(2) {
            format!("skipped: PostgreSQL is not installed ({err})")
        } else {
            format!("skipped: PostgreSQL did not start ({err})")
        }));
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(Ok(Pg {
        url,
        started: Some((script.clone(), dir)),
    }))
}

/// `url` with its database name replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

pub async fn psql(url: &str, sql: &str) -> Result<()> {
    let out = tokio::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .await
        .context("run psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Cases of a phase over stores × sizes, with why a store was skipped and how PostgreSQL was
/// reached: what the workflows and jobs phases share.
pub struct PerStore<C> {
    pub cases: BTreeMap<(Store, usize), C>,
    pub skipped: BTreeMap<Store, String>,
    pub pg_note: Option<String>,
}

/// Runs `case` for every store × size, each PostgreSQL case on a fresh database named
/// `<prefix>_<pid>_<size>` (so its size is that case's alone), and stops a PostgreSQL it started.
pub async fn per_store<C, F>(
    ctx: &Ctx,
    stores: &[Store],
    sizes: &[usize],
    prefix: &str,
    case: F,
) -> Result<PerStore<C>>
where
    F: AsyncFn(Store, usize, Option<&str>) -> Result<C>,
{
    let mut res = PerStore {
        cases: BTreeMap::new(),
        skipped: BTreeMap::new(),
        pg_note: None,
    };
    let mut stores = stores.to_vec();
    stores.sort_unstable();
    stores.dedup();
    for store in stores {
        let pg = if store == Store::Postgres {
            match pg(ctx).await? {
                Ok(pg) => Some(pg),
                Err(note) => {
                    eprintln!("router-bench: PostgreSQL {note}");
                    res.skipped.insert(store, note);
                    continue;
                }
            }
        } else {
            None
        };
        let mut failed = None;
        for &n in sizes {
            let (url, db) = match &pg {
                None => (None, None),
                Some(pg) => {
                    let db = format!("{prefix}_{}_{n}", std::process::id());
                    match psql(&pg.url, &format!("CREATE DATABASE {db}")).await {
                        Ok(()) => (Some(with_db(&pg.url, &db)), Some(db)),
                        Err(e) => {
                            res.pg_note = Some(format!(
                                "no database of its own per case ({e}): every case used `{}`",
                                pg.url
                            ));
                            (Some(pg.url.clone()), None)
                        }
                    }
                }
            };
            let r = case(store, n, url.as_deref()).await;
            if let (Some(pg), Some(db)) = (&pg, db) {
                let _ = psql(&pg.url, &format!("DROP DATABASE IF EXISTS {db}")).await;
            }
            match r {
                Ok(c) => {
                    res.cases.insert((store, n), c);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(pg) = pg {
            if pg.started.is_some() {
                res.pg_note.get_or_insert_with(|| {
                    "a throwaway server started by `scripts/postgres.sh` (fsync off, synchronous_commit off)".into()
                });
            } else {
                res.pg_note
                    .get_or_insert_with(|| "the server given with `--pg-url`".into());
            }
            pg.stop().await;
        }
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(res)
}

/// Every case, store by store.
pub async fn run(ctx: &Ctx) -> Result<Workflows> {
    let r = per_store(
        ctx,
        &ctx.args.wf_stores,
        &ctx.args.wf_runs,
        "router_bench_wf",
        async |store, n, url| case(ctx, store, n, url).await,
    )
    .await?;
    Ok(Workflows {
        cases: r.cases,
        skipped: r.skipped,
        pg_note: r.pg_note,
    })
}

/// The diamond: `a` → (`b`, `c`, `d`) → `e`, each step `fx`'s `echo` of its upstream results.
fn diamond() -> Value {
    let step = |name: &str, message: &str, deps: &[&str]| {
        json!({"name": name, "mcp": "fx", "action": "echo",
               "params": {"message": message}, "dependsOn": deps})
    };
    json!({
        "name": "diamond",
        "version": "1.0.0",
        "description": "router-bench: a → (b, c, d) → e, every step fx echo",
        "steps": [
            step("a", "a", &[]),
            step("b", "b ${steps.a.result}", &["a"]),
            step("c", "c ${steps.a.result}", &["a"]),
            step("d", "d ${steps.a.result}", &["a"]),
            step("e", "e ${steps.b.result} | ${steps.c.result} | ${steps.d.result}", &["b", "c", "d"]),
        ],
        "output": {"e": "$steps.e.result"}
    })
}

/// The config of one case, its workflow file and (SQLite) its store; returns `serve`'s spec and
/// the SQLite file.
fn write_case(
    ctx: &Ctx,
    store: Store,
    n: usize,
    pg_url: Option<&str>,
) -> Result<(Spec, Option<PathBuf>)> {
    let root = ctx.dir.join("wf").join(format!("{}-{n}", store.id()));
    let cfg_dir = root.join("config");
    std::fs::create_dir_all(cfg_dir.join("workflows"))?;
    // The store is not beside the config: the orchestrator watches that directory.
    std::fs::create_dir_all(root.join("store"))?;
    std::fs::create_dir_all(ctx.dir.join("state"))?;
    let (url, sqlite) = match store {
        Store::Sqlite => {
            let f = root.join("store").join("runs.db");
            (format!("sqlite://{}", f.display()), Some(f))
        }
        Store::Postgres => (pg_url.context("no PostgreSQL URL")?.to_owned(), None),
    };
    let limit = u32::try_from(n).unwrap_or(u32::MAX).max(1);
    let cfg = json!({
        "servers": {"fx": {"command": ctx.args.fixture, "args": []}},
        "orchestrator": {
            "store": url,
            "max_concurrent_workflows": limit,
            "max_concurrent_steps": limit,
            // Up to 3 steps per run call fx at once (b, c, d): never "busy".
            "max_in_flight": limit.saturating_mul(3).max(64),
        }
    });
    let path = cfg_dir.join("mcp_servers.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg)?)?;
    std::fs::write(
        cfg_dir.join("workflows").join("diamond.json"),
        serde_json::to_vec_pretty(&diamond())?,
    )?;
    let spec = Spec::new(
        &ctx.args.orchestrator,
        &["--config", path.to_str().context("utf-8 path")?, "serve"],
    )
    .env("XDG_RUNTIME_DIR", ctx.dir.join("run").to_string_lossy())
    .env("XDG_STATE_HOME", ctx.dir.join("state").to_string_lossy());
    Ok((spec, sqlite))
}

const WORKFLOW: &str = "workflow__diamond";
const ECHO: &str = "fx__echo";
/// Steps per run (and calls per baseline "run").
pub const STEPS: usize = 5;
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One `tools/call` and its whole result; an error result fails.
pub async fn call(peer: &Peer<RoleClient>, tool: &str, args: JsonObject) -> Result<CallToolResult> {
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    let answer = tokio::time::timeout(CALL_TIMEOUT, peer.call_tool_once(params))
        .await
        .with_context(|| format!("{tool}: no answer within {CALL_TIMEOUT:?}"))??;
    match answer {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => Ok(r),
        other => bail!("{tool} answered {other:?}"),
    }
}

pub fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

/// One workflow run through `workflow__diamond`: its run id, checked completed.
async fn run_once(peer: &Peer<RoleClient>) -> Result<String> {
    let r = call(peer, WORKFLOW, JsonObject::new()).await?;
    let s = r
        .structured_content
        .context("workflow: no structuredContent")?;
    if s["status"] != "completed" {
        bail!("workflow run did not complete: {s}");
    }
    s["run_id"]
        .as_str()
        .map(str::to_owned)
        .context("workflow: no run_id")
}

/// One baseline "run": the five calls one by one; each call's time.
async fn base_once(peer: &Peer<RoleClient>, calls: &mut Ms) -> Result<()> {
    let mut prev = String::from("a");
    for i in 0..STEPS {
        let t = Instant::now();
        let r = call(peer, ECHO, obj(json!({"message": format!("{i} {prev}")}))).await?;
        calls.push(t.elapsed());
        // Like the workflow, each call's message carries its upstream result.
        if let Some(text) = r
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
        {
            prev = text.chars().take(200).collect();
        }
    }
    Ok(())
}

/// `runs` workflow runs one after another; their ids.
async fn seq_runs(peer: &Peer<RoleClient>, runs: usize, b: &mut Batch) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(runs);
    let start = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        ids.push(run_once(peer).await?);
        b.client.push(t.elapsed());
    }
    b.wall = start.elapsed();
    b.runs = runs;
    Ok(ids)
}

/// `n` workflow runs at once over the one session; their ids.
async fn conc_runs(peer: &Peer<RoleClient>, n: usize, b: &mut Batch) -> Result<Vec<String>> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let peer = peer.clone();
        set.spawn(async move {
            let t = Instant::now();
            let id = run_once(&peer).await?;
            anyhow::Ok((id, t.elapsed()))
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        let (id, took) = r??;
        ids.push(id);
        b.client.push(took);
    }
    b.wall = start.elapsed();
    b.runs = n;
    Ok(ids)
}

async fn base_seq(peer: &Peer<RoleClient>, runs: usize, b: &mut Batch) -> Result<()> {
    let start = Instant::now();
    for _ in 0..runs {
        let t = Instant::now();
        base_once(peer, &mut b.calls).await?;
        b.client.push(t.elapsed());
    }
    b.wall = start.elapsed();
    b.runs = runs;
    Ok(())
}

async fn base_conc(peer: &Peer<RoleClient>, n: usize, b: &mut Batch) -> Result<()> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let peer = peer.clone();
        set.spawn(async move {
            let mut calls = Ms::default();
            let t = Instant::now();
            base_once(&peer, &mut calls).await?;
            anyhow::Ok((t.elapsed(), calls))
        });
    }
    while let Some(r) = set.join_next().await {
        let (took, calls) = r??;
        b.client.push(took);
        b.calls.0.extend(calls.0);
    }
    b.wall = start.elapsed();
    b.runs = n;
    Ok(())
}

/// Reads the reports of up to `sample` runs (spread over `ids`) into `b`.
async fn reports(
    peer: &Peer<RoleClient>,
    ids: &[String],
    sample: usize,
    b: &mut Batch,
) -> Result<()> {
    let stride = ids.len().div_ceil(sample.max(1)).max(1);
    for id in ids.iter().step_by(stride) {
        let r = call(peer, "workflow_status", obj(json!({"run_id": id}))).await?;
        let s = r
            .structured_content
            .context("workflow_status: no structuredContent")?;
        let ms = |v: &Value| v.as_i64();
        if let (Some(c), Some(f)) = (ms(&s["created_at"]), ms(&s["finished_at"])) {
            b.report_run.0.push((f - c) as f64);
        }
        for step in s["steps"].as_array().into_iter().flatten() {
            if let (Some(st), Some(f)) = (ms(&step["started_at"]), ms(&step["finished_at"])) {
                b.report_step.0.push((f - st) as f64);
            }
        }
        b.sampled += 1;
    }
    Ok(())
}

pub async fn store_bytes(peer: &Peer<RoleClient>) -> Option<u64> {
    let r = peer
        .call_tool(CallToolRequestParams::new("orchestrator_status"))
        .await
        .ok()?;
    r.structured_content?
        .pointer("/workflows/store_bytes")?
        .as_u64()
}

pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

async fn case(ctx: &Ctx, store: Store, n: usize, pg_url: Option<&str>) -> Result<Case> {
    let label = format!("{} N={n}", store.id());
    let mut c = Case {
        load: loadavg(),
        ..Case::default()
    };
    eprintln!(
        "router-bench: workflows {label}: starting (loadavg {})",
        c.load
    );
    let (spec, sqlite) = write_case(ctx, store, n, pg_url)?;
    let orch = Server::start(&spec, &ctx.log(&format!("wf-{}-{n}", store.id()))).await?;
    let r = measure(ctx, &orch, n, &label, &mut c).await;
    if let Some(f) = &sqlite {
        let wal = PathBuf::from(format!("{}-wal", f.display()));
        c.sqlite_disk_bytes = Some(file_len(f) + file_len(&wal));
    }
    orch.stop(STOP_GRACE).await;
    r?;
    Ok(c)
}

async fn measure(ctx: &Ctx, orch: &Server, n: usize, label: &str, c: &mut Case) -> Result<()> {
    let a = &ctx.args;
    orch.wait_tools(
        |names| names.iter().any(|t| t == WORKFLOW) && names.iter().any(|t| t == ECHO),
        Duration::from_secs(60),
    )
    .await?;
    let peer = orch.peer();
    c.store_bytes_before = store_bytes(&peer).await;
    let direct = Server::start(&ctx.fixture(&[]), &ctx.log("wf-direct-fixture")).await?;
    let dpeer = direct.peer();

    // Warm-up: a few runs, baseline sequences and direct calls.
    let mut scratch = Batch::default();
    seq_runs(&peer, a.wf_warmup, &mut scratch).await?;
    base_seq(&peer, a.wf_warmup, &mut Batch::default()).await?;
    for _ in 0..a.wf_warmup * STEPS {
        call(&dpeer, "echo", obj(json!({"message": "warm-up"}))).await?;
    }

    // c=1: runs one after another, the baseline likewise, echo direct.
    eprintln!("router-bench: workflows {label}: c=1 ×{}", a.wf_seq_runs);
    let seq_ids = seq_runs(&peer, a.wf_seq_runs, &mut c.seq).await?;
    base_seq(&peer, a.wf_seq_runs, &mut c.base_seq).await?;
    for i in 0..a.wf_seq_runs * STEPS {
        let t = Instant::now();
        call(
            &dpeer,
            "echo",
            obj(json!({"message": format!("{i} echo: a")})),
        )
        .await?;
        c.direct_echo.push(t.elapsed());
    }
    direct.stop(STOP_GRACE).await;

    // c=N: N runs at once, RSS sampled; then the baseline at once.
    eprintln!("router-bench: workflows {label}: c={n}");
    let stop = Arc::new(tokio::sync::Notify::new());
    let sampler = rss_sampler(orch.pid, stop.clone());
    let conc_ids = conc_runs(&peer, n, &mut c.conc).await?;
    stop.notify_one();
    c.rss_load_max_kib = sampler.await?;
    c.hwm_kib = rss_kib(orch.pid).map_or(0, |(_, hwm)| hwm);
    eprintln!(
        "router-bench:   {:.2} s, {:.0} steps/s, run p50 {:.1} ms, p99 {:.1} ms",
        c.conc.wall.as_secs_f64(),
        (STEPS * n) as f64 / c.conc.wall.as_secs_f64(),
        c.conc.client.p50(),
        c.conc.client.p99()
    );
    eprintln!("router-bench: workflows {label}: baseline c={n}");
    base_conc(&peer, n, &mut c.base_conc).await?;
    eprintln!(
        "router-bench:   {:.2} s, run p50 {:.1} ms",
        c.base_conc.wall.as_secs_f64(),
        c.base_conc.client.p50()
    );

    // The run reports (after the timed part: reading them costs the orchestrator too).
    reports(&peer, &seq_ids, a.wf_sample, &mut c.seq).await?;
    reports(&peer, &conc_ids, a.wf_sample, &mut c.conc).await?;
    c.runs_stored = a.wf_warmup + a.wf_seq_runs + n;
    c.store_bytes_after = store_bytes(&peer).await;
    Ok(())
}
