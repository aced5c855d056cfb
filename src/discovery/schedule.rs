//! When a polling source asks again: every `interval` while it answers, sooner after a failure
//! (doubling from one second up to the interval), so that a DNS server that was restarting is
//! read again within seconds rather than a whole interval later.

use std::time::Duration;

/// The first retry after a failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Up to this fraction is added to a retry delay, so that replicas do not ask in lockstep.
const JITTER: f64 = 0.2;

/// The pacing of one polling source.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    failures: u32,
}

impl Schedule {
    /// A source read every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            failures: 0,
        }
    }

    /// The wait after a good answer: the interval.
    pub fn after_success(&mut self) -> Duration {
        self.failures = 0;
        self.interval
    }

    /// The wait after a failure, given a random sample `r` in `[0, 1)`: one second doubling
    /// with each failure in a row, never more than the interval.
    pub fn after_failure(&mut self, r: f64) -> Duration {
        let base = FIRST_RETRY
            .saturating_mul(1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX))
            .min(self.interval);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(1.0 + JITTER * r.clamp(0.0, 1.0))
            .min(self.interval)
    }

    /// Failures in a row so far.
    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_retry_sooner_doubling_up_to_the_interval() {
        let mut s = Schedule::new(Duration::from_secs(30));
        let waits: Vec<u64> = (0..7).map(|_| s.after_failure(0.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(s.failures(), 7);
        assert_eq!(s.after_success(), Duration::from_secs(30));
        assert_eq!(s.failures(), 0);
        assert_eq!(
            s.after_failure(0.0),
            Duration::from_secs(1),
            "a success resets the backoff"
        );
    }

    #[test]
    fn jitter_never_passes_the_interval() {
        let mut s = Schedule::new(Duration::from_millis(1500));
        let first = s.after_failure(0.99);
        assert!(
            first > Duration::from_millis(1190) && first < Duration::from_millis(1200),
            "{first:?}"
        );
        assert_eq!(s.after_failure(0.99), Duration::from_millis(1500));
        let mut short = Schedule::new(Duration::from_millis(200));
        assert_eq!(short.after_failure(0.5), Duration::from_millis(200));
    }
}
