//! In-memory call metrics: counts, errors, and latency percentiles over a recent window.
//!
//! Percentiles are exact over the last [`WINDOW`] samples, which is what an operator asking "how
//! is it doing now" wants, and costs a fixed few KiB per series whatever the traffic. Beside them,
//! cumulative histograms (fixed buckets, [`BUCKETS_US`]) and per-tool and per-error-kind counts
//! since start, which is what Prometheus scrapes ([`CallMetrics::export`]). All of it is updated
//! under the one lock a call already takes.

use std::{collections::HashMap, sync::Mutex, time::Duration};

pub use crate::report::{MetricsSnapshot, Percentiles};

/// Samples kept per series.
pub const WINDOW: usize = 1024;

/// Upper bounds of the histogram buckets, µs (the `+Inf` bucket is the count): from the
/// orchestrator's own overhead (tens of µs) to slow vendor calls (tens of seconds).
pub const BUCKETS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000, 30_000_000,
];

/// How many distinct tool names one series counts separately; calls to others count under
/// `other`, so a child listing thousands of tools cannot blow up the scrape.
pub const MAX_TOOLS: usize = 256;

/// A cumulative histogram over [`BUCKETS_US`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Per bucket (same order as [`BUCKETS_US`]), the samples at or below its bound (not
    /// cumulative here: the exporter sums).
    pub counts: [u64; BUCKETS_US.len()],
    /// Samples above the last bound.
    pub over: u64,
    /// Sum of every sample, µs.
    pub sum_us: u64,
}

impl Histogram {
    fn push(&mut self, us: u64) {
        match BUCKETS_US.iter().position(|b| us <= *b) {
            Some(i) => self.counts[i] += 1,
            None => self.over += 1,
        }
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Samples in all.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }

    /// The samples added since `earlier` (a reading of the same histogram).
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut d = Histogram {
            over: self.over.saturating_sub(earlier.over),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
            ..Histogram::default()
        };
        for (i, c) in d.counts.iter_mut().enumerate() {
            *c = self.counts[i].saturating_sub(earlier.counts[i]);
        }
        d
    }

    /// The `q` quantile (0–1), µs, interpolated linearly within its bucket (as PromQL's
    /// `histogram_quantile` does); samples past the last bound count as at it. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 && (below + c) as f64 >= rank {
                let lower = if i == 0 { 0 } else { BUCKETS_US[i - 1] } as f64;
                let upper = BUCKETS_US[i] as f64;
                return Some(lower + (upper - lower) * ((rank - below as f64) / c as f64));
            }
            below += c;
        }
        Some(BUCKETS_US[BUCKETS_US.len() - 1] as f64)
    }
}

/// Calls and errors of one tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolCounts {
    /// Calls.
    pub calls: u64,
    /// Of which failed.
    pub errors: u64,
}

/// Everything a series has counted since start, for the Prometheus exposition.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// Calls.
    pub calls: u64,
    /// Of which failed.
    pub errors: u64,
    /// Per tool (or prompt, or resource) name; `other` past [`MAX_TOOLS`].
    pub tools: Vec<(String, ToolCounts)>,
    /// Failures by kind (`tool_error`, `timeout`, `closed`, …).
    pub error_kinds: Vec<(&'static str, u64)>,
    /// Total call latency.
    pub latency: Histogram,
    /// The orchestrator's own part.
    pub overhead: Histogram,
}

/// One series: calls, errors, latency of the child, and the router's own overhead.
#[derive(Default)]
pub struct CallMetrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    calls: u64,
    errors: u64,
    latency_us: Ring,
    overhead_us: Ring,
    last_error: Option<String>,
    latency_hist: Histogram,
    overhead_hist: Histogram,
    tools: HashMap<Box<str>, ToolCounts>,
    error_kinds: HashMap<&'static str, u64>,
}

/// One call as [`CallMetrics::record_call`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Request to answer.
    pub total: Duration,
    /// Of which waiting on the child.
    pub waiting: Duration,
    /// The tool, prompt or resource called.
    pub name: &'a str,
    /// Its failure: kind and message.
    pub error: Option<(&'static str, &'a str)>,
}

#[derive(Default)]
struct Ring {
    samples: Vec<u64>,
    next: usize,
}

impl Ring {
    fn push(&mut self, v: u64) {
        if self.samples.len() < WINDOW {
            self.samples.push(v);
        } else {
            self.samples[self.next] = v;
        }
        self.next = (self.next + 1) % WINDOW;
    }

    fn percentiles(&self) -> Option<Percentiles> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        // Nearest-rank percentile.
        let at = |p: f64| {
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        };
        Some(Percentiles {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: sorted[sorted.len() - 1],
        })
    }
}

impl CallMetrics {
    /// Records one call: its total time, the part spent waiting on the child, and its error.
    pub fn record(&self, total: Duration, waiting: Duration, error: Option<&str>) {
        self.record_call(Call {
            total,
            waiting,
            name: "",
            error: error.map(|e| ("error", e)),
        });
    }

    /// Records one call with its name and, when it failed, the failure's kind.
    pub fn record_call(&self, c: Call<'_>) {
        let (total, overhead) = (micros(c.total), micros(c.total.saturating_sub(c.waiting)));
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.calls += 1;
        if let Some((kind, e)) = c.error {
            m.errors += 1;
            m.last_error = Some(e.chars().take(500).collect());
            *m.error_kinds.entry(kind).or_default() += 1;
        }
        m.latency_us.push(total);
        m.overhead_us.push(overhead);
        m.latency_hist.push(total);
        m.overhead_hist.push(overhead);
        if !c.name.is_empty() {
            let failed = u64::from(c.error.is_some());
            // No allocation for a name seen before; past the cap, names share `other`.
            let name = if m.tools.contains_key(c.name) || m.tools.len() < MAX_TOOLS {
                c.name
            } else {
                "other"
            };
            match m.tools.get_mut(name) {
                Some(t) => {
                    t.calls += 1;
                    t.errors += failed;
                }
                None => {
                    m.tools.insert(
                        name.into(),
                        ToolCounts {
                            calls: 1,
                            errors: failed,
                        },
                    );
                }
            }
        }
    }

    /// Everything counted since start, for the Prometheus exposition.
    pub fn export(&self) -> Export {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut tools: Vec<(String, ToolCounts)> =
            m.tools.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        tools.sort_by(|a, b| a.0.cmp(&b.0));
        let mut error_kinds: Vec<(&'static str, u64)> =
            m.error_kinds.iter().map(|(k, v)| (*k, *v)).collect();
        error_kinds.sort();
        Export {
            calls: m.calls,
            errors: m.errors,
            tools,
            error_kinds,
            latency: m.latency_hist.clone(),
            overhead: m.overhead_hist.clone(),
        }
    }

    /// The latency histogram since start (for per-interval percentiles: difference two readings).
    pub fn latency_histogram(&self) -> Histogram {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.latency_hist.clone()
    }

    /// The current figures.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        MetricsSnapshot {
            calls: m.calls,
            errors: m.errors,
            latency_us: m.latency_us.percentiles(),
            overhead_us: m.overhead_us.percentiles(),
            last_error: m.last_error.clone(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles_of_a_known_mix() {
        let m = CallMetrics::default();
        // 100 calls taking 1..=100 ms, of which the child took all but 10 µs; every tenth failed.
        for i in 1..=100u64 {
            let total = Duration::from_millis(i);
            let err = (i % 10 == 0).then_some("boom");
            m.record(total, total - Duration::from_micros(10), err);
        }
        let s = m.snapshot();
        assert_eq!(s.calls, 100);
        assert_eq!(s.errors, 10);
        let l = s.latency_us.unwrap();
        assert_eq!(
            (l.p50, l.p95, l.p99, l.max),
            (50_000, 95_000, 99_000, 100_000)
        );
        let o = s.overhead_us.unwrap();
        assert_eq!((o.p50, o.p99), (10, 10));
        assert_eq!(s.last_error.as_deref(), Some("boom"));
    }

    #[test]
    fn the_window_keeps_the_newest_samples() {
        let m = CallMetrics::default();
        for _ in 0..WINDOW {
            m.record(Duration::from_secs(1), Duration::ZERO, None);
        }
        for _ in 0..WINDOW {
            m.record(Duration::from_millis(1), Duration::ZERO, None);
        }
        let s = m.snapshot();
        assert_eq!(s.calls, 2 * WINDOW as u64);
        assert_eq!(s.latency_us.unwrap().max, 1_000);
    }

    #[test]
    fn the_export_counts_since_start_by_tool_kind_and_bucket() {
        let m = CallMetrics::default();
        fn call<'a>(name: &'a str, us: u64, error: Option<(&'static str, &'a str)>) -> Call<'a> {
            Call {
                total: Duration::from_micros(us),
                waiting: Duration::ZERO,
                name,
                error,
            }
        }
        m.record_call(call("a", 40, None));
        m.record_call(call("a", 300, Some(("timeout", "slow"))));
        m.record_call(call("b", 40_000_000, Some(("tool_error", "no"))));
        let e = m.export();
        assert_eq!((e.calls, e.errors), (3, 2));
        assert_eq!(
            e.tools,
            [
                (
                    "a".to_owned(),
                    ToolCounts {
                        calls: 2,
                        errors: 1
                    }
                ),
                (
                    "b".to_owned(),
                    ToolCounts {
                        calls: 1,
                        errors: 1
                    }
                )
            ]
        );
        assert_eq!(e.error_kinds, [("timeout", 1), ("tool_error", 1)]);
        assert_eq!(e.latency.counts[0], 1, "40 µs in the 50 µs bucket");
        assert_eq!(e.latency.counts[3], 1, "300 µs in the 500 µs bucket");
        assert_eq!(e.latency.over, 1);
        assert_eq!(e.latency.count(), 3);
        assert_eq!(e.latency.sum_us, 40_000_340);
        for i in 0..MAX_TOOLS + 10 {
            let name = format!("t{i}");
            m.record_call(call(&name, 1, None));
        }
        let e = m.export();
        assert_eq!(e.tools.len(), MAX_TOOLS + 1, "capped, plus `other`");
    }

    #[test]
    fn quantiles_of_a_difference_of_two_readings() {
        let m = CallMetrics::default();
        let at = |us: u64| Call {
            total: Duration::from_micros(us),
            waiting: Duration::ZERO,
            name: "",
            error: None,
        };
        for _ in 0..10 {
            m.record_call(at(5_000_000));
        }
        let before = m.latency_histogram();
        // 100 calls since: 98 in the 50–100 µs bucket, 2 in the 1–2.5 ms bucket.
        for _ in 0..98 {
            m.record_call(at(80));
        }
        m.record_call(at(2_000));
        m.record_call(at(2_000));
        let d = m.latency_histogram().since(&before);
        assert_eq!(d.count(), 100, "the earlier slow calls are not in it");
        assert_eq!(d.quantile(0.5), Some(50.0 + 50.0 * (50.0 / 98.0)));
        assert_eq!(d.quantile(0.99), Some(1_000.0 + 1_500.0 * 0.5));
        assert_eq!(Histogram::default().quantile(0.5), None);
        let mut over = Histogram::default();
        over.push(u64::MAX);
        assert_eq!(over.quantile(0.99), Some(30_000_000.0));
    }

    #[test]
    fn empty_series_has_no_percentiles() {
        let s = CallMetrics::default().snapshot();
        assert_eq!(s.calls, 0);
        assert!(s.latency_us.is_none());
    }
}
