//! Per-user sending limits: a rate per minute and a cap per UTC day.
//!
//! Counted in memory: a restart gives everyone a fresh allowance.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_bridge::BridgeError;

const MINUTE: Duration = Duration::from_secs(60);
const DAY_SECS: u64 = 86_400;

#[derive(Default)]
struct Usage {
    /// Sends within the last minute, oldest first.
    recent: VecDeque<SystemTime>,
    /// Day number (since the epoch, UTC) of `today`.
    day: u64,
    today: u32,
}

/// The limits and what each user used of them.
pub struct Limits {
    per_minute: u32,
    per_day: u32,
    usage: Mutex<HashMap<String, Usage>>,
}

impl Limits {
    /// Limits of `per_minute` and `per_day` messages per user.
    pub fn new(per_minute: u32, per_day: u32) -> Self {
        Self {
            per_minute,
            per_day,
            usage: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one message of `owner` sent at `now`, or says which limit it passes.
    pub fn take(&self, owner: &str, now: SystemTime) -> Result<(), BridgeError> {
        let mut all = self.usage.lock().expect("limits lock poisoned");
        let usage = all.entry(owner.to_string()).or_default();
        let day = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() / DAY_SECS)
            .unwrap_or_default();
        if usage.day != day {
            usage.day = day;
            usage.today = 0;
        }
        // Oldest first: drop what left the minute, without walking the rest.
        while usage
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t).is_ok_and(|age| age >= MINUTE))
        {
            usage.recent.pop_front();
        }
        if usage.today >= self.per_day {
            return Err(BridgeError::LimitReached(format!(
                "you have sent {} SMS today, the most allowed per day; try again tomorrow (UTC)",
                usage.today
            )));
        }
        if usage.recent.len() as u32 >= self.per_minute {
            return Err(BridgeError::LimitReached(format!(
                "at most {} SMS per minute; wait a moment",
                self.per_minute
            )));
        }
        usage.recent.push_back(now);
        usage.today += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_daily_cap_are_per_user_and_reset() {
        let limits = Limits::new(2, 3);
        let t0 = UNIX_EPOCH + Duration::from_secs(10 * DAY_SECS + 100);
        limits.take("a", t0).unwrap();
        limits.take("a", t0).unwrap();
        let e = limits.take("a", t0).unwrap_err();
        assert!(e.to_string().contains("per minute"), "{e}");
        limits.take("b", t0).unwrap();
        limits.take("a", t0 + Duration::from_secs(61)).unwrap();
        let e = limits.take("a", t0 + Duration::from_secs(200)).unwrap_err();
        assert!(e.to_string().contains("today"), "{e}");
        limits
            .take("a", t0 + Duration::from_secs(DAY_SECS))
            .unwrap();
    }
}
