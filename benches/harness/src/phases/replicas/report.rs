//! The fleet's report: calls/s and latency per path and concurrency, CPU per call per kind of
//! process, the takeover trials; and its JSON. Figures only: the fleet has no target to judge.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Case, FleetResults, GROUPS, Kill, label};
use crate::args::Args;

/// Renders the fleet phase; returns the Markdown and the JSON.
pub fn write(args: &Args, res: &FleetResults) -> Result<(String, Value)> {
    let mut out = String::new();
    if let Some(why) = &res.skipped {
        writeln!(out, "### Fleet: not measured\n\n{why}.")?;
        return Ok((out, json!({"skipped": why})));
    }
    throughput(&mut out, args, res)?;
    cpu(&mut out, res)?;
    takeover(&mut out, args, res)?;
    Ok((out, to_json(args, res)))
}

fn throughput(out: &mut String, a: &Args, res: &FleetResults) -> Result<()> {
    writeln!(
        out,
        "### F1. Stateless `tools/call` through the fleet: calls/s and latency\n\n\
         `fx__echo` (the Rust fixture child, connected with the default `\"protocol\": \"auto\"`: the \
         2026-07-28 era, typed path) as raw JSON-RPC POSTs in the 2026-07-28 form (no session; \
         version, method and tool name in headers; the client's info in `_meta`; bearer token), one \
         HTTP/1.1 keep-alive connection per caller, each sending its next call when the previous one \
         is answered. `serve --http` replicas with default settings but `orchestrator.store` (one \
         PostgreSQL database for all: {}) and `lease_ttl` {} s; haproxy ({}) on the shipped recipe \
         `deploy/haproxy/haproxy.cfg`, its `bind` and `server` lines pointed at the bench's ports, \
         round-robin, its request log on. Per case: {} s warm-up, then {} s measured; calls/s = \
         successful calls ÷ wall time. Every process runs on this machine's {} CPUs: more replicas \
         share the same CPUs, so this is the cost of the fleet's path, not scale-out.\n",
        res.pg_note.as_deref().unwrap_or("?"),
        a.fleet_lease_ttl,
        res.haproxy_version,
        a.fleet_warmup_seconds,
        a.fleet_seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )?;
    writeln!(
        out,
        "| path | c | calls | calls/s | p50 µs | p99 µs | failed | answers per replica | loadavg at start |\n\
         |---|---:|---:|---:|---:|---:|---:|---|---|"
    )?;
    for c in &res.cases {
        let split = if c.per_replica.is_empty() {
            "–".to_owned()
        } else {
            c.per_replica
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {split} | {} |",
            label(c.path),
            c.conc,
            c.ok,
            rate(c),
            c.latency.p50(),
            c.latency.p99(),
            c.failed,
            c.loadavg
        )?;
    }
    for c in res.cases.iter().filter(|c| c.failed > 0) {
        writeln!(
            out,
            "\n{} c={}: first failure: {}",
            label(c.path),
            c.conc,
            c.first_error.as_deref().unwrap_or("?")
        )?;
    }
    Ok(())
}

fn rate(c: &Case) -> f64 {
    c.ok as f64 / c.wall.as_secs_f64()
}

/// CPU µs per successful call of each group, `–` where not measured.
fn per_call(c: &Case, group: &str) -> Option<f64> {
    c.cpu
        .get(group)
        .map(|u| u.cpu.as_secs_f64() * 1e6 / c.ok.max(1) as f64)
}

fn cpu(out: &mut String, res: &FleetResults) -> Result<()> {
    writeln!(
        out,
        "\n### F2. CPU per call by process (µs, the measured batches of F1)\n\n\
         `se.sum_exec_runtime` of every thread of each process (`/proc/PID/task/TID/sched`) over the \
         batch ÷ successful calls: all replicas together, their fixture children, haproxy, \
         PostgreSQL (the postmaster and its backends, when the bench started the server) and the \
         bench's own client. ceiling = CPUs ÷ total: the calls/s this machine could carry if the \
         CPUs were the only limit.\n"
    )?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut head = String::from("| path | c |");
    let mut sep = String::from("|---|---:|");
    for g in GROUPS {
        head.push_str(&format!(" {g} |"));
        sep.push_str("---:|");
    }
    writeln!(out, "{head} total | ceiling, calls/s |\n{sep}---:|---:|")?;
    for c in &res.cases {
        let mut line = format!("| {} | {} |", label(c.path), c.conc);
        let mut total = 0.0;
        for g in GROUPS {
            match per_call(c, g) {
                Some(us) => {
                    total += us;
                    line.push_str(&format!(" {us:.1} |"));
                }
                None => line.push_str(" – |"),
            }
        }
        writeln!(out, "{line} {total:.1} | {:.0} |", cpus * 1e6 / total)?;
    }
    Ok(())
}

fn takeover(out: &mut String, a: &Args, res: &FleetResults) -> Result<()> {
    let Some(first) = res.kills.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "\n### F3. Takeover after a SIGKILL (lease_ttl {} s)\n\n\
         A fresh fleet of {} replicas behind haproxy under load at c={}; a workflow run started on \
         mcp1 (`s1` → `s2`, 5 s, declared idempotent → `s3`); once `s2` runs there, mcp1 is \
         SIGKILLed. takeover = kill → a survivor runs `s2` again ({}). DOWN = kill → haproxy's \
         health check (`inter 2s fall 2`) logs mcp1 DOWN. Calls counted as in F1; \"after the \
         kill\" = calls in flight at the kill or sent after it.\n",
        a.fleet_lease_ttl,
        first.replicas,
        first.conc,
        if res.uts {
            "each replica in a UTS namespace of its own under its own host name, as on separate \
             machines: the survivor cannot see the dead pid and waits the lease out"
        } else {
            "all replicas on one host name (no UTS namespace here): the survivor sees the dead pid \
             and does not wait for the lease"
        }
    )?;
    writeln!(
        out,
        "| trial | takeover, s | haproxy DOWN, s | calls/s before | p99 before, µs | calls/s kill → DOWN | calls/s after DOWN | failed after the kill | slowest after the kill, ms | the run |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    )?;
    let s = |d: Option<std::time::Duration>| {
        d.map_or("–".to_owned(), |d| format!("{:.2}", d.as_secs_f64()))
    };
    for (i, k) in res.kills.iter().enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {:.0} | {} |",
            i + 1,
            s(k.takeover),
            s(k.down),
            k.before.0,
            k.before.1,
            k.until_down,
            k.after_down,
            k.failed_after,
            k.slowest_after.as_secs_f64() * 1000.0,
            k.run_status
        )?;
    }
    for (i, k) in res.kills.iter().enumerate() {
        if let Some(e) = &k.first_error {
            writeln!(
                out,
                "\nTrial {}: {} calls failed in the whole trial; the first: {e}",
                i + 1,
                k.failed
            )?;
        }
    }
    Ok(())
}

fn kill_json(k: &Kill) -> Value {
    json!({
        "replicas": k.replicas, "concurrency": k.conc,
        "takeover_s": k.takeover.map(|d| d.as_secs_f64()),
        "down_s": k.down.map(|d| d.as_secs_f64()),
        "before_calls_per_s": k.before.0, "before_p99_us": k.before.1,
        "until_down_calls_per_s": k.until_down, "after_down_calls_per_s": k.after_down,
        "failed_after": k.failed_after, "failed": k.failed,
        "slowest_after_ms": k.slowest_after.as_secs_f64() * 1000.0,
        "first_error": k.first_error, "run_status": k.run_status,
    })
}

fn to_json(a: &Args, res: &FleetResults) -> Value {
    let cases: Vec<Value> = res
        .cases
        .iter()
        .map(|c| {
            let cpu: serde_json::Map<String, Value> = GROUPS
                .iter()
                .filter_map(|g| Some(((*g).to_owned(), json!(per_call(c, g)?))))
                .collect();
            json!({
                "path": label(c.path), "concurrency": c.conc, "calls": c.ok,
                "calls_per_s": rate(c), "p50_us": c.latency.p50(), "p99_us": c.latency.p99(),
                "failed": c.failed, "first_error": c.first_error, "per_replica": c.per_replica,
                "cpu_us_per_call": cpu, "loadavg": c.loadavg,
            })
        })
        .collect();
    json!({
        "lease_ttl_s": a.fleet_lease_ttl, "seconds": a.fleet_seconds,
        "haproxy": res.haproxy_version, "store": res.pg_note, "uts_namespaces": res.uts,
        "cases": cases, "takeover": res.kills.iter().map(kill_json).collect::<Vec<_>>(),
    })
}
