//! Item 7's report: one Markdown table per measured item, SQLite and PostgreSQL side by side
//! (one column per store, one row per N and figure), then the targets; and its JSON.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Batch, Case, Ms, STEPS, Store, Workflows};
use crate::args::Args;

/// Renders item 7; returns the Markdown and the JSON.
pub fn write(args: &Args, res: &Workflows) -> Result<(String, Value)> {
    let mut r = Report {
        a: args,
        res,
        out: String::new(),
        stores: {
            let mut s = args.wf_stores.clone();
            s.sort_unstable();
            s.dedup();
            s
        },
    };
    r.intro()?;
    r.throughput()?;
    r.durations()?;
    r.added()?;
    r.memory()?;
    r.baseline()?;
    r.targets()?;
    Ok((r.out, json(res)))
}

struct Report<'a> {
    a: &'a Args,
    res: &'a Workflows,
    out: String,
    stores: Vec<Store>,
}

fn f1(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.1}")
    }
}

fn f2(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.2}")
    }
}

fn pair(m: &Ms, f: fn(f64) -> String) -> String {
    if m.len() == 0 {
        return "–".into();
    }
    format!("{} / {}", f(m.p50()), f(m.p99()))
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

pub(crate) fn bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / 1_048_576.0)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}

/// `x` rounded, with thousands separators (`–` for NaN).
pub(crate) fn thousands(x: f64) -> String {
    if x.is_nan() {
        return "–".into();
    }
    let s = format!("{x:.0}");
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::from(sign);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn pick_conc(c: &Case) -> (&Batch, &Batch) {
    (&c.conc, &c.base_conc)
}

fn pick_seq(c: &Case) -> (&Batch, &Batch) {
    (&c.seq, &c.base_seq)
}

fn steps_per_s(b: &Batch) -> f64 {
    (STEPS * b.runs) as f64 / b.wall.as_secs_f64()
}

/// Mean step time minus mean `fx__echo` time (ms).
fn added_mean(run: &Batch, base: &Batch) -> f64 {
    run.report_step.mean() - base.calls.mean()
}

fn added_p50(run: &Batch, base: &Batch) -> f64 {
    run.report_step.p50() - base.calls.p50()
}

impl Report<'_> {
    fn case(&self, s: Store, n: usize) -> Option<&Case> {
        self.res.cases.get(&(s, n))
    }

    fn head(&mut self, what: &str) -> Result<()> {
        write!(self.out, "| N | {what} |")?;
        for s in &self.stores {
            write!(self.out, " {} |", s.label())?;
        }
        write!(self.out, " target |\n|---:|---|")?;
        for _ in &self.stores {
            write!(self.out, "---:|")?;
        }
        writeln!(self.out, "---|")?;
        Ok(())
    }

    /// One row: N, the figure's label, one cell per store (`–` where not measured), target.
    fn row(
        &mut self,
        n: usize,
        label: &str,
        cell: &dyn Fn(&Case) -> String,
        target: &str,
    ) -> Result<()> {
        write!(self.out, "| {} | {label} |", thousands(n as f64))?;
        for s in self.stores.clone() {
            let v = self.case(s, n).map_or_else(|| "–".to_owned(), cell);
            write!(self.out, " {v} |")?;
        }
        writeln!(self.out, " {target} |")?;
        Ok(())
    }

    fn intro(&mut self) -> Result<()> {
        let a = self.a;
        writeln!(
            self.out,
            "### 7. Workflows: 5-step diamond, {} concurrent runs\n\n\
             Workflow `diamond`: `a` → (`b`, `c`, `d`) → `e`, every step `mcp: fx, action: echo` with a \
             message built from its upstream results (`\"b ${{steps.a.result}}\"`, …); one fixture child \
             `fx`; a fresh `serve` and a fresh store per store × N, with `max_concurrent_workflows` = \
             `max_concurrent_steps` = N and `max_in_flight` = max(3N, 64). Per case: {} warm-up runs; \
             c=1: {} runs one after another; c=N: N `workflow__diamond` calls sent at once over the one \
             MCP session (each returns when its run has ended). Baseline: the same five calls \
             (`fx__echo`, each message carrying the previous answer) made one by one by the client per \
             \"run\", {} such runs one after another and N at once. Run reports (`workflow_status`) of up \
             to {} runs per batch are read after the timed part; their timestamps are unix ms (1-ms \
             resolution, so means are the figures to trust below 1 ms).\n",
            a.wf_runs
                .iter()
                .map(|n| thousands(*n as f64))
                .collect::<Vec<_>>()
                .join(" and "),
            a.wf_warmup,
            a.wf_seq_runs,
            a.wf_seq_runs,
            a.wf_sample,
        )?;
        for (s, note) in &self.res.skipped {
            writeln!(self.out, "* {}: {note}", s.label())?;
        }
        if let Some(note) = &self.res.pg_note {
            writeln!(self.out, "* PostgreSQL: {note}")?;
        }
        for ((s, n), c) in &self.res.cases {
            writeln!(
                self.out,
                "* loadavg (1/5/15 min) when the {} N={n} case started: {}",
                s.label(),
                c.load
            )?;
        }
        writeln!(self.out)?;
        Ok(())
    }

    fn throughput(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "#### 7.1 Throughput: steps/s = 5 × runs ÷ wall time of the batch\n"
        )?;
        self.head("figure")?;
        for n in self.a.wf_runs.clone() {
            self.row(
                n,
                "c=N: wall time of the N runs (s)",
                &|c| format!("{:.2}", c.conc.wall.as_secs_f64()),
                "",
            )?;
            self.row(
                n,
                "c=N: steps/s",
                &|c| thousands(steps_per_s(&c.conc)),
                "≥ 2,000 (SQLite)",
            )?;
            self.row(
                n,
                "c=1: steps/s (runs one after another)",
                &|c| thousands(steps_per_s(&c.seq)),
                "",
            )?;
        }
        Ok(())
    }

    fn durations(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 7.2 Per-run duration, p50 / p99 (ms)\n\n\
             client = the `workflow__diamond` call's time as the bench saw it; report = the run's \
             `created_at` → `finished_at`.\n"
        )?;
        self.head("figure")?;
        for n in self.a.wf_runs.clone() {
            self.row(n, "c=1: client", &|c| pair(&c.seq.client, f2), "")?;
            self.row(n, "c=1: report", &|c| pair(&c.seq.report_run, f1), "")?;
            self.row(n, "c=N: client", &|c| pair(&c.conc.client, f1), "")?;
            self.row(n, "c=N: report", &|c| pair(&c.conc.report_run, f1), "")?;
        }
        Ok(())
    }

    fn added(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 7.3 The engine's added latency per step (ms)\n\n\
             step = `finished_at` − `started_at` from the run reports (the step's `running` state is \
             stamped before its `running` write and `step_started` event, `finished_at` when the call \
             has answered and the run's driver picked the result up, before the `completed` write). \
             `fx__echo` = the same tool called by the bench through the orchestrator at the same \
             concurrency (the baseline's calls); it includes the client ↔ orchestrator stdio hop, \
             which a step does not pay. added = step − `fx__echo`: store writes and scheduling inside \
             the engine, minus that hop. The target is the c=1 row; at c=N the two sides queue \
             differently (all N client calls are in flight at once and queue in the orchestrator and \
             the child, while a step's clock starts only once it holds a step slot), so the c=N \
             difference is not the engine's cost \
             and can be negative.\n"
        )?;
        self.head("figure")?;
        for n in self.a.wf_runs.clone() {
            for (conc, lbl) in [(false, "c=1"), (true, "c=N")] {
                let pick = if conc { pick_conc } else { pick_seq };
                self.row(
                    n,
                    &format!("{lbl}: step, mean"),
                    &|c| f2(pick(c).0.report_step.mean()),
                    "",
                )?;
                self.row(
                    n,
                    &format!("{lbl}: step, p50 / p99"),
                    &|c| pair(&pick(c).0.report_step, f1),
                    "",
                )?;
                self.row(
                    n,
                    &format!("{lbl}: `fx__echo` through, mean; p50 / p99"),
                    &|c| {
                        let m = &pick(c).1.calls;
                        format!("{}; {}", f2(m.mean()), pair(m, f2))
                    },
                    "",
                )?;
                self.row(
                    n,
                    &format!("{lbl}: **added per step**, mean − mean (p50 − p50)"),
                    &|c| {
                        let (r, b) = pick(c);
                        format!("**{}** ({})", f2(added_mean(r, b)), f2(added_p50(r, b)))
                    },
                    if conc { "" } else { "p50 ≤ 1 ms" },
                )?;
            }
            self.row(
                n,
                "c=1: `echo` direct to a fixture, mean; p50 / p99",
                &|c| format!("{}; {}", f2(c.direct_echo.mean()), pair(&c.direct_echo, f2)),
                "",
            )?;
        }
        Ok(())
    }

    fn memory(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 7.4 Orchestrator memory and store size\n\n\
             RSS of the orchestrator process alone (its child `fx` not included). Store size: \
             `orchestrator_status` → `workflows.store_bytes` (SQLite: page count × page size; \
             PostgreSQL: `pg_database_size` of the case's own database), right after start and after \
             every run of the case ({} warm-up + {} + N runs).\n",
            self.a.wf_warmup, self.a.wf_seq_runs
        )?;
        self.head("figure")?;
        for n in self.a.wf_runs.clone() {
            self.row(
                n,
                "VmRSS during the c=N runs, max of 20-ms samples (MiB)",
                &|c| mib(c.rss_load_max_kib),
                "",
            )?;
            self.row(
                n,
                "VmHWM after the c=N runs (MiB)",
                &|c| mib(c.hwm_kib),
                if n >= 1000 {
                    "≤ 100 MB (95.4 MiB)"
                } else {
                    ""
                },
            )?;
            self.row(
                n,
                "store: after start → after the runs",
                &|c| match (c.store_bytes_before, c.store_bytes_after) {
                    (Some(b), Some(a)) => format!("{} → {}", bytes(b), bytes(a)),
                    _ => "?".into(),
                },
                "",
            )?;
            self.row(
                n,
                "store: growth per run (bytes)",
                &|c| match (c.store_bytes_before, c.store_bytes_after) {
                    (Some(b), Some(a)) if c.runs_stored > 0 => {
                        thousands(a.saturating_sub(b) as f64 / c.runs_stored as f64)
                    }
                    _ => "?".into(),
                },
                "",
            )?;
            self.row(
                n,
                "SQLite file + WAL on disk at the end",
                &|c| c.sqlite_disk_bytes.map_or_else(|| "–".into(), bytes),
                "",
            )?;
        }
        Ok(())
    }

    fn baseline(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 7.5 Baseline: the same five calls made one by one by the client\n\n\
             workflow = 7.1/7.2's runs; client = five `fx__echo` calls in sequence per \"run\" (the \
             workflow runs `b`, `c`, `d` in parallel, the client does not), on the same orchestrator \
             right after the workflow runs.\n"
        )?;
        self.head("figure")?;
        for n in self.a.wf_runs.clone() {
            self.row(
                n,
                "c=N: wall (s), workflow",
                &|c| format!("{:.2}", c.conc.wall.as_secs_f64()),
                "",
            )?;
            self.row(
                n,
                "c=N: wall (s), client",
                &|c| format!("{:.2}", c.base_conc.wall.as_secs_f64()),
                "",
            )?;
            self.row(
                n,
                "c=N: calls/s, workflow",
                &|c| thousands(steps_per_s(&c.conc)),
                "",
            )?;
            self.row(
                n,
                "c=N: calls/s, client",
                &|c| thousands(steps_per_s(&c.base_conc)),
                "",
            )?;
            self.row(
                n,
                "c=N: per run p50 / p99 (ms), workflow",
                &|c| pair(&c.conc.client, f1),
                "",
            )?;
            self.row(
                n,
                "c=N: per run p50 / p99 (ms), client",
                &|c| pair(&c.base_conc.client, f1),
                "",
            )?;
            self.row(
                n,
                "c=1: per run p50 / p99 (ms), workflow",
                &|c| pair(&c.seq.client, f2),
                "",
            )?;
            self.row(
                n,
                "c=1: per run p50 / p99 (ms), client",
                &|c| pair(&c.base_seq.client, f2),
                "",
            )?;
        }
        Ok(())
    }

    fn targets(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 7.6 Targets (figures, not asserts)\n\n| target | measured | verdict |\n|---|---|---|"
        )?;
        let mut steps = Vec::new();
        let mut ok = true;
        for ((s, n), c) in &self.res.cases {
            if *s == Store::Sqlite {
                let v = steps_per_s(&c.conc);
                ok &= v >= 2000.0;
                steps.push((format!("{} (N={n})", thousands(v)), v));
            }
        }
        if !steps.is_empty() {
            let worst = steps.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
            writeln!(
                self.out,
                "| ≥ 2,000 steps/s on SQLite | {} | {} |",
                steps
                    .iter()
                    .map(|x| x.0.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                if ok {
                    "met".to_owned()
                } else {
                    format!("missed by {:.0} % (worst)", 100.0 * (1.0 - worst / 2000.0))
                }
            )?;
        }
        let mut added = Vec::new();
        let mut worst: f64 = f64::NEG_INFINITY;
        for ((s, n), c) in &self.res.cases {
            let v = added_mean(&c.seq, &c.base_seq);
            let p = added_p50(&c.seq, &c.base_seq);
            worst = worst.max(v.max(p));
            added.push(format!(
                "{} N={n}: {} ms mean, {} ms p50",
                s.label(),
                f2(v),
                f2(p)
            ));
        }
        if !added.is_empty() {
            writeln!(
                self.out,
                "| added latency per step p50 ≤ 1 ms (c=1) | {} | {} |",
                added.join("; "),
                if worst <= 1.0 {
                    "met".to_owned()
                } else {
                    format!("missed by {:.2} ms (worst)", worst - 1.0)
                }
            )?;
        }
        for ((s, n), c) in &self.res.cases {
            if *n >= 1000 {
                let b = c.hwm_kib as f64 * 1024.0;
                writeln!(
                    self.out,
                    "| {} concurrent runs with RSS ≤ 100 MB ({}) | VmHWM {} MiB ({:.1} MB) | {} |",
                    thousands(*n as f64),
                    s.label(),
                    mib(c.hwm_kib),
                    b / 1e6,
                    if b <= 100e6 {
                        "met".to_owned()
                    } else {
                        format!("missed by {:.1} MB", b / 1e6 - 100.0)
                    }
                )?;
            }
        }
        Ok(())
    }
}

pub(crate) fn ms_json(m: &Ms) -> Value {
    json!({"n": m.len(), "mean": m.mean(), "p50": m.p50(), "p99": m.p99()})
}

fn batch_json(b: &Batch) -> Value {
    json!({
        "runs": b.runs, "wall_s": b.wall.as_secs_f64(), "client_ms": ms_json(&b.client),
        "calls_ms": ms_json(&b.calls), "report_run_ms": ms_json(&b.report_run),
        "report_step_ms": ms_json(&b.report_step), "sampled": b.sampled,
    })
}

fn json(res: &Workflows) -> Value {
    let mut v = json!({"cases": {}, "skipped": {}});
    for ((s, n), c) in &res.cases {
        v["cases"][s.id()][n.to_string()] = json!({
            "loadavg": c.load,
            "seq": batch_json(&c.seq), "conc": batch_json(&c.conc),
            "base_seq": batch_json(&c.base_seq), "base_conc": batch_json(&c.base_conc),
            "direct_echo_ms": ms_json(&c.direct_echo),
            "rss_load_max_kib": c.rss_load_max_kib, "hwm_kib": c.hwm_kib,
            "store_bytes_before": c.store_bytes_before, "store_bytes_after": c.store_bytes_after,
            "sqlite_disk_bytes": c.sqlite_disk_bytes, "runs_stored": c.runs_stored,
        });
    }
    for (s, note) in &res.skipped {
        v["skipped"][s.id()] = json!(note);
    }
    v
}
