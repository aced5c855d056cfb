//! Latency samples and their percentiles.

use std::time::Duration;

/// Latencies in nanoseconds.
#[derive(Default, Clone, Debug)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nearest-rank percentile, in µs.
    pub fn pct_us(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1] as f64 / 1000.0
    }

    pub fn p50(&self) -> f64 {
        self.pct_us(50.0)
    }

    pub fn p99(&self) -> f64 {
        self.pct_us(99.0)
    }
}

/// Median of a few durations.
pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Samples::default();
        for i in 1..=100u64 {
            s.push(Duration::from_micros(i));
        }
        assert_eq!((s.p50(), s.p99(), s.pct_us(100.0)), (50.0, 99.0, 100.0));
    }
}
