//! IRCv3 `server-time` tags (`time=2026-11-23T10:00:00.123Z`) as `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_bridge::calendar::{civil_from_days, days_from_civil};

/// Parses the UTC timestamp of a `time` tag; `None` for anything else.
pub fn parse(tag: &str) -> Option<SystemTime> {
    let tag = tag.strip_suffix('Z')?;
    let (date, time) = tag.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis: u64 = format!("{:0<3}", frac.get(..frac.len().min(3))?)
        .parse()
        .ok()?;
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    UNIX_EPOCH.checked_add(Duration::from_millis(secs * 1000 + millis))
}

/// A time as `2026-11-23T10:00:00Z` (UTC, whole seconds), as a CTCP TIME answer gives it.
pub fn format(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_what_it_parses() {
        for tag in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2026-12-07T17:58:09Z",
            "2100-03-01T23:59:59Z",
        ] {
            assert_eq!(format(parse(tag).unwrap()), tag);
        }
    }

    #[test]
    fn parses_server_time_tags() {
        let t = parse("2026-11-23T10:00:00.123Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_795_428_000_123
        );
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            parse("2000-02-29T12:00:00.5Z")
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            951_825_600_500
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T10:00:00",
            "x-1-1T0:0:0Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
