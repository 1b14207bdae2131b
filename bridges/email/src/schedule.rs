//! When a digest goes out: every N minutes, hours or days, or daily at a local time.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::time::Duration;

/// A digest's schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every so long, counted from the subscription.
    Every(Duration),
    /// Once a day at a wall-clock time in a time zone.
    DailyAt {
        /// The local time.
        time: NaiveTime,
        /// The zone (IANA name: `Europe/Berlin`).
        zone: Tz,
    },
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Why a schedule was refused (the text is for the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Neither or both of `every` and `daily_at` were given.
    #[error("give either 'every' (30m, 6h, 1d) or 'daily_at' (07:30) with 'timezone'")]
    Ambiguous,
    /// `every` does not parse as 30m, 6h, 1d.
    #[error("'{0}' is not an interval like 30m, 6h or 1d")]
    BadInterval(String),
    /// `every` is shorter than `email.digest.min_interval`.
    #[error("digests go out at most every {min}; '{given}' is too often")]
    TooOften {
        /// The minimum, as written.
        min: String,
        /// What was asked.
        given: String,
    },
    /// `every` is longer than 31 days.
    #[error("'{0}' is too long; the longest interval is 31d")]
    TooLong(String),
    /// `daily_at` is not HH:MM.
    #[error("'{0}' is not a time like 07:30")]
    BadTime(String),
    /// The time zone is not an IANA name.
    #[error("'{0}' is not a time zone like Europe/Berlin or UTC")]
    BadZone(String),
}

impl Schedule {
    /// Reads the form values: `every`, or `daily_at` with `timezone` (default UTC).
    pub fn parse(
        every: Option<&str>,
        daily_at: Option<&str>,
        timezone: Option<&str>,
        min_interval: Duration,
    ) -> Result<Self, ScheduleError> {
        match (nonempty(every), nonempty(daily_at)) {
            (Some(every), None) => {
                let d = humantime::parse_duration(every)
                    .map_err(|_| ScheduleError::BadInterval(every.into()))?;
                if d < min_interval {
                    return Err(ScheduleError::TooOften {
                        min: humantime::format_duration(min_interval).to_string(),
                        given: every.into(),
                    });
                }
                if d > Duration::from_secs(31 * 86_400) {
                    return Err(ScheduleError::TooLong(every.into()));
                }
                Ok(Schedule::Every(d))
            }
            (None, Some(at)) => {
                let time = NaiveTime::parse_from_str(at, "%H:%M")
                    .map_err(|_| ScheduleError::BadTime(at.into()))?;
                let zone_name = nonempty(timezone).unwrap_or("UTC");
                let zone: Tz = zone_name
                    .parse()
                    .map_err(|_| ScheduleError::BadZone(zone_name.into()))?;
                Ok(Schedule::DailyAt { time, zone })
            }
            _ => Err(ScheduleError::Ambiguous),
        }
    }

    /// The first send time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Every(d) => {
                after + chrono::Duration::from_std(*d).unwrap_or(chrono::Duration::days(1))
            }
            Schedule::DailyAt { time, zone } => {
                let local = after.with_timezone(zone).date_naive();
                // Today's slot if still ahead, else the next day's; a slot that does not
                // exist (a DST gap) moves to the next valid instant.
                for days in 0..3 {
                    let Some(day) = local.checked_add_days(Days::new(days)) else {
                        continue;
                    };
                    let candidate = zone
                        .from_local_datetime(&day.and_time(*time))
                        .earliest()
                        .or_else(|| {
                            zone.from_local_datetime(
                                &(day.and_time(*time) + chrono::Duration::hours(1)),
                            )
                            .earliest()
                        });
                    if let Some(c) = candidate.map(|c| c.with_timezone(&Utc)) {
                        if c > after {
                            return c;
                        }
                    }
                }
                after + chrono::Duration::days(1)
            }
        }
    }

    /// How the schedule reads, for listings.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Schedule::DailyAt { time, zone } => {
                format!("daily at {} ({})", time.format("%H:%M"), zone.name())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(300);

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn intervals_are_bounded() {
        assert_eq!(
            Schedule::parse(Some("6h"), None, None, MIN).unwrap(),
            Schedule::Every(Duration::from_secs(6 * 3600))
        );
        assert!(matches!(
            Schedule::parse(Some("1m"), None, None, MIN),
            Err(ScheduleError::TooOften { .. })
        ));
        assert!(matches!(
            Schedule::parse(Some("60d"), None, None, MIN),
            Err(ScheduleError::TooLong(_))
        ));
        assert!(matches!(
            Schedule::parse(Some("soon"), None, None, MIN),
            Err(ScheduleError::BadInterval(_))
        ));
        assert_eq!(
            Schedule::parse(Some("1h"), Some("07:30"), None, MIN),
            Err(ScheduleError::Ambiguous)
        );
        assert_eq!(
            Schedule::parse(None, None, None, MIN),
            Err(ScheduleError::Ambiguous)
        );
    }

    #[test]
    fn daily_times_follow_the_zone_and_daylight_saving() {
        let s = Schedule::parse(None, Some("07:30"), Some("Europe/Berlin"), MIN).unwrap();
        assert_eq!(s.describe(), "daily at 07:30 (Europe/Berlin)");
        // Winter: UTC+1.
        assert_eq!(
            s.next_after(at("2026-11-23T05:00:00Z")),
            at("2026-11-23T06:30:00Z")
        );
        assert_eq!(
            s.next_after(at("2026-11-23T06:30:00Z")),
            at("2026-11-24T06:30:00Z")
        );
        // Summer: UTC+2.
        assert_eq!(
            s.next_after(at("2026-07-01T12:00:00Z")),
            at("2026-07-02T05:30:00Z")
        );
        // 02:30 does not exist on the spring-forward day: an hour later.
        let gap = Schedule::parse(None, Some("02:30"), Some("Europe/Berlin"), MIN).unwrap();
        assert_eq!(
            gap.next_after(at("2026-03-28T12:00:00Z")),
            at("2026-03-29T01:30:00Z")
        );
        assert!(matches!(
            Schedule::parse(None, Some("7.30"), None, MIN),
            Err(ScheduleError::BadTime(_))
        ));
        assert!(matches!(
            Schedule::parse(None, Some("07:30"), Some("Mars/Olympus"), MIN),
            Err(ScheduleError::BadZone(_))
        ));
        let every = Schedule::parse(Some("30m"), None, None, MIN).unwrap();
        assert_eq!(
            every.next_after(at("2026-11-23T05:00:00Z")),
            at("2026-11-23T05:30:00Z")
        );
    }
}
