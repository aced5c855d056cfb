//! The command line: which binaries to measure, how many calls, rounds and cold starts.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Parser;

use crate::phases::workflows::Store;

#[derive(Parser, Debug)]
#[command(about = "MCP Orchestrator benchmark: direct vs through, RSS, start-up, fallback")]
pub struct Args {
    /// The mcp-orchestrator binary.
    #[arg(long)]
    pub orchestrator: PathBuf,
    /// The mcp-fixture-server binary (the Rust echo child).
    #[arg(long)]
    pub fixture: PathBuf,
    /// `mcp-server-everything` (npm @modelcontextprotocol/server-everything); rows skipped without it.
    #[arg(long)]
    pub everything: Option<PathBuf>,
    /// The `fastmcp` CLI (PyPI fastmcp), measured as a peer aggregator; column skipped without it.
    #[arg(long)]
    pub fastmcp: Option<PathBuf>,
    /// `router-bench-relay`, the bare line relay measured as the floor column (default: next to
    /// this binary); the column is skipped when it is not found.
    #[arg(long)]
    pub relay: Option<PathBuf>,
    /// Calls per target and round at concurrency 1.
    #[arg(long, default_value_t = 2000)]
    pub calls: usize,
    /// Calls per task and round at concurrency `--concurrency`.
    #[arg(long, default_value_t = 60)]
    pub calls_per_task: usize,
    /// Concurrent callers for the throughput rows.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Rounds (targets alternate within each round).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Warm-up calls per target and round at concurrency 1 (at most a quarter of the measured
    /// calls); at the high concurrency each task warms up with warmup/8 calls (at most as many as
    /// it then measures).
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Cold starts per start-up configuration and target.
    #[arg(long, default_value_t = 5)]
    pub startup_runs: usize,
    /// Fallback calls per path.
    #[arg(long, default_value_t = 1000)]
    pub fallback_calls: usize,
    /// Cap on the calls per round sent through the peer aggregator at concurrency 1 (it is
    /// much slower; its percentiles need fewer samples).
    #[arg(long, default_value_t = 200)]
    pub peer_calls: usize,
    /// Calls per task through the peer aggregator at the high concurrency.
    #[arg(long, default_value_t = 3)]
    pub peer_calls_per_task: usize,
    /// Rounds that include the peer aggregator (the first N).
    #[arg(long, default_value_t = 1)]
    pub peer_rounds: usize,
    /// Skip the start-up measurements (item 4).
    #[arg(long)]
    pub no_startup: bool,
    /// Working directory for configs and server logs (default: a fresh one under /tmp).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Also write every figure as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Measure item 7 only (durable workflow runs: the 5-step diamond on each `--wf-stores` store
    /// at each `--wf-runs` N), instead of items 1–5.
    #[arg(long)]
    pub workflows: bool,
    /// Item 7: concurrent runs per case (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub wf_runs: Vec<usize>,
    /// Item 7: stores (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    pub wf_stores: Vec<Store>,
    /// Item 7: runs one after another (c=1) per case, and as many baseline "runs".
    #[arg(long, default_value_t = 200)]
    pub wf_seq_runs: usize,
    /// Item 7: warm-up runs per case.
    #[arg(long, default_value_t = 10)]
    pub wf_warmup: usize,
    /// Item 7: run reports read per batch for the step timings.
    #[arg(long, default_value_t = 300)]
    pub wf_sample: usize,
    /// Item 7: the PostgreSQL server to use (a database per case is created on it and dropped).
    /// Without it, `--postgres-script start` starts a throwaway one.
    #[arg(long)]
    pub pg_url: Option<String>,
    /// Item 7: `scripts/postgres.sh`, to start (and stop) a throwaway PostgreSQL when `--pg-url`
    /// is not given; without either, PostgreSQL is skipped.
    #[arg(long)]
    pub postgres_script: Option<PathBuf>,
    /// Measure item 8 only (durable jobs: submit latency, submit → completed, sustained jobs/s
    /// and store growth on each `--jobs-stores` store at each `--jobs-pool` size), instead of
    /// items 1–5. Uses `--pg-url` / `--postgres-script` like item 7.
    #[arg(long, conflicts_with = "workflows")]
    pub jobs: bool,
    /// Item 8: stores (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sqlite,postgres"
    )]
    pub jobs_stores: Vec<Store>,
    /// Item 8: worker-pool sizes (`jobs.max_concurrent`, comma-separated); a case per size.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub jobs_pool: Vec<usize>,
    /// Item 8: seconds of the sustained submit → wait loops.
    #[arg(long, default_value_t = 60)]
    pub jobs_seconds: u64,
    /// Item 8: concurrent submitters in the sustained and submit-only loops.
    #[arg(long, default_value_t = 64)]
    pub jobs_submitters: usize,
    /// Item 8: `job_submit` calls one after another (c=1), and as many baseline calls.
    #[arg(long, default_value_t = 1000)]
    pub jobs_seq: usize,
    /// Item 8: c=1 submit → wait loops, and the reports read of the c=1 submits.
    #[arg(long, default_value_t = 200)]
    pub jobs_sample: usize,
    /// Item 8: warm-up loops per case.
    #[arg(long, default_value_t = 50)]
    pub jobs_warmup: usize,
    /// Item 8: seconds of submit-only loops after the sustained ones (0: none).
    #[arg(long, default_value_t = 10)]
    pub jobs_flood_seconds: u64,
    /// Measure the fleet only (issue #18 item 5): stateless (2026-07-28) `fx__echo` calls over
    /// HTTP keep-alive through 1, 2, 3 `serve --http` replicas behind haproxy (the shipped
    /// recipe) on one PostgreSQL store, and the takeover after a SIGKILL, instead of items 1–5.
    /// Uses `--pg-url` / `--postgres-script` like item 7.
    #[arg(long, conflicts_with_all = ["workflows", "jobs"])]
    pub fleet: bool,
    /// Fleet: replica counts (comma-separated), one case each behind haproxy.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub fleet_replicas: Vec<usize>,
    /// Fleet: concurrent callers (comma-separated), each on its own keep-alive connection.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub fleet_concurrency: Vec<usize>,
    /// Fleet: measured seconds per replica count and concurrency.
    #[arg(long, default_value_t = 10)]
    pub fleet_seconds: u64,
    /// Fleet: warm-up seconds before each measured batch.
    #[arg(long, default_value_t = 2)]
    pub fleet_warmup_seconds: u64,
    /// Fleet: SIGKILL trials (a replica killed while it drives a workflow step, under load);
    /// 0: none.
    #[arg(long, default_value_t = 3)]
    pub fleet_kills: usize,
    /// Fleet: `orchestrator.lease_ttl` of the replicas, seconds (15 is the shipped default).
    #[arg(long, default_value_t = 15.0)]
    pub fleet_lease_ttl: f64,
    /// Fleet: the haproxy binary (default: `haproxy` on PATH, or /usr/sbin/haproxy).
    #[arg(long)]
    pub haproxy: Option<PathBuf>,
    /// Fleet: the haproxy recipe whose `bind` and `server` lines are pointed at the bench's
    /// ports (everything else as shipped).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy/haproxy.cfg"))]
    pub haproxy_recipe: PathBuf,
}

impl Args {
    /// Fails early, before any server starts, when a required binary is missing.
    pub fn check(&self) -> Result<()> {
        for (what, p) in [
            ("orchestrator", &self.orchestrator),
            ("fixture", &self.fixture),
        ] {
            if !p.exists() {
                bail!("--{what} {}: no such file", p.display());
            }
        }
        if let Some(p) = &self.relay
            && !p.exists()
        {
            bail!("--relay {}: no such file", p.display());
        }
        if self.workflows && self.wf_runs.contains(&0) {
            bail!("--wf-runs: every N must be at least 1");
        }
        if self.fleet {
            if self.fleet_replicas.contains(&0) || self.fleet_concurrency.contains(&0) {
                bail!("--fleet-replicas and --fleet-concurrency: every value must be at least 1");
            }
            if self.fleet_seconds == 0 || self.fleet_lease_ttl <= 0.0 {
                bail!("--fleet-seconds and --fleet-lease-ttl must be positive");
            }
        }
        if self.jobs {
            if self.jobs_pool.contains(&0) {
                bail!("--jobs-pool: every size must be at least 1");
            }
            if self.jobs_submitters == 0 || self.jobs_seconds == 0 {
                bail!("--jobs-submitters and --jobs-seconds must be at least 1");
            }
        }
        Ok(())
    }
}
