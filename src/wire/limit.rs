//! A token bucket for the errors we answer to bad input.
//!
//! Answering every unparsable line could feed an error storm with a peer that echoes what it
//! reads (rust-sdk#938, the reason rmcp stays silent); a bucket keeps the answers JSON-RPC asks
//! for while bounding them. The clock is a parameter so tests need no sleeping.

use std::time::Instant;

/// Allows `burst` events at once and `per_second` on average after that.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_second: u32) -> Self {
        Self {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Takes a token at `now` if one is left.
    pub fn allow(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(10, 10);
        assert_eq!((0..20).filter(|_| bucket.allow(t0)).count(), 10);
        assert!(!bucket.allow(t0 + Duration::from_millis(50)));
        assert!(bucket.allow(t0 + Duration::from_millis(110)));
        // A long quiet spell refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.allow(later)).count(), 10);
    }
}
