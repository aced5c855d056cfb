//! A circuit breaker per vendor: opens when the failure rate over a window passes a threshold
//! (once there have been enough calls to judge), or at once on an authentication error; after a
//! cool-down it lets one probe through, whose outcome closes or re-opens it. Driven by the
//! caller's clock, so it is tested without sleeping.

use std::collections::VecDeque;

use crate::config::BreakerConfig;
pub use crate::report::CircuitState;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Whether a call may go to the vendor now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Yes.
    Yes,
    /// Yes, as the half-open probe.
    Probe,
    /// No: open until then (or a probe is already out).
    No {
        /// When a probe will be allowed.
        until: Instant,
    },
}

/// One vendor's breaker.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: State,
    outcomes: VecDeque<(Instant, bool)>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: State::Closed,
            outcomes: VecDeque::new(),
        }
    }

    /// The state at `now` (an open breaker whose cool-down has passed reads as half-open).
    pub fn state(&self, now: Instant) -> CircuitState {
        match self.state {
            State::Closed => CircuitState::Closed,
            State::Open { until } if now >= until => CircuitState::HalfOpen,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// When an open breaker will allow a probe.
    #[cfg(test)]
    pub fn open_until(&self) -> Option<Instant> {
        match self.state {
            State::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Asks to send a call at `now`.
    pub fn admit(&mut self, now: Instant) -> Admit {
        match self.state {
            State::Closed => Admit::Yes,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen { probing: true };
                Admit::Probe
            }
            State::Open { until } => Admit::No { until },
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Admit::Probe
            }
            State::HalfOpen { probing: true } => Admit::No {
                until: now + self.config.cooldown,
            },
        }
    }

    /// Lets a call through whatever the state (all vendors open: try the one that recovers first).
    pub fn force(&mut self) -> Admit {
        self.state = State::HalfOpen { probing: true };
        Admit::Probe
    }

    /// Records a success.
    pub fn success(&mut self, now: Instant) {
        self.push(now, true);
        if matches!(self.state, State::HalfOpen { .. }) {
            self.state = State::Closed;
            self.outcomes.clear();
        }
    }

    /// Records a failure; opens if the rate is reached or a probe failed.
    pub fn failure(&mut self, now: Instant) {
        self.push(now, false);
        match self.state {
            State::HalfOpen { .. } => self.open(now),
            State::Closed => {
                let calls = self.outcomes.len();
                let failures = self.outcomes.iter().filter(|(_, ok)| !ok).count();
                if calls >= self.config.min_calls
                    && failures as f64 >= self.config.failure_rate * calls as f64
                {
                    self.open(now);
                }
            }
            State::Open { .. } => {}
        }
    }

    /// Opens at once (an authentication error will not fix itself on the next call).
    pub fn trip(&mut self, now: Instant) {
        self.open(now);
    }

    /// A call that was let through but never judged (cancelled): frees the probe slot.
    pub fn abandon(&mut self) {
        if let State::HalfOpen { probing: true } = self.state {
            self.state = State::HalfOpen { probing: false };
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open {
            until: now + self.config.cooldown,
        };
        self.outcomes.clear();
    }

    fn push(&mut self, now: Instant, ok: bool) {
        while let Some(&(t, _)) = self.outcomes.front() {
            if now.duration_since(t) > self.config.window {
                self.outcomes.pop_front();
            } else {
                break;
            }
        }
        self.outcomes.push_back((now, ok));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_rate: 0.5,
            min_calls: 4,
            window: Duration::from_secs(10),
            cooldown: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_on_failure_rate_only_after_min_calls() {
        let mut b = CircuitBreaker::new(cfg());
        let t = Instant::now();
        b.failure(t);
        b.failure(t);
        b.success(t);
        assert_eq!(
            b.state(t),
            CircuitState::Closed,
            "3 calls are too few to judge"
        );
        b.failure(t);
        assert_eq!(b.state(t), CircuitState::Open, "3 of 4 failed");
        assert!(matches!(
            b.admit(t + Duration::from_secs(1)),
            Admit::No { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_under_threshold_stays_closed_and_old_failures_expire() {
        let mut b = CircuitBreaker::new(cfg());
        let t = Instant::now();
        for _ in 0..3 {
            b.success(t);
        }
        b.failure(t);
        assert_eq!(b.state(t), CircuitState::Closed, "1 of 4");
        let later = t + Duration::from_secs(11);
        b.failure(later);
        b.failure(later);
        b.success(later);
        assert_eq!(
            b.state(later),
            CircuitState::Closed,
            "the window forgot the first four"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_probe_closes_or_reopens() {
        let mut b = CircuitBreaker::new(cfg());
        let t = Instant::now();
        b.trip(t);
        assert_eq!(b.state(t), CircuitState::Open);
        let after = t + Duration::from_secs(5);
        assert_eq!(b.state(after), CircuitState::HalfOpen);
        assert_eq!(b.admit(after), Admit::Probe);
        assert!(
            matches!(b.admit(after), Admit::No { .. }),
            "one probe at a time"
        );
        b.failure(after);
        assert_eq!(b.state(after), CircuitState::Open, "failed probe re-opens");
        let again = after + Duration::from_secs(5);
        assert_eq!(b.admit(again), Admit::Probe);
        b.success(again);
        assert_eq!(b.state(again), CircuitState::Closed);
        assert_eq!(b.admit(again), Admit::Yes);
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_probe_frees_the_slot_and_force_overrides() {
        let mut b = CircuitBreaker::new(cfg());
        let t = Instant::now();
        b.trip(t);
        assert_eq!(b.open_until(), Some(t + Duration::from_secs(5)));
        assert_eq!(b.force(), Admit::Probe);
        b.abandon();
        assert_eq!(b.admit(t), Admit::Probe);
    }
}
