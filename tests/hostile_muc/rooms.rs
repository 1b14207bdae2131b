//! Rooms as the hostile MUC tests use them: joining, talking each way, pinging, and reading
//! the statuses and bodies of what comes back.

use crate::common::{Agent, IrcClient, NS_CLIENT};
use crate::rig::T;
use minidom::Element;

pub use crate::common::muc::{statuses, NS_MUC_USER};

pub fn body(stanza: &Element) -> String {
    stanza
        .get_child("body", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

pub fn send_join(agent: &Agent, room: &str, nick: &str) {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
}

/// The full join after a join was sent: `other`'s occupant presence, the self-presence
/// (110) and the subject, in that order.
pub fn expect_full_join(agent: &Agent, room: &str, nick: &str, other: &str) {
    let occupant = format!("{room}/{other}");
    let me = format!("{room}/{nick}");
    agent.expect(T, &format!("{other}'s occupant presence"), |s| {
        s.name() == "presence" && s.attr("from") == Some(&occupant) && s.attr("type").is_none()
    });
    let own = agent.expect(T, "the self-presence", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&me)
            && (statuses(s).contains(&"110".into()) || s.attr("type") == Some("error"))
    });
    assert_eq!(own.attr("type"), None, "{}", String::from(&own));
    agent.expect(T, "the subject", |s| {
        s.name() == "message"
            && s.attr("from").is_some_and(|f| f.starts_with(room))
            && s.get_child("subject", NS_CLIENT).is_some()
    });
}

pub fn say(agent: &Agent, room: &str, id: &str, text: &str) {
    agent.send(&format!(
        "<message type='groupchat' to='{room}' id='{id}'><body>{text}</body></message>"
    ));
}

/// A message each way between `agent` (as `nick` in `room`) and the IRC client `irc` in
/// `chan`.
pub fn talk_both_ways(
    agent: &Agent,
    room: &str,
    nick: &str,
    irc: &IrcClient,
    chan: &str,
    tag: &str,
) {
    say(
        agent,
        room,
        &format!("m-{tag}"),
        &format!("from xmpp {tag}"),
    );
    irc.expect(T, "the message from XMPP", |l| {
        l.is_message(nick, chan, &format!("from xmpp {tag}"))
    });
    irc.privmsg(chan, &format!("from irc {tag}"));
    let text = format!("from irc {tag}");
    agent.expect(T, "the message from IRC", |s| {
        s.name() == "message" && body(s) == text
    });
}

pub fn ping(agent: &Agent, to: &str) -> Element {
    let id = agent.new_id();
    agent.iq(
        &format!("<iq type='get' id='{id}' to='{to}'><ping xmlns='urn:xmpp:ping'/></iq>"),
        &id,
        T,
    )
}
