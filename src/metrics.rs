//! In-memory call metrics: counts, errors, and latency percentiles over a recent window.
//!
//! Percentiles are exact over the last [`WINDOW`] samples, which is what an operator asking "how
//! is it doing now" wants, and costs a fixed few KiB per series whatever the traffic.

use std::{sync::Mutex, time::Duration};

pub use crate::report::{MetricsSnapshot, Percentiles};

/// Samples kept per series.
pub const WINDOW: usize = 1024;

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
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.calls += 1;
        if let Some(e) = error {
            m.errors += 1;
            m.last_error = Some(e.chars().take(500).collect());
        }
        m.latency_us.push(micros(total));
        m.overhead_us.push(micros(total.saturating_sub(waiting)));
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
    fn empty_series_has_no_percentiles() {
        let s = CallMetrics::default().snapshot();
        assert_eq!(s.calls, 0);
        assert!(s.latency_us.is_none());
    }
}
