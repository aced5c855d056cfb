//! The report: one Markdown table per measured item, then the targets and their verdicts; with
//! `--json`, every figure as JSON too.

use std::{fmt::Write as _, time::Duration};

use anyhow::Result;
use serde_json::{Value, json};

use crate::{
    args::Args,
    phases::{fallback::Fallback, load::Load, startup::Startup},
    stats::median,
    target::{Kind, Via},
};

/// Everything the phases measured.
pub struct Results {
    /// The measured child kinds, in row order.
    pub kinds: Vec<Kind>,
    pub load: Load,
    /// Empty with `--no-startup`.
    pub startups: Vec<Startup>,
    pub fallback: Fallback,
    /// The orchestrator's `orchestrator_status` answer after the fallback phase; `Null` if that
    /// call failed.
    pub status: Value,
    /// The same from the orchestrator whose children are pinned `legacy`.
    pub status_legacy: Value,
}

/// Renders the report and, with `--json`, writes the JSON file.
pub fn write_report(args: &Args, results: &Results) -> Result<String> {
    let mut r = Report {
        a: args,
        res: results,
        out: String::new(),
        json: json!({}),
    };
    let worst_added = r.latency()?;
    let worst_tput = r.throughput()?;
    let floor = r.floor()?;
    let orch_cpu = r.cpu()?;
    let legacy = r.era()?;
    r.memory()?;
    let worst_startup = r.startup()?;
    r.fallback()?;
    r.overhead_metric()?;
    r.targets(worst_added, worst_tput, worst_startup)?;
    r.floor_targets(floor, orch_cpu, legacy)?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&r.json)?)?;
    }
    Ok(r.out)
}

/// The report being written: its Markdown and its JSON, filled table by table.
struct Report<'a> {
    a: &'a Args,
    res: &'a Results,
    out: String,
    json: Value,
}

impl Report<'_> {
    /// Whether the fastmcp columns are shown: whenever `--fastmcp` was given, with `–` in a row
    /// it has no figures for, so the columns line up.
    fn has_peer(&self) -> bool {
        self.a.fastmcp.is_some()
    }

    /// Table 1; returns the worst added (p50, p99) at c=1 over the child kinds, in µs.
    fn latency(&mut self) -> Result<(f64, f64)> {
        let a = self.a;
        let conc = a.concurrency;
        let has_peer = self.has_peer();
        let res = self.res;
        let get = |k: Kind, c: usize, v: Via| res.load.samples.get(&(k, c, v));
        writeln!(
            self.out,
            "### 1. `tools/call` latency, direct vs through (µs)\n\n\
             {} rounds × {} calls at c=1 and {} rounds × {}×{} calls at c={conc} per target{}; \
             added = through − direct at the same percentile; ratio = through ÷ direct. \
             \"orchestrator\" is the default config (every child `\"protocol\": \"auto\"`: the \
             dual-era Rust fixture is connected in the 2026-07-28 era, its calls take the typed \
             path); the fixture pinned `legacy` (the forwarding fast path) is table 2c.\n",
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
        writeln!(self.out, "{head}\n{sep}")?;
        let mut worst_added = (0.0f64, 0.0f64);
        for &k in &res.kinds {
            for c in [1, conc] {
                let (Some(d), Some(o)) = (get(k, c, Via::Direct), get(k, c, Via::Orchestrator))
                else {
                    continue;
                };
                let (d50, d99, o50, o99) = (d.p50(), d.p99(), o.p50(), o.p99());
                if c == 1 {
                    worst_added.0 = worst_added.0.max(o50 - d50);
                    worst_added.1 = worst_added.1.max(o99 - d99);
                }
                write!(
                    self.out,
                    "| {} | {c} | {d50:.0} | {d99:.0} | {o50:.0} | {o99:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
                    k.label(),
                    o50 - d50,
                    o99 - d99,
                    o50 / d50,
                    o99 / d99
                )?;
                let mut row = json!({"direct": {"p50_us": d50, "p99_us": d99, "n": d.len()},
                                     "orchestrator": {"p50_us": o50, "p99_us": o99, "n": o.len()}});
                if let Some(p) = get(k, c, Via::Peer) {
                    write!(
                        self.out,
                        " {:.0} | {:.0} | {:.0} |",
                        p.p50(),
                        p.p99(),
                        p.p50() - d50
                    )?;
                    row["fastmcp"] = json!({"p50_us": p.p50(), "p99_us": p.p99(), "n": p.len()});
                } else if has_peer {
                    write!(self.out, " – | – | – |")?;
                }
                writeln!(self.out)?;
                self.json["latency"][k.id()][c.to_string()] = row;
            }
        }
        Ok(worst_added)
    }

    /// Table 2; returns the worst through ÷ direct ratio over the child kinds.
    fn throughput(&mut self) -> Result<f64> {
        let conc = self.a.concurrency;
        let has_peer = self.has_peer();
        let res = self.res;
        let tput = |k: Kind, v: Via| calls_per_second(res, k, conc, v);
        writeln!(
            self.out,
            "\n### 2. Throughput at c={conc} (calls/s, total calls ÷ total wall time over the rounds)\n"
        )?;
        let mut head = String::from("| child | direct | orchestrator | orchestrator ÷ direct |");
        let mut sep = String::from("|---|---:|---:|---:|");
        if has_peer {
            head.push_str(" fastmcp | fastmcp ÷ direct |");
            sep.push_str("---:|---:|");
        }
        writeln!(self.out, "{head}\n{sep}")?;
        let mut worst_tput = f64::INFINITY;
        for &k in &res.kinds {
            let (Some(d), Some(o)) = (tput(k, Via::Direct), tput(k, Via::Orchestrator)) else {
                continue;
            };
            worst_tput = worst_tput.min(o / d);
            write!(
                self.out,
                "| {} | {d:.0} | {o:.0} | {:.0} % |",
                k.label(),
                100.0 * o / d
            )?;
            self.json["throughput"][k.id()] = json!({"direct": d, "orchestrator": o});
            if let Some(p) = tput(k, Via::Peer) {
                write!(self.out, " {p:.0} | {:.0} % |", 100.0 * p / d)?;
                self.json["throughput"][k.id()]["fastmcp"] = json!(p);
            } else if has_peer {
                write!(self.out, " – | – |")?;
            }
            writeln!(self.out)?;
        }
        Ok(worst_tput)
    }

    /// Tables 1a and 2a: the floor (a bare relay), direct and through, from the same rounds.
    /// Returns the worst through ÷ floor throughput at the high concurrency, if measured.
    fn floor(&mut self) -> Result<Option<f64>> {
        let conc = self.a.concurrency;
        let res = self.res;
        let get = |k: Kind, c: usize, v: Via| res.load.samples.get(&(k, c, v));
        if !res.kinds.iter().any(|&k| get(k, 1, Via::Floor).is_some()) {
            return Ok(None);
        }
        writeln!(
            self.out,
            "\n### 1a. Floor, direct and through: latency (µs)\n\n\
             floor = `router-bench-relay` in front of its own copy of the child: one process that \
             copies lines host → child and child → host with the orchestrator's I/O pattern \
             (multi-thread tokio, 64 KiB buffered reads, a flush per line) and parses nothing, \
             measured in the same rounds as direct and through (targets alternate). added = \
             column − direct at the same percentile. **position** = (through − floor) ÷ (direct − \
             floor) = 1 − through added ÷ floor added: **higher is better**; 1 = as fast as direct, \
             0 = as fast as the bare relay, below 0 = slower than the relay (−1: the relay's added \
             cost once more on top of it); – = the floor came out no slower than direct at that \
             percentile in this run, so there is no scale (read the added columns). The floor adds \
             little at c=1, so the position there is noisy; `through added − floor added` is what \
             ours costs above a bare hop.\n"
        )?;
        writeln!(
            self.out,
            "| child | c | floor p50 | floor p99 | direct p50 | direct p99 | through p50 | through p99 | floor added p50 | floor added p99 | through added p50 | through added p99 | position p50 | position p99 |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )?;
        for &k in &res.kinds {
            for c in [1, conc] {
                let (Some(f), Some(d), Some(o)) = (
                    get(k, c, Via::Floor),
                    get(k, c, Via::Direct),
                    get(k, c, Via::Orchestrator),
                ) else {
                    continue;
                };
                let (f50, f99, d50, d99, o50, o99) =
                    (f.p50(), f.p99(), d.p50(), d.p99(), o.p50(), o.p99());
                let (pos50, pos99) = (position(o50, f50, d50, true), position(o99, f99, d99, true));
                writeln!(
                    self.out,
                    "| {} | {c} | {f50:.0} | {f99:.0} | {d50:.0} | {d99:.0} | {o50:.0} | {o99:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |",
                    k.label(),
                    f50 - d50,
                    f99 - d99,
                    o50 - d50,
                    o99 - d99,
                    fmt_position(pos50),
                    fmt_position(pos99),
                )?;
                self.json["floor"]["latency"][k.id()][c.to_string()] = json!({
                    "floor": {"p50_us": f50, "p99_us": f99, "n": f.len()},
                    "direct": {"p50_us": d50, "p99_us": d99, "n": d.len()},
                    "orchestrator": {"p50_us": o50, "p99_us": o99, "n": o.len()},
                    "position": {"p50": finite(pos50), "p99": finite(pos99)},
                });
            }
        }

        let tput = |k: Kind, v: Via| calls_per_second(res, k, conc, v);
        writeln!(
            self.out,
            "\n### 2a. Floor, direct and through: throughput at c={conc} (calls/s)\n\n\
             Same rounds as table 2. **position** = (through − floor) ÷ (direct − floor): **higher \
             is better**; 1 = direct's throughput, 0 = the bare relay's, below 0 = below the \
             relay's; – = the floor was not slower than direct in this run (no scale). through ÷ \
             floor: 100 % = as fast as the bare relay.\n"
        )?;
        writeln!(
            self.out,
            "| child | floor | direct | through | floor ÷ direct | through ÷ direct | through ÷ floor | position |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|"
        )?;
        let mut worst = f64::INFINITY;
        for &k in &res.kinds {
            let (Some(f), Some(d), Some(o)) = (
                tput(k, Via::Floor),
                tput(k, Via::Direct),
                tput(k, Via::Orchestrator),
            ) else {
                continue;
            };
            worst = worst.min(o / f);
            let pos = position(o, f, d, false);
            writeln!(
                self.out,
                "| {} | {f:.0} | {d:.0} | {o:.0} | {:.0} % | {:.0} % | {:.0} % | {} |",
                k.label(),
                100.0 * f / d,
                100.0 * o / d,
                100.0 * o / f,
                fmt_position(pos),
            )?;
            self.json["floor"]["throughput"][k.id()] =
                json!({"floor": f, "direct": d, "orchestrator": o, "position": finite(pos)});
        }
        Ok(worst.is_finite().then_some(worst))
    }

    /// Table 2b: CPU time and context switches per call of the process in the middle; returns
    /// the orchestrator's CPU per call (µs) at the high concurrency on the Rust fixture.
    fn cpu(&mut self) -> Result<Option<f64>> {
        let conc = self.a.concurrency;
        let res = self.res;
        if res.load.cpu.is_empty() {
            return Ok(None);
        }
        writeln!(
            self.out,
            "\n### 2b. CPU and context switches per call (the measured calls of tables 1–2, warm-up excluded)\n\n\
             Per call of the process in the middle, summed over its threads and the measured \
             batches, ÷ calls: CPU = `se.sum_exec_runtime` of `/proc/PID/task/TID/sched` (ns); \
             utime + stime = `/proc/PID/stat` (10 ms ticks, so coarse on short batches: a cross-check); \
             context switches = `voluntary_ctxt_switches` / `nonvoluntary_ctxt_switches` of \
             `/proc/PID/task/TID/status`. Lower is better. The orchestrator's figures include what it does for the \
             host beyond relaying (its other four children idle); the child row is the child \
             itself when called directly, for scale.\n"
        )?;
        writeln!(
            self.out,
            "| process | child | c | calls | CPU µs/call | utime+stime µs/call | voluntary cs/call | involuntary cs/call |\n\
             |---|---|---:|---:|---:|---:|---:|---:|"
        )?;
        let mut orch = None;
        for via in [Via::Floor, Via::Legacy, Via::Orchestrator, Via::Direct] {
            for &k in &res.kinds {
                for c in [1, conc] {
                    let Some((calls, u)) = res.load.cpu.get(&(k, c, via)) else {
                        continue;
                    };
                    let n = (*calls).max(1) as f64;
                    let cpu_us = u.cpu.as_secs_f64() * 1e6 / n;
                    let ticks_us = u.cpu_ticks.as_secs_f64() * 1e6 / n;
                    let (v, nv) = (u.voluntary as f64 / n, u.involuntary as f64 / n);
                    let label = match via {
                        Via::Floor => "bare relay (floor)",
                        Via::Legacy => "mcp-orchestrator, child pinned `legacy`",
                        Via::Orchestrator => "mcp-orchestrator (default `auto`)",
                        _ => "the child (direct)",
                    };
                    writeln!(
                        self.out,
                        "| {label} | {} | {c} | {calls} | {cpu_us:.1} | {ticks_us:.1} | {v:.2} | {nv:.2} |",
                        k.label()
                    )?;
                    if via == Via::Orchestrator && k == Kind::Fixture && c == conc {
                        orch = Some(cpu_us);
                    }
                    self.json["cpu_per_call"][via.label()][k.id()][c.to_string()] = json!({
                        "calls": calls, "cpu_us": cpu_us, "utime_stime_us": ticks_us,
                        "voluntary_cs": v, "involuntary_cs": nv,
                    });
                }
            }
        }
        Ok(orch)
    }

    /// Table 2c: the Rust fixture's four columns side by side (direct, floor, through with the
    /// child pinned `legacy`, through with the default `auto`), from the same rounds. Returns
    /// the pinned column's throughput ÷ floor and CPU per call at the high concurrency (NaN
    /// where not measured), or `None` without that column.
    fn era(&mut self) -> Result<Option<(f64, f64)>> {
        let conc = self.a.concurrency;
        let res = self.res;
        let k = Kind::Fixture;
        if !res.load.samples.contains_key(&(k, 1, Via::Legacy)) {
            return Ok(None);
        }
        let vias = [Via::Direct, Via::Floor, Via::Legacy, Via::Orchestrator];
        let pct = |c: usize, v: Via, p: f64| {
            res.load
                .samples
                .get(&(k, c, v))
                .map_or(f64::NAN, |s| s.pct_us(p))
        };
        let tput = |v: Via| calls_per_second(res, k, conc, v).unwrap_or(f64::NAN);
        let cpu = |c: usize, v: Via| {
            res.load.cpu.get(&(k, c, v)).map_or(f64::NAN, |(n, u)| {
                u.cpu.as_secs_f64() * 1e6 / (*n).max(1) as f64
            })
        };
        let switches = |c: usize, v: Via| {
            res.load.cpu.get(&(k, c, v)).map_or(f64::NAN, |(n, u)| {
                (u.voluntary + u.involuntary) as f64 / (*n).max(1) as f64
            })
        };
        // What each orchestrator says it connected the child as: the column's label is only
        // true if this agrees.
        let era = |status: &Value| {
            let s = status.pointer("/servers/fixture");
            match (
                s.and_then(|s| s["era"].as_str()),
                s.and_then(|s| s["protocol_version"].as_str()),
            ) {
                (Some(e), Some(v)) => format!("`{e}` ({v})"),
                _ => "? (no status)".to_owned(),
            }
        };
        writeln!(
            self.out,
            "\n### 2c. The child's protocol era: fast path vs typed path ({})\n\n\
             The same rounds as tables 1–2b. floor = the bare relay; through `legacy` = an orchestrator \
             with every child pinned `\"protocol\": \"legacy\"` (the dual-era fixture is connected with \
             `initialize`, and its calls take the forwarding fast path); through `auto` = the default \
             config (the fixture is connected in the 2026-07-28 era, calls take the typed path). \
             added = column − direct at the same percentile; CPU and context switches per call of the \
             process in the middle (direct: the child itself).\n",
            k.label()
        )?;
        writeln!(
            self.out,
            "| figure | direct | floor (bare relay) | through, `legacy` (fast path) | through, `auto` (typed path) |\n\
             |---|---:|---:|---:|---:|"
        )?;
        writeln!(
            self.out,
            "| the child's era, as the orchestrator reports it | – | – | {} | {} |",
            era(&res.status_legacy),
            era(&res.status)
        )?;
        let row = |label: &str, f: &dyn Fn(Via) -> f64, digits: usize, direct: bool| {
            let cells: Vec<String> = vias
                .iter()
                .map(|&v| {
                    let x = f(v);
                    if (v == Via::Direct && !direct) || !x.is_finite() {
                        "–".to_owned()
                    } else {
                        format!("{x:.digits$}")
                    }
                })
                .collect();
            format!("| {label} | {} |", cells.join(" | "))
        };
        let d50 = pct(1, Via::Direct, 50.0);
        let d99 = pct(1, Via::Direct, 99.0);
        let dt = tput(Via::Direct);
        let ft = tput(Via::Floor);
        for line in [
            row("p50 at c=1, µs", &|v| pct(1, v, 50.0), 0, true),
            row("p99 at c=1, µs", &|v| pct(1, v, 99.0), 0, true),
            row("added p50 at c=1, µs", &|v| pct(1, v, 50.0) - d50, 0, false),
            row("added p99 at c=1, µs", &|v| pct(1, v, 99.0) - d99, 0, false),
            row(
                &format!("throughput at c={conc}, calls/s"),
                &|v| tput(v),
                0,
                true,
            ),
            row(
                &format!("throughput at c={conc}, % of direct"),
                &|v| 100.0 * tput(v) / dt,
                0,
                false,
            ),
            row(
                &format!("throughput at c={conc}, % of the floor"),
                &|v| {
                    if v == Via::Floor {
                        f64::NAN
                    } else {
                        100.0 * tput(v) / ft
                    }
                },
                0,
                false,
            ),
            row("CPU per call at c=1, µs", &|v| cpu(1, v), 1, true),
            row(
                &format!("CPU per call at c={conc}, µs"),
                &|v| cpu(conc, v),
                1,
                true,
            ),
            row(
                &format!("context switches per call at c={conc}"),
                &|v| switches(conc, v),
                2,
                true,
            ),
        ] {
            writeln!(self.out, "{line}")?;
        }
        let mut j = json!({});
        for v in vias {
            j[v.label()] = json!({
                "p50_us_c1": finite(pct(1, v, 50.0)), "p99_us_c1": finite(pct(1, v, 99.0)),
                "calls_per_s": finite(tput(v)),
                "cpu_us_c1": finite(cpu(1, v)), "cpu_us": finite(cpu(conc, v)),
                "cs_per_call": finite(switches(conc, v)),
            });
        }
        j["era_legacy"] = json!(era(&res.status_legacy));
        j["era_auto"] = json!(era(&res.status));
        self.json["era"][k.id()] = j;
        Ok(Some((tput(Via::Legacy) / ft, cpu(conc, Via::Legacy))))
    }

    /// Table 3.
    fn memory(&mut self) -> Result<()> {
        let conc = self.a.concurrency;
        writeln!(
            self.out,
            "\n### 3. Memory of the aggregator process itself, five children (MiB)\n\n\
             idle = VmRSS after start-up and 1 s without calls; under load = largest VmRSS sampled every 20 ms \
             during the c={conc} runs through it; VmHWM = peak at the end of the load phase; children = \
             sum of the VmRSS of all its descendants when idle (not included in the other columns).\n"
        )?;
        writeln!(
            self.out,
            "| process | idle VmRSS | VmRSS under load (max) | VmHWM | its children (sum) |\n|---|---:|---:|---:|---:|"
        )?;
        for (via, r) in &self.res.load.rss {
            let label = match via {
                Via::Orchestrator => "mcp-orchestrator",
                _ => "fastmcp (python)",
            };
            writeln!(
                self.out,
                "| {label} | {} | {} | {} | {} |",
                mib(r.idle_kib),
                mib(r.load_max_kib),
                mib(r.hwm_kib),
                mib(r.children_kib)
            )?;
            self.json["rss_kib"][via.label()] = json!({"idle": r.idle_kib, "load_max": r.load_max_kib, "hwm": r.hwm_kib, "children": r.children_kib});
        }
        Ok(())
    }

    /// Table 4; returns the worst orchestrator − slowest child (medians) over the
    /// configurations, in ms (−∞ without any).
    fn startup(&mut self) -> Result<f64> {
        // `--no-startup`: no table, and no verdict on nothing.
        if self.res.startups.is_empty() {
            return Ok(f64::NEG_INFINITY);
        }
        let has_peer = self.has_peer();
        writeln!(
            self.out,
            "\n### 4. Start-up: spawn → first `tools/list` answer listing all five children (ms)\n\n\
             median (min–max) of {} cold starts each; \"slowest child alone\" = the child whose own \
             spawn → `initialize` → `tools/list` median is largest, started directly by the bench.\n",
            self.a.startup_runs
        )?;
        let mut head = String::from(
            "| children | slowest child alone | orchestrator | orchestrator − slowest (medians) |",
        );
        let mut sep = String::from("|---|---:|---:|---:|");
        if has_peer {
            head.push_str(" fastmcp | fastmcp − slowest |");
            sep.push_str("---:|---:|");
        }
        writeln!(self.out, "{head}\n{sep}")?;
        let mut worst_startup = f64::NEG_INFINITY;
        for s in &self.res.startups {
            let Some((id, alone)) = &s.slowest_child else {
                continue;
            };
            let extra = signed_ms(median(&s.orchestrator), median(alone));
            worst_startup = worst_startup.max(extra);
            write!(
                self.out,
                "| {} | {} (`{id}`) | {} | {extra:+.1} |",
                s.label,
                range_ms(alone),
                range_ms(&s.orchestrator),
            )?;
            if !s.peer.is_empty() {
                write!(
                    self.out,
                    " {} | {:+.1} |",
                    range_ms(&s.peer),
                    signed_ms(median(&s.peer), median(alone))
                )?;
            }
            writeln!(self.out)?;
            let v = |d: &[Duration]| {
                d.iter()
                    .map(|d| d.as_secs_f64() * 1000.0)
                    .collect::<Vec<_>>()
            };
            self.json["startup_ms"][&s.label] = json!({"slowest_child": id, "alone": v(alone),
                "orchestrator": v(&s.orchestrator), "fastmcp": v(&s.peer)});
        }
        Ok(worst_startup)
    }

    /// Table 5.
    fn fallback(&mut self) -> Result<()> {
        let fb = &self.res.fallback;
        writeln!(
            self.out,
            "\n### 5. Fallback: unified `chat`, c=1 (µs)\n\n\
             vendor_a answers at once with a retryable 503-style tool error (`--mode unavailable`); config \
             `retry_attempts: 1` and the circuit breaker out of reach, so every call tries vendor_a, then vendor_b.\n"
        )?;
        writeln!(self.out, "| path | p50 | p99 |\n|---|---:|---:|")?;
        for (label, s) in [
            ("`chat`: vendor_a fails, vendor_b answers", &fb.fallback),
            (
                "`chat` with `vendor: vendor_b` (the second vendor alone)",
                &fb.alone,
            ),
            ("vendor_b's `chat` direct (no orchestrator)", &fb.direct),
        ] {
            writeln!(self.out, "| {label} | {:.0} | {:.0} |", s.p50(), s.p99())?;
        }
        writeln!(
            self.out,
            "| fallback cost (first row − second row) | {:.0} | {:.0} |",
            fb.fallback.p50() - fb.alone.p50(),
            fb.fallback.p99() - fb.alone.p99()
        )?;
        self.json["fallback_us"] = json!({
            "fallback": {"p50": fb.fallback.p50(), "p99": fb.fallback.p99()},
            "second_alone": {"p50": fb.alone.p50(), "p99": fb.alone.p99()},
            "direct": {"p50": fb.direct.p50(), "p99": fb.direct.p99()},
        });
        Ok(())
    }

    /// The orchestrator's own overhead metric for `fixture`, after table 5, if its status had it.
    fn overhead_metric(&mut self) -> Result<()> {
        let conc = self.a.concurrency;
        if let Some(m) = self.res.status.pointer("/servers/fixture/metrics") {
            let o = &m["overhead_us"];
            writeln!(
                self.out,
                "\nThe orchestrator's own overhead metric for `fixture` (handler entry → answer minus time \
                 waiting on the child, last 1024 calls, i.e. the c={conc} runs): p50 {} µs, p99 {} µs.",
                o["p50"], o["p99"]
            )?;
            self.json["orchestrator_metrics_fixture"] = m.clone();
        }
        Ok(())
    }

    /// The targets table: each target, the worst figure measured against it, and the verdict.
    fn targets(
        &mut self,
        worst_added: (f64, f64),
        worst_tput: f64,
        worst_startup: f64,
    ) -> Result<()> {
        let conc = self.a.concurrency;
        let out = &mut self.out;
        let orch_rss = self
            .res
            .load
            .rss
            .get(&Via::Orchestrator)
            .copied()
            .unwrap_or_default();
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
        if worst_startup.is_finite() {
            writeln!(
                out,
                "| start-up ≤ slowest child + 20 ms | {worst_startup:+.1} ms (worst configuration) | {} |",
                verdict(worst_startup <= 20.0)
            )?;
        }
        Ok(())
    }

    /// The floor targets after the others (issue #19): through within 10 % of the bare relay's
    /// throughput, and the orchestrator's CPU per call.
    /// The default column's rows, then the same two for the fixture pinned `legacy` (the fast
    /// path these targets were set for).
    fn floor_targets(
        &mut self,
        through_floor: Option<f64>,
        orch_cpu: Option<f64>,
        legacy: Option<(f64, f64)>,
    ) -> Result<()> {
        let conc = self.a.concurrency;
        if let Some(r) = through_floor {
            writeln!(
                self.out,
                "| throughput through ≥ 90 % of the bare relay's (floor) at c={conc}, default `auto` | {:.0} % (worst child) | {} |",
                100.0 * r,
                verdict(r >= 0.9)
            )?;
        }
        if let Some(us) = orch_cpu {
            writeln!(
                self.out,
                "| orchestrator CPU per call ≤ 15 µs at c={conc} (Rust fixture), default `auto` (typed path) | {us:.1} µs | {} |",
                verdict(us <= 15.0)
            )?;
        }
        if let Some((r, us)) = legacy {
            if r.is_finite() {
                writeln!(
                    self.out,
                    "| throughput through ≥ 90 % of the bare relay's (floor) at c={conc}, fixture pinned `legacy` | {:.0} % | {} |",
                    100.0 * r,
                    verdict(r >= 0.9)
                )?;
            }
            if us.is_finite() {
                writeln!(
                    self.out,
                    "| orchestrator CPU per forwarded call ≤ 15 µs at c={conc} (Rust fixture), pinned `legacy` (fast path) | {us:.1} µs | {} |",
                    verdict(us <= 15.0)
                )?;
            }
        }
        Ok(())
    }
}

/// Where `through` sits from `floor` (0) to `direct` (1), for latencies (`lower_better`) or
/// throughputs. NaN when the floor did not come out worse than direct: then there is no scale to
/// place ours on (a negative span would turn the sign of the verdict round).
fn position(through: f64, floor: f64, direct: f64, lower_better: bool) -> f64 {
    let span = direct - floor;
    let floor_worse = if lower_better { span < 0.0 } else { span > 0.0 };
    if floor_worse {
        (through - floor) / span
    } else {
        f64::NAN
    }
}

fn fmt_position(p: f64) -> String {
    if p.is_finite() {
        format!("{p:+.2}")
    } else {
        "–".to_owned()
    }
}

/// `null` in the JSON for NaN.
fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
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

/// `median (min–max)` in ms.
fn range_ms(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!("{} ({}–{})", ms(median(v)), ms(min), ms(max))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "**holds**" } else { "**missed**" }
}

/// Calls per second of one child and path at concurrency `conc`, over all its rounds.
fn calls_per_second(res: &Results, k: Kind, conc: usize, v: Via) -> Option<f64> {
    res.load
        .wall
        .get(&(k, conc, v))
        .map(|(n, w)| *n as f64 / w.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn position_runs_from_floor_to_direct_and_refuses_an_inverted_scale() {
        // Throughput: floor 8 000, direct 10 000.
        assert_eq!(position(9_000.0, 8_000.0, 10_000.0, false), 0.5);
        assert_eq!(position(6_000.0, 8_000.0, 10_000.0, false), -1.0);
        // Latency: direct 100 µs, floor 125 µs (+25), ours 175 µs (+75).
        assert_eq!(position(175.0, 125.0, 100.0, true), -2.0);
        assert_eq!(position(100.0, 125.0, 100.0, true), 1.0);
        // The floor no worse than direct: no scale.
        assert!(position(5_000.0, 11_000.0, 10_000.0, false).is_nan());
        assert!(position(175.0, 95.0, 100.0, true).is_nan());
    }
}
