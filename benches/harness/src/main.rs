//! `router-bench`: measures `tools/call` latency and throughput direct to a child vs through
//! `mcp-orchestrator serve` (and through a bare line relay, the floor, `router-bench-relay` in
//! `relay.rs`; and through a peer aggregator), the orchestrator's RSS, start-up
//! with five children, and unified-tool fallback; with `--workflows`, durable workflow runs
//! instead (item 7, [`phases::workflows`]); with `--jobs`, durable jobs instead (item 8,
//! [`phases::jobs`]); with `--fleet`, `serve --http` replicas behind haproxy instead (issue #18
//! item 5, [`phases::replicas`]). Prints Markdown tables on stdout; progress goes to
//! stderr. `scripts/bench.sh` builds everything and runs it.
//!
//! Method (also in docs/benchmarks.md): one rmcp client per target, spawned by this process over
//! stdio; concurrency N = N tasks sharing clones of that one client `Peer`, each sending its next
//! call when the previous one is answered. Targets are measured in alternating rounds so that
//! background load falls on all of them alike.

mod args;
mod ctx;
mod phases;
mod report;
mod server;
mod stats;
mod target;

use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use crate::{
    args::Args,
    ctx::Ctx,
    phases::{fallback, fleet::Fleet, jobs, load, replicas, startup, workflows},
    report::{Results, write_report},
};

/// The phases in order, then the report.
async fn run(ctx: &Ctx) -> Result<String> {
    if ctx.args.workflows {
        return run_workflows(ctx).await;
    }
    if ctx.args.jobs {
        return run_jobs(ctx).await;
    }
    if ctx.args.fleet {
        return run_fleet(ctx).await;
    }
    // Start-up first, on a quiet machine.
    let startups = startup::run(ctx).await?;
    let fleet = Fleet::start(ctx).await?;
    let load = load::run(ctx, &fleet).await?;
    let fallback = fallback::run(ctx, &fleet).await?;
    let status = fleet.orchestrator_status().await;
    let status_legacy = fleet.legacy_status().await;
    let kinds = fleet.kinds();
    fleet.stop().await;
    write_report(
        &ctx.args,
        &Results {
            kinds,
            load,
            startups,
            fallback,
            status,
            status_legacy,
        },
    )
}

/// `--workflows`: item 7 alone.
async fn run_workflows(ctx: &Ctx) -> Result<String> {
    let res = workflows::run(ctx).await?;
    let (out, json) = workflows::report::write(&ctx.args, &res)?;
    if let Some(path) = &ctx.args.json {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&serde_json::json!({ "workflows": json }))?,
        )?;
    }
    Ok(out)
}

/// `--jobs`: item 8 alone.
async fn run_jobs(ctx: &Ctx) -> Result<String> {
    let res = jobs::run(ctx).await?;
    let (out, json) = jobs::report::write(&ctx.args, &res)?;
    if let Some(path) = &ctx.args.json {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&serde_json::json!({ "jobs": json }))?,
        )?;
    }
    Ok(out)
}

/// `--fleet`: issue #18 item 5 alone.
async fn run_fleet(ctx: &Ctx) -> Result<String> {
    let res = replicas::run(ctx).await?;
    let (out, json) = replicas::report::write(&ctx.args, &res)?;
    if let Some(path) = &ctx.args.json {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&serde_json::json!({ "fleet": json }))?,
        )?;
    }
    Ok(out)
}

#[expect(
    clippy::print_stdout,
    reason = "a benchmark report generator, not a server: its report goes to stdout"
)]
fn main() -> Result<()> {
    let args = Args::parse();
    args.check()?;
    let ctx = Ctx::new(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(run(&ctx));
    rt.shutdown_timeout(Duration::from_secs(2));
    match report {
        Ok(r) => {
            print!("{r}");
            // An explicit `--workdir` is kept for inspection; our own temporary one is not.
            if ctx.args.workdir.is_none() {
                let _ = std::fs::remove_dir_all(&ctx.dir);
            }
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "router-bench: failed; configs and server logs kept in {}",
                ctx.dir.display()
            );
            Err(e)
        }
    }
}
