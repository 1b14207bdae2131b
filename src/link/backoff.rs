//! Exponential backoff with full jitter for reconnecting.

use std::time::Duration;

/// Delays that double from `base` up to `cap`, each drawn uniformly from the upper half
/// of the current step so that many gateways restarting together spread out.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let step = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// Starts again from `base` (after a connection that lasted).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(d <= Duration::from_secs(30), "{d:?}");
        }
        let late = b.next_delay();
        assert!(
            late >= Duration::from_secs(15),
            "capped steps stay high: {late:?}"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }
}
