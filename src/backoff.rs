//! Retry and restart pacing (children's restarts, vendor retries, workflow steps' retries): exponential backoff with jitter, and the restart-intensity window that turns a
//! crash loop into `failed`. Both are plain values driven by the caller's clock, so they are tested
//! without sleeping.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

/// Exponential backoff: `min · 2^n`, capped at `max`, with up to `jitter` (a fraction) added so
/// that children that crashed together do not restart in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
}

/// A backoff whose bounds make no sense.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid backoff: {0}")]
pub struct InvalidBackoff(&'static str);

impl Backoff {
    /// The orchestrator's default: 200 ms doubling to 30 s, 20 % jitter.
    pub const DEFAULT: Backoff = Backoff {
        min: Duration::from_millis(200),
        max: Duration::from_secs(30),
        jitter: 0.2,
    };

    /// Retries of a workflow step: 200 ms doubling to 10 s, 30 % jitter (a step's server may be
    /// restarting, which takes longer than a vendor's blip).
    pub const STEP: Backoff = Backoff {
        min: Duration::from_millis(200),
        max: Duration::from_secs(10),
        jitter: 0.3,
    };

    /// Retries of one request on the same vendor: 100 ms doubling to 2 s, 30 % jitter.
    pub const RETRY: Backoff = Backoff {
        min: Duration::from_millis(100),
        max: Duration::from_secs(2),
        jitter: 0.3,
    };

    /// A checked backoff.
    #[cfg(test)]
    pub fn try_new(min: Duration, max: Duration, jitter: f64) -> Result<Self, InvalidBackoff> {
        if min.is_zero() {
            return Err(InvalidBackoff("min must be more than zero"));
        }
        if max < min {
            return Err(InvalidBackoff("max must be at least min"));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(InvalidBackoff("jitter must be within 0..=1"));
        }
        Ok(Self { min, max, jitter })
    }

    /// The delay before attempt `attempt` (0-based), given a random sample `r` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, r: f64) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        base.mul_f64(1.0 + self.jitter * r.clamp(0.0, 1.0))
            .min(self.max)
    }
}

/// Counts crashes in a sliding window: more than `max` within `window` means give up.
#[derive(Debug, Clone)]
pub struct RestartWindow {
    max: u32,
    window: Duration,
    crashes: VecDeque<Instant>,
}

impl RestartWindow {
    /// A window allowing `max` restarts per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            crashes: VecDeque::new(),
        }
    }

    /// Records a crash at `now`; returns `true` when the child should be restarted, `false` when
    /// it has crashed too often and should be marked failed.
    pub fn record(&mut self, now: Instant) -> bool {
        while let Some(&t) = self.crashes.front() {
            if now.duration_since(t) > self.window {
                self.crashes.pop_front();
            } else {
                break;
            }
        }
        self.crashes.push_back(now);
        self.crashes.len() <= self.max as usize
    }

    /// Crashes still inside the window; the backoff exponent.
    pub fn recent(&self) -> u32 {
        u32::try_from(self.crashes.len()).unwrap_or(u32::MAX)
    }

    /// Forgets history, e.g. after an explicit restart request.
    pub fn reset(&mut self) {
        self.crashes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff::try_new(Duration::from_millis(100), Duration::from_secs(1), 0.0).unwrap();
        let d: Vec<_> = (0..6).map(|n| b.delay(n, 0.5).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_adds_up_to_its_fraction() {
        let b = Backoff::try_new(Duration::from_millis(100), Duration::from_secs(10), 0.5).unwrap();
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(150));
        assert!(b.delay(1, 0.3) > Duration::from_millis(200));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Backoff::try_new(Duration::ZERO, Duration::from_secs(1), 0.1).is_err());
        assert!(Backoff::try_new(Duration::from_secs(2), Duration::from_secs(1), 0.1).is_err());
        assert!(Backoff::try_new(Duration::from_secs(1), Duration::from_secs(1), 1.5).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn window_gives_up_after_max_crashes() {
        let mut w = RestartWindow::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(w.record(t0));
        assert!(w.record(t0 + Duration::from_secs(1)));
        assert!(w.record(t0 + Duration::from_secs(2)));
        assert!(
            !w.record(t0 + Duration::from_secs(3)),
            "fourth crash within a minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn old_crashes_leave_the_window() {
        let mut w = RestartWindow::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(w.record(t0));
        assert!(w.record(t0 + Duration::from_secs(1)));
        assert!(
            w.record(t0 + Duration::from_secs(12)),
            "the first two have expired"
        );
        assert_eq!(w.recent(), 1);
        w.reset();
        assert_eq!(w.recent(), 0);
    }
}
