//! XEP-0203 delayed delivery: a message the foreign network timestamped in the past.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::Jid;

/// How old a foreign timestamp must be before it is worth a `<delay/>` (live messages
/// carry the server's time too, a few milliseconds old).
pub const THRESHOLD: Duration = Duration::from_secs(5);

/// A `<delay/>` for a message sent at `when`, if that is more than [`THRESHOLD`] ago.
pub fn delay(when: Option<SystemTime>, from: &Jid, now: SystemTime) -> Option<Delay> {
    let when = when?;
    if now.duration_since(when).ok()? < THRESHOLD {
        return None;
    }
    let stamp = DateTime::from_str(&rfc3339(when)).ok()?;
    Some(Delay {
        from: Some(from.clone()),
        stamp,
        data: None,
    })
}

/// `2026-11-23T10:00:00.123Z` for a time after 1970.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = switchboard_bridge::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    #[test]
    fn formats_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_428_000_123);
        assert_eq!(rfc3339(t), "2026-11-23T10:00:00.123Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_825_600_500)),
            "2000-02-29T12:00:00.500Z"
        );
    }

    #[test]
    fn only_old_timestamps_get_a_delay() {
        let from = Jid::new("irc.test").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_795_428_100);
        assert!(delay(Some(now - Duration::from_secs(1)), &from, now).is_none());
        assert!(delay(None, &from, now).is_none());
        let d = delay(Some(now - Duration::from_secs(100)), &from, now).unwrap();
        let xml = element_xml(d);
        assert!(
            xml.contains("from='irc.test'") && xml.contains("stamp='2026-11-23T10:00:00"),
            "{xml}"
        );
    }
}
