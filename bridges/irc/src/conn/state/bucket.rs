//! A token bucket: a burst, then one more per refill period. What strangers on IRC can make
//! the gateway do for them (answer CTCP, pass on invitations) goes through one.

use std::time::{Duration, Instant};

/// `burst` at once, then one per `refill`.
#[derive(Debug)]
pub struct Bucket {
    burst: u32,
    refill: Duration,
    tokens: u32,
    pub(super) refilled: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(burst: u32, refill: Duration) -> Self {
        Self {
            burst,
            refill,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    /// Takes a token; false when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        let earned = (now.saturating_duration_since(self.refilled).as_millis()
            / self.refill.as_millis().max(1)) as u32;
        if earned > 0 {
            self.tokens = (self.tokens.saturating_add(earned)).min(self.burst);
            self.refilled = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill() {
        let refill = Duration::from_secs(2);
        let mut b = Bucket::new(3, refill);
        let t0 = b.refilled;
        for _ in 0..3 {
            assert!(b.take(t0));
        }
        assert!(!b.take(t0));
        assert!(!b.take(t0 + refill / 2));
        assert!(b.take(t0 + refill));
        assert!(!b.take(t0 + refill));
        // A long quiet refills to the burst, no more.
        let later = t0 + refill * 100;
        for _ in 0..3 {
            assert!(b.take(later));
        }
        assert!(!b.take(later));
    }
}
