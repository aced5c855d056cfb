//! Items 1–3, the load phase: `echo` latency at c=1 and c=N and throughput at c=N, direct vs
//! through the bare relay (the floor, issue #19) vs through the orchestrator (for the Rust
//! fixture twice: the child pinned `legacy`, the fast path, and the default `auto`, which
//! connects this dual-era child in the 2026-07-28 era, the typed path) vs through the peer, in
//! alternating rounds; the CPU and context switches per call of the relay, the orchestrator
//! and the direct child; and the aggregators' RSS when idle, under load and at peak.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use rmcp::{Peer, RoleClient, model::JsonObject};
use serde_json::json;

use super::{concurrent, fleet::Fleet, sequential};
use crate::{
    ctx::Ctx,
    server::{ProcCounters, ProcUsage, descendants_rss_kib, rss_kib, rss_sampler},
    stats::Samples,
    target::{Kind, Via, tool_name},
};

/// What the load phase measured.
#[derive(Default)]
pub struct Load {
    /// Latency samples per (child kind, concurrency, via).
    pub samples: BTreeMap<(Kind, usize, Via), Samples>,
    /// Calls and wall time at the high concurrency, summed over the rounds, per (kind,
    /// concurrency, via).
    pub wall: BTreeMap<(Kind, usize, Via), (usize, Duration)>,
    /// The orchestrator's and the peer's memory.
    pub rss: BTreeMap<Via, Rss>,
    /// Per (kind, concurrency, via): the calls measured and what the process in the middle
    /// spent on them (the relay, the orchestrator; for direct, the child itself), summed over
    /// the rounds. Only the measured calls, not the warm-up.
    pub cpu: BTreeMap<(Kind, usize, Via), (usize, ProcUsage)>,
}

/// RSS observations of one process.
#[derive(Default, Clone, Copy)]
pub struct Rss {
    pub idle_kib: u64,
    pub load_max_kib: u64,
    pub hwm_kib: u64,
    pub children_kib: u64,
}

/// Runs the load phase on the fleet's direct servers, orchestrator and peer.
pub async fn run(ctx: &Ctx, fleet: &Fleet) -> Result<Load> {
    let a = &ctx.args;
    let mut load = Load::default();

    // Idle RSS: everything up, nothing called for a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut procs = vec![(Via::Orchestrator, fleet.orch.pid)];
    if let Some((p, _)) = &fleet.peer {
        procs.push((Via::Peer, p.pid));
    }
    for (via, pid) in &procs {
        let (idle, _) = rss_kib(*pid).context("read /proc/PID/status")?;
        load.rss.insert(
            *via,
            Rss {
                idle_kib: idle,
                children_kib: descendants_rss_kib(*pid),
                ..Rss::default()
            },
        );
    }

    // Targets per kind: (via, peer, tool name, the process whose CPU is counted). In round
    // order: direct, floor, orchestrator pinned `legacy`, orchestrator, peer (reversed every
    // other round).
    let mut targets: Vec<Target> = Vec::new();
    for (kind, s, names) in &fleet.direct {
        targets.push((
            *kind,
            Via::Direct,
            s.peer(),
            tool_name(names, Via::Direct, kind.id(), "echo")?,
            Some(s.pid),
        ));
        if let Some((_, f, names)) = fleet.floor.iter().find(|(k, _, _)| k == kind) {
            targets.push((
                *kind,
                Via::Floor,
                f.peer(),
                tool_name(names, Via::Floor, kind.id(), "echo")?,
                Some(f.pid),
            ));
        }
        // The era question is the fixture's (issue #19): it speaks both eras, so `auto` and
        // `legacy` take different paths. server-everything is not measured twice.
        if *kind == Kind::Fixture {
            let (o, names) = &fleet.orch_legacy;
            targets.push((
                *kind,
                Via::Legacy,
                o.peer(),
                tool_name(names, Via::Legacy, kind.id(), "echo")?,
                Some(o.pid),
            ));
        }
        targets.push((
            *kind,
            Via::Orchestrator,
            fleet.orch.peer(),
            tool_name(&fleet.orch_names, Via::Orchestrator, kind.id(), "echo")?,
            Some(fleet.orch.pid),
        ));
        if let Some((p, names)) = &fleet.peer {
            targets.push((
                *kind,
                Via::Peer,
                p.peer(),
                tool_name(names, Via::Peer, kind.id(), "echo")?,
                None,
            ));
        }
    }

    let args = echo_args();
    let conc = a.concurrency;
    for kind in fleet.kinds() {
        for round in 0..a.rounds {
            let mut these: Vec<_> = targets
                .iter()
                .filter(|t| t.0 == kind && (t.1 != Via::Peer || round < a.peer_rounds))
                .collect();
            // Alternate the order so no target always goes first.
            if round % 2 == 1 {
                these.reverse();
            }
            for (k, via, p, tool, cpu_pid) in these {
                let counters = || cpu_pid.and_then(ProcCounters::read);
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
                let before = counters();
                let t = Instant::now();
                let s = sequential(p, tool, &args, n).await?;
                count_cpu(&mut load, (*k, 1, *via), s.len(), before, counters());
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
                let before = counters();
                let (s, wall) = concurrent(p, tool, &args, conc, per_task).await?;
                count_cpu(&mut load, (*k, conc, *via), s.len(), before, counters());
                stop.notify_one();
                if let Some(h) = sampler {
                    let max = h.await?;
                    let r = load.rss.entry(*via).or_default();
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
            load.rss.entry(*via).or_default().hwm_kib = hwm;
        }
    }
    Ok(load)
}

/// A measured target: (child kind, path, client, tool name, the pid whose CPU is counted).
type Target = (Kind, Via, Peer<RoleClient>, String, Option<u32>);

/// Adds one batch's calls and CPU to `load.cpu`.
fn count_cpu(
    load: &mut Load,
    key: (Kind, usize, Via),
    calls: usize,
    before: Option<ProcCounters>,
    after: Option<ProcCounters>,
) {
    if let (Some(before), Some(after)) = (before, after) {
        let e = load.cpu.entry(key).or_default();
        e.0 += calls;
        e.1.add(after.since(&before));
    }
}

fn echo_args() -> JsonObject {
    let mut m = JsonObject::new();
    m.insert("message".into(), json!("benchmark payload: hello"));
    m
}
