//! XEP-0045 §7.2.15: the history a join asks for (`<history maxstanzas seconds since/>`),
//! and the delayed lines that answer it. Pure.

use super::form::set_attr;
use super::mam::ArchivedLine;
use super::muc::{groupchat, occupant, stanza_id};
use minidom::Element;
use std::time::{Duration, SystemTime};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::muc::Muc;
use xmpp_parsers::ns;
use xmpp_parsers::presence::Presence;

/// What a join's `<history/>` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryRequest {
    /// Lines at most (`0`: none).
    pub max_stanzas: Option<usize>,
    /// Lines of the last this many seconds.
    pub seconds: Option<u64>,
    /// Lines since.
    pub since: Option<SystemTime>,
}

/// The `<history/>` of a join presence; `None` when it has none (the default applies).
///
/// `maxchars='0'` asks for no history (XEP-0045 §7.2.15), as `maxstanzas='0'` does:
/// Conversations and Gajim send it when they catch up with MAM instead. Any other
/// `maxchars` is not counted (the count and time limits still apply).
pub fn history_request(p: &Presence) -> Option<HistoryRequest> {
    let x = p.payloads.iter().find(|e| e.is("x", ns::MUC))?;
    let h = Muc::try_from(x.clone()).ok()?.history?;
    let max_stanzas = match h.maxchars {
        Some(0) => Some(0),
        _ => h.maxstanzas.map(|n| n as usize),
    };
    Some(HistoryRequest {
        max_stanzas,
        seconds: h.seconds.map(u64::from),
        since: h.since.map(|d| {
            let us = d.0.timestamp_micros().max(0) as u64;
            SystemTime::UNIX_EPOCH + Duration::from_micros(us)
        }),
    })
}

/// How many lines at most, and from when: what `req` asks within `default` lines (when it
/// names no count) and `cap`.
pub fn limits(
    req: Option<&HistoryRequest>,
    default: usize,
    cap: usize,
    now: SystemTime,
) -> (usize, Option<SystemTime>) {
    let Some(req) = req else {
        return (default.min(cap), None);
    };
    let by_seconds = req.seconds.map(|s| {
        now.checked_sub(Duration::from_secs(s))
            .filter(|t| *t >= SystemTime::UNIX_EPOCH)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let from = match (by_seconds, req.since) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let max = match (req.max_stanzas, from) {
        (Some(n), _) => n,
        // Time-bounded only: everything in that time, up to the cap.
        (None, Some(_)) => cap,
        (None, None) => default,
    };
    (max.min(cap), from)
}

/// One history line to a joining resource: a groupchat from `room/nick` with a delay
/// stamped by the room and the line's stanza-id.
pub fn history_message(room: &BareJid, to: &Jid, line: &ArchivedLine) -> Message {
    let from = occupant(room, &line.nick).unwrap_or_else(|| room.clone().into());
    let mut m = groupchat(from, to, line.body.clone(), Some(line.id.clone()));
    let mut delay = Element::builder("delay", "urn:xmpp:delay").build();
    set_attr(&mut delay, "from", room.to_string());
    set_attr(&mut delay, "stamp", super::delay::rfc3339(line.at));
    m.payloads.push(delay);
    m.payloads.push(stanza_id(room, &line.id));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::testing::element_xml;

    fn presence(x: &str) -> Presence {
        let xml = format!(
            "<presence xmlns='jabber:component:accept' to='#a%n@irc.test/me'><x xmlns='http://jabber.org/protocol/muc'>{x}</x></presence>"
        );
        Presence::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn a_join_asks_for_history_or_leaves_it_to_the_default() {
        assert_eq!(history_request(&presence("")), None);
        assert_eq!(
            history_request(&presence("<history maxstanzas='0'/>"))
                .unwrap()
                .max_stanzas,
            Some(0)
        );
        let r = history_request(&presence(
            "<history seconds='60' since='2026-01-01T00:00:00Z'/>",
        ))
        .unwrap();
        assert_eq!(r.seconds, Some(60));
        assert_eq!(
            r.since,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        );
        for x in [
            "<history maxchars='0'/>",
            "<history maxchars='0' maxstanzas='5'/>",
        ] {
            assert_eq!(
                history_request(&presence(x)).unwrap().max_stanzas,
                Some(0),
                "{x}"
            );
        }
        let some_chars = history_request(&presence("<history maxchars='500'/>")).unwrap();
        assert_eq!(some_chars, HistoryRequest::default());
        assert_eq!(
            limits(Some(&some_chars), 20, 500, SystemTime::UNIX_EPOCH),
            (20, None)
        );
        let plain = Presence::try_from(
            "<presence xmlns='jabber:component:accept' to='#a%n@irc.test/me'/>"
                .parse::<Element>()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(history_request(&plain), None);
    }

    #[test]
    fn limits_combine_count_time_default_and_cap() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(limits(None, 20, 500, now), (20, None));
        let r = |max, seconds, since| HistoryRequest {
            max_stanzas: max,
            seconds,
            since,
        };
        assert_eq!(
            limits(Some(&r(Some(0), None, None)), 20, 500, now),
            (0, None)
        );
        assert_eq!(
            limits(Some(&r(Some(9999), None, None)), 20, 500, now),
            (500, None)
        );
        let at = |s| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(
            limits(Some(&r(None, Some(100), None)), 20, 500, now),
            (500, at(900))
        );
        assert_eq!(
            limits(Some(&r(Some(3), Some(100), at(950))), 20, 500, now),
            (3, at(950))
        );
        assert_eq!(limits(Some(&r(None, None, None)), 20, 500, now), (20, None));
        // More seconds than there have been: from the start of time.
        assert_eq!(
            limits(Some(&r(None, Some(5000), None)), 20, 500, now),
            (500, at(0))
        );
    }

    #[test]
    fn history_lines_are_delayed_by_the_room_and_carry_their_stanza_id() {
        let room = BareJid::new("#a%n@irc.test").unwrap();
        let to = Jid::new("alice@example.org/phone").unwrap();
        let line = ArchivedLine {
            id: "18f3a".into(),
            nick: "bo\u{7}b".into(),
            body: "hi\u{1}".into(),
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_225_600_250),
        };
        let xml = element_xml(history_message(&room, &to, &line));
        assert!(xml.contains("from='#a%n@irc.test/bo\u{2407}b'"), "{xml}");
        assert!(xml.contains("type='groupchat'"), "{xml}");
        assert!(xml.contains("<body>hi</body>"), "{xml}");
        assert!(
            xml.contains("<delay xmlns='urn:xmpp:delay' from='#a%n@irc.test' stamp='2026-01-01T00:00:00.250Z'/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<stanza-id xmlns='urn:xmpp:sid:0' by='#a%n@irc.test' id='18f3a'/>"),
            "{xml}"
        );
    }
}
