//! Item 8's report: one Markdown table per measured item, SQLite and PostgreSQL side by side
//! (one column per store, one row per pool size and figure), then the targets; and its JSON.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Value, json};

use super::{Case, Jobs, Loop};
use crate::{
    args::Args,
    phases::workflows::{
        Ms, Store,
        report::{bytes, mib, ms_json, thousands},
    },
};

/// The targets of the issue.
const SUBMIT_P50_MS: f64 = 2.0;
const JOBS_PER_S: f64 = 1000.0;

/// Renders item 8; returns the Markdown and the JSON.
pub fn write(args: &Args, res: &Jobs) -> Result<(String, Value)> {
    let mut r = Report {
        a: args,
        res,
        out: String::new(),
        stores: {
            let mut s = args.jobs_stores.clone();
            s.sort_unstable();
            s.dedup();
            s
        },
    };
    r.intro()?;
    r.submit()?;
    r.completion()?;
    r.sustained()?;
    r.memory()?;
    r.targets()?;
    Ok((r.out, json(res)))
}

struct Report<'a> {
    a: &'a Args,
    res: &'a Jobs,
    out: String,
    stores: Vec<Store>,
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.digits$}")
    }
}

/// `p50 / p99` with `digits` decimals.
fn pair(m: &Ms, digits: usize) -> String {
    if m.len() == 0 {
        return "–".into();
    }
    format!("{} / {}", fmt(m.p50(), digits), fmt(m.p99(), digits))
}

/// `p50 / p99; mean`.
fn triple(m: &Ms, digits: usize) -> String {
    if m.len() == 0 {
        return "–".into();
    }
    format!("{}; {}", pair(m, digits), fmt(m.mean(), digits))
}

/// Growth per 10,000 jobs of a before → after pair.
fn per_10k(before: Option<u64>, after: Option<u64>, jobs: u64) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if jobs > 0 => Some((a as f64 - b as f64) / jobs as f64 * 10_000.0),
        _ => None,
    }
}

fn signed_bytes(x: f64) -> String {
    if x < 0.0 {
        format!("−{}", bytes((-x) as u64))
    } else {
        bytes(x as u64)
    }
}

/// Jobs the pool ran per second over the flood and its drain.
fn drained_per_s(c: &Case) -> Option<f64> {
    let (f, d) = (c.flood.as_ref()?, c.drain?);
    Some(f.submits as f64 / (f.wall + d).as_secs_f64())
}

impl Report<'_> {
    fn case(&self, s: Store, pool: usize) -> Option<&Case> {
        self.res.cases.get(&(s, pool))
    }

    fn head(&mut self) -> Result<()> {
        write!(self.out, "| pool | figure |")?;
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

    /// One row: pool size, the figure's label, one cell per store (`–` where not measured),
    /// target.
    fn row(
        &mut self,
        pool: usize,
        label: &str,
        cell: &dyn Fn(&Case) -> String,
        target: &str,
    ) -> Result<()> {
        write!(self.out, "| {pool} | {label} |")?;
        for s in self.stores.clone() {
            let v = self.case(s, pool).map_or_else(|| "–".to_owned(), cell);
            write!(self.out, " {v} |")?;
        }
        writeln!(self.out, " {target} |")?;
        Ok(())
    }

    fn intro(&mut self) -> Result<()> {
        let a = self.a;
        writeln!(
            self.out,
            "### 8. Jobs: submit latency, sustained throughput, store growth\n\n\
             Every job is a tool job `{{\"tool\": \"fx__echo\", \"arguments\": {{\"message\": \"x\"}}}}` \
             (the fixture child `fx`'s `echo`, a no-op). A fresh `serve` and a fresh store per \
             store × pool size (`jobs.max_concurrent` = pool; everything else at its default), all \
             calls over the one MCP session (stdio) of this process. Per case: {} warm-up loops \
             (submit → wait, and an `fx__echo` and a direct `echo`); c=1: {} `job_submit` calls one \
             after another (the jobs run meanwhile), then as many `fx__echo` calls through the \
             orchestrator, `echo` calls direct to a fixture and `job_status` reads of ended jobs; \
             c=1 submit → completed: {} times `job_submit` then at once `job_status` with \
             `wait_seconds` (the server answers when the job has ended); `fx__echo` alone at \
             c={} for 5 s; sustained: {} submitters for {} s, each looping `job_submit` → waiting \
             `job_status`; then submit-only at c={} for {} s and the time until the pool has run \
             the backlog (`orchestrator_status` → `jobs.totals` polled every 100 ms). Job report \
             timestamps are unix ms (1-ms resolution). The bench's client runs on the same machine \
             and shares its 2 CPUs with the orchestrator, the child and the store.\n",
            a.jobs_warmup,
            a.jobs_seq,
            a.jobs_sample,
            a.jobs_submitters,
            a.jobs_submitters,
            a.jobs_seconds,
            a.jobs_submitters,
            a.jobs_flood_seconds,
        )?;
        for (s, note) in &self.res.skipped {
            writeln!(self.out, "* {}: {note}", s.label())?;
        }
        if let Some(note) = &self.res.pg_note {
            writeln!(self.out, "* PostgreSQL: {note}")?;
        }
        for ((s, pool), c) in &self.res.cases {
            writeln!(
                self.out,
                "* loadavg (1/5/15 min) of the {} pool={pool} case: {} at its start, {} at its end",
                s.label(),
                c.load,
                c.load_end
            )?;
        }
        writeln!(self.out)?;
        Ok(())
    }

    fn submit(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "#### 8.1 Submit latency, c=1: p50 / p99; mean (ms)\n\n\
             Client-side time of one call, as the bench saw it. `fx__echo` through = the same tool \
             called directly through the orchestrator (what the MCP round trip costs without a \
             job); submit − `fx__echo` = what storing the job adds.\n"
        )?;
        self.head()?;
        for pool in self.a.jobs_pool.clone() {
            self.row(
                pool,
                "`job_submit`",
                &|c| triple(&c.submit_seq, 2),
                "p50 ≤ 2 ms (SQLite)",
            )?;
            self.row(
                pool,
                "`fx__echo` through the orchestrator",
                &|c| triple(&c.echo_seq, 2),
                "",
            )?;
            self.row(
                pool,
                "`echo` direct to a fixture",
                &|c| triple(&c.direct_echo, 2),
                "",
            )?;
            self.row(
                pool,
                "`job_status` of an ended job (a read)",
                &|c| triple(&c.status_seq, 2),
                "",
            )?;
            self.row(
                pool,
                "submit − `fx__echo`: p50 − p50; mean − mean",
                &|c| {
                    format!(
                        "{}; {}",
                        fmt(c.submit_seq.p50() - c.echo_seq.p50(), 2),
                        fmt(c.submit_seq.mean() - c.echo_seq.mean(), 2)
                    )
                },
                "",
            )?;
        }
        Ok(())
    }

    fn completion(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 8.2 Submit → completed, c=1: p50 / p99; mean (ms)\n\n\
             client = `job_submit` sent → the waiting `job_status` answered `completed`; report = \
             the job report's `created_at` → `finished_at` (→ `started_at`: until a worker took \
             it). The last rows are 8.1's jobs, submitted back to back while earlier ones ran \
             (a sample of up to {} of their reports).\n",
            self.a.jobs_sample
        )?;
        self.head()?;
        for pool in self.a.jobs_pool.clone() {
            self.row(
                pool,
                "client: submit → completed",
                &|c| triple(&c.wait_seq.cycle, 2),
                "",
            )?;
            self.row(
                pool,
                "client: of which `job_submit`",
                &|c| triple(&c.wait_seq.submit, 2),
                "",
            )?;
            self.row(
                pool,
                "report: `created_at` → `finished_at`",
                &|c| triple(&c.wait_seq.report_done, 2),
                "",
            )?;
            self.row(
                pool,
                "report: `created_at` → `started_at`",
                &|c| triple(&c.wait_seq.report_queue, 2),
                "",
            )?;
            self.row(
                pool,
                "jobs: completed / other end",
                &|c| format!("{} / {}", c.wait_seq.completed, c.wait_seq.failed),
                "",
            )?;
            self.row(
                pool,
                "8.1's jobs, report: `created_at` → `finished_at`",
                &|c| triple(&c.submit_seq_done, 2),
                "",
            )?;
            self.row(
                pool,
                "8.1's jobs, report: `created_at` → `started_at`",
                &|c| triple(&c.submit_seq_queue, 2),
                "",
            )?;
        }
        Ok(())
    }

    fn sustained(&mut self) -> Result<()> {
        let a = self.a;
        writeln!(
            self.out,
            "\n#### 8.3 Sustained: {} submitters for {} s, each looping submit → wait for completion\n\n\
             jobs/s = jobs seen `completed` ÷ wall time (start → the last submitter's last loop, \
             which may end just after the {} s); submits/s likewise. One MCP session carries all \
             the submitters; the `fx__echo` rows are that session's capacity without jobs at the \
             same concurrency. Submit-only: the submitters only submit for {} s (no waiting); the \
             pool keeps running during and after; drained = its end → no job pending or running; \
             pool jobs/s = the submit-only jobs ÷ (its wall time + drained).\n",
            a.jobs_submitters, a.jobs_seconds, a.jobs_seconds, a.jobs_flood_seconds
        )?;
        self.head()?;
        for pool in self.a.jobs_pool.clone() {
            self.row(
                pool,
                "wall time (s)",
                &|c| format!("{:.2}", c.sustained.wall.as_secs_f64()),
                "",
            )?;
            self.row(
                pool,
                "**completed jobs/s**",
                &|c| {
                    format!(
                        "**{}**",
                        thousands(c.sustained.per_s(c.sustained.completed))
                    )
                },
                "≥ 1,000",
            )?;
            self.row(
                pool,
                "submits/s",
                &|c| thousands(c.sustained.per_s(c.sustained.submits)),
                "",
            )?;
            self.row(
                pool,
                "jobs completed / other end",
                &|c| {
                    format!(
                        "{} / {}",
                        thousands(c.sustained.completed as f64),
                        c.sustained.failed
                    )
                },
                "",
            )?;
            self.row(
                pool,
                "per loop, submit → completed: p50 / p99; mean (ms)",
                &|c| triple(&c.sustained.cycle, 1),
                "",
            )?;
            self.row(
                pool,
                "`job_submit`: p50 / p99; mean (ms)",
                &|c| triple(&c.sustained.submit, 1),
                "",
            )?;
            self.row(
                pool,
                "report `created_at` → `finished_at`: p50 / p99; mean (ms)",
                &|c| triple(&c.sustained.report_done, 1),
                "",
            )?;
            self.row(
                pool,
                "report `created_at` → `started_at`: p50 / p99; mean (ms)",
                &|c| triple(&c.sustained.report_queue, 1),
                "",
            )?;
            self.row(
                pool,
                "`fx__echo` alone, same concurrency: calls/s",
                &|c| thousands(c.echo_conc.per_s(c.echo_conc.submits)),
                "",
            )?;
            self.row(
                pool,
                "`fx__echo` alone: p50 / p99; mean (ms)",
                &|c| triple(&c.echo_conc.submit, 1),
                "",
            )?;
            self.row(
                pool,
                "submit-only: submits/s",
                &|c| {
                    c.flood
                        .as_ref()
                        .map_or_else(|| "–".into(), |f| thousands(f.per_s(f.submits)))
                },
                "",
            )?;
            self.row(
                pool,
                "submit-only: `job_submit` p50 / p99; mean (ms)",
                &|c| {
                    c.flood
                        .as_ref()
                        .map_or_else(|| "–".into(), |f| triple(&f.submit, 1))
                },
                "",
            )?;
            self.row(
                pool,
                "submit-only: jobs submitted; not ended at its end",
                &|c| match (&c.flood, c.backlog) {
                    (Some(f), Some(b)) => {
                        format!("{}; {}", thousands(f.submits as f64), thousands(b as f64))
                    }
                    _ => "–".into(),
                },
                "",
            )?;
            self.row(
                pool,
                "submit-only: drained (s); pool jobs/s",
                &|c| match (c.drain, drained_per_s(c)) {
                    (Some(d), Some(v)) => format!("{:.2}; {}", d.as_secs_f64(), thousands(v)),
                    _ => "–".into(),
                },
                "",
            )?;
        }
        Ok(())
    }

    fn memory(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 8.4 Orchestrator memory and store growth\n\n\
             RSS of the orchestrator process alone (its child `fx` not included). Store: \
             `orchestrator_status` → `workflows.store_bytes` (SQLite: page count × page size, WAL \
             content included; PostgreSQL: `pg_database_size` of the case's own database) right \
             after start and at the end of the case; jobs = `jobs.totals` at the end (every job of \
             the case, warm-up included, all kept: the default retention is 7 days). SQLite file + \
             WAL = the two files' sizes on disk (the WAL is not truncated after a checkpoint, so \
             it stays at its high-water mark).\n"
        )?;
        self.head()?;
        for pool in self.a.jobs_pool.clone() {
            self.row(
                pool,
                "VmRSS during the sustained loops, max of 20-ms samples (MiB)",
                &|c| mib(c.rss_sustained_max_kib),
                "",
            )?;
            self.row(
                pool,
                "VmRSS at the end; VmHWM (MiB)",
                &|c| format!("{}; {}", mib(c.rss_end_kib), mib(c.hwm_kib)),
                "",
            )?;
            self.row(
                pool,
                "jobs in the store at the end",
                &|c| thousands(c.jobs_stored() as f64),
                "",
            )?;
            self.row(
                pool,
                "store: after start → at the end",
                &|c| match (c.store_bytes_before, c.store_bytes_after) {
                    (Some(b), Some(a)) => format!("{} → {}", bytes(b), bytes(a)),
                    _ => "?".into(),
                },
                "",
            )?;
            self.row(
                pool,
                "**store growth per 10,000 jobs**",
                &|c| {
                    per_10k(c.store_bytes_before, c.store_bytes_after, c.jobs_stored())
                        .map_or_else(|| "?".into(), |x| format!("**{}**", signed_bytes(x)))
                },
                "",
            )?;
            self.row(
                pool,
                "SQLite file + WAL: after start → at the end",
                &|c| match (c.sqlite_disk_before, c.sqlite_disk_after) {
                    (Some(b), Some(a)) => format!("{} → {}", bytes(b), bytes(a)),
                    _ => "–".into(),
                },
                "",
            )?;
            self.row(
                pool,
                "SQLite file + WAL: growth per 10,000 jobs",
                &|c| {
                    per_10k(c.sqlite_disk_before, c.sqlite_disk_after, c.jobs_stored())
                        .map_or_else(|| "–".into(), signed_bytes)
                },
                "",
            )?;
        }
        Ok(())
    }

    fn targets(&mut self) -> Result<()> {
        writeln!(
            self.out,
            "\n#### 8.5 Targets (figures, not asserts)\n\n| target | case | measured | verdict |\n|---|---|---|---|"
        )?;
        for ((s, pool), c) in &self.res.cases {
            if *s != Store::Sqlite {
                continue;
            }
            let p50 = c.submit_seq.p50();
            writeln!(
                self.out,
                "| `job_submit` returns in ≤ 2 ms p50 on SQLite | SQLite, pool {pool} | {} ms p50 (p99 {} ms) | {} |",
                fmt(p50, 2),
                fmt(c.submit_seq.p99(), 2),
                if p50 <= SUBMIT_P50_MS {
                    "met".to_owned()
                } else {
                    format!("missed by {} ms", fmt(p50 - SUBMIT_P50_MS, 2))
                }
            )?;
        }
        for ((s, pool), c) in &self.res.cases {
            let v = c.sustained.per_s(c.sustained.completed);
            writeln!(
                self.out,
                "| ≥ 1,000 jobs/s sustained ({} s, {} submitters) | {}, pool {pool} | {} completed jobs/s | {} |",
                self.a.jobs_seconds,
                self.a.jobs_submitters,
                s.label(),
                thousands(v),
                if v >= JOBS_PER_S {
                    "met".to_owned()
                } else {
                    format!(
                        "missed by {} jobs/s ({:.1} %)",
                        thousands(JOBS_PER_S - v),
                        100.0 * (1.0 - v / JOBS_PER_S)
                    )
                }
            )?;
        }
        Ok(())
    }
}

fn loop_json(l: &Loop) -> Value {
    json!({
        "tasks": l.tasks, "wall_s": l.wall.as_secs_f64(), "submits": l.submits,
        "completed": l.completed, "failed": l.failed,
        "completed_per_s": l.per_s(l.completed), "submits_per_s": l.per_s(l.submits),
        "submit_ms": ms_json(&l.submit), "cycle_ms": ms_json(&l.cycle),
        "report_done_ms": ms_json(&l.report_done), "report_queue_ms": ms_json(&l.report_queue),
    })
}

fn json(res: &Jobs) -> Value {
    let mut v = json!({"cases": {}, "skipped": {}});
    for ((s, pool), c) in &res.cases {
        v["cases"][s.id()][pool.to_string()] = json!({
            "loadavg": c.load, "loadavg_end": c.load_end,
            "submit_seq_ms": ms_json(&c.submit_seq),
            "submit_seq_done_ms": ms_json(&c.submit_seq_done),
            "submit_seq_queue_ms": ms_json(&c.submit_seq_queue),
            "echo_seq_ms": ms_json(&c.echo_seq), "direct_echo_ms": ms_json(&c.direct_echo),
            "status_seq_ms": ms_json(&c.status_seq),
            "wait_seq": loop_json(&c.wait_seq), "echo_conc": loop_json(&c.echo_conc),
            "sustained": loop_json(&c.sustained),
            "flood": c.flood.as_ref().map(loop_json),
            "drain_s": c.drain.map(|d| d.as_secs_f64()), "backlog": c.backlog,
            "rss_sustained_max_kib": c.rss_sustained_max_kib,
            "rss_end_kib": c.rss_end_kib, "hwm_kib": c.hwm_kib,
            "store_bytes_before": c.store_bytes_before, "store_bytes_after": c.store_bytes_after,
            "sqlite_disk_before": c.sqlite_disk_before, "sqlite_disk_after": c.sqlite_disk_after,
            "totals": c.totals,
        });
    }
    for (s, note) in &res.skipped {
        v["skipped"][s.id()] = json!(note);
    }
    v
}
