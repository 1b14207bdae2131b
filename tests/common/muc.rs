//! MUC rooms as the end-to-end tests see them: status codes, stanza-ids, joins that collect
//! the history given before the subject, and leaves.

use super::{body, Agent, NS_CLIENT};
use minidom::Element;
use std::time::Duration;

pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_SID: &str = "urn:xmpp:sid:0";
pub const NS_DELAY: &str = "urn:xmpp:delay";
const T: Duration = Duration::from_secs(10);

/// The MUC status codes of a presence.
pub fn statuses(stanza: &Element) -> Vec<String> {
    stanza
        .get_child("x", NS_MUC_USER)
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.attr("code").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The id of the `<stanza-id/>` that `room` gave a message.
pub fn stanza_id(m: &Element, room: &str) -> Option<String> {
    m.get_child("stanza-id", NS_SID)
        .filter(|s| s.attr("by") == Some(room))
        .and_then(|s| s.attr("id"))
        .map(str::to_string)
}

/// One line of history: (nick, body, stanza-id).
pub type HistoryLine = (String, String, String);

/// Joins `room/nick` with `history` inside the MUC `<x/>`, and returns the history lines
/// given between the self-presence and the subject, in order. Each must carry a delay
/// stamped by the room and a stanza-id.
pub fn join_with_history(agent: &Agent, room: &str, nick: &str, history: &str) -> Vec<HistoryLine> {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>{history}</x></presence>"
    ));
    let own = agent.expect(T, &format!("self-presence in {room}"), |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&format!("{room}/{nick}"))
            && (statuses(s).contains(&"110".into()) || s.attr("type") == Some("error"))
    });
    assert_ne!(
        own.attr("type"),
        Some("error"),
        "join refused: {}",
        String::from(&own)
    );
    let mut lines = Vec::new();
    loop {
        let m = agent.expect(T, "a history line or the subject", |s| {
            s.name() == "message"
                && s.attr("from").is_some_and(|f| f.starts_with(room))
                && (s.get_child("subject", NS_CLIENT).is_some()
                    || s.get_child("delay", NS_DELAY).is_some())
        });
        if m.get_child("subject", NS_CLIENT).is_some() {
            return lines;
        }
        let delay = m.get_child("delay", NS_DELAY).unwrap();
        assert_eq!(delay.attr("from"), Some(room), "{}", String::from(&m));
        assert!(
            delay.attr("stamp").is_some_and(|s| s.ends_with('Z')),
            "{}",
            String::from(&m)
        );
        let from = m.attr("from").unwrap();
        let said_by = from
            .split_once('/')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        let id =
            stanza_id(&m, room).unwrap_or_else(|| panic!("no stanza-id: {}", String::from(&m)));
        lines.push((said_by, body(&m), id));
    }
}

/// Leaves `room/nick` and waits for the unavailable self-presence.
pub fn leave(agent: &Agent, room: &str, nick: &str) {
    agent.send(&format!(
        "<presence type='unavailable' to='{room}/{nick}'/>"
    ));
    agent.expect(T, "the leave's self-presence", |s| {
        s.name() == "presence"
            && s.attr("type") == Some("unavailable")
            && s.attr("from") == Some(&format!("{room}/{nick}"))
    });
}
