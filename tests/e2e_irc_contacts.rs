//! End-to-end test of IRC contacts' presence: a probe or directed presence to
//! `nick%net@…` from a user connected to that network watches the nick with MONITOR;
//! the contact shows online and offline as IRC says. Real Prosody and InspIRCd, the
//! gateway binary, a slixmpp user and raw IRC clients.

mod common;

use common::irc_gateway::IrcRig;
use common::{join_room, IrcClient};
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);

#[test]
fn an_irc_contact_shows_online_and_offline_as_monitor_says() {
    let rig = IrcRig::start("irc-contacts", IRC, SECRET, "");
    let alice = rig.user("alice");
    let carol_jid = format!("carol%127.0.0.1@{IRC}");
    let presence_of = |jid: &str, kind: Option<&str>| {
        let jid = jid.to_string();
        let kind = kind.map(str::to_string);
        move |s: &minidom::Element| {
            s.name() == "presence"
                && s.attr("from") == Some(jid.as_str())
                && s.attr("type") == kind.as_deref()
        }
    };

    // Not connected to the network: the contact is shown available, as before.
    alice.send(&format!("<presence to='{carol_jid}'/>"));
    alice.expect(
        T,
        "carol shown available without a connection",
        presence_of(&carol_jid, None),
    );

    // Connected (a room joined), carol offline: MONITOR says so.
    join_room(&alice, &format!("#c%127.0.0.1@{IRC}"), "alice");
    alice.send(&format!("<presence to='{carol_jid}'/>"));
    alice.expect(
        T,
        "carol offline",
        presence_of(&carol_jid, Some("unavailable")),
    );

    // carol connects, then quits: her presence follows.
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    alice.expect(T, "carol online", presence_of(&carol_jid, None));
    carol.quit();
    alice.expect(
        T,
        "carol offline again",
        presence_of(&carol_jid, Some("unavailable")),
    );

    // A nick nobody has is offline; one with characters a nick cannot hold is refused by
    // the address before anything reaches IRC.
    let ghost = format!("ghost%127.0.0.1@{IRC}");
    alice.send(&format!("<presence to='{ghost}'/>"));
    alice.expect(T, "ghost offline", presence_of(&ghost, Some("unavailable")));
}

#[test]
fn a_private_message_to_a_nick_that_is_not_there_comes_back_as_an_error() {
    let rig = IrcRig::start("irc-no-such-nick", IRC, SECRET, "");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    let alice = rig.user("alice");
    join_room(&alice, &format!("#c%127.0.0.1@{IRC}"), "alice");

    let ghost = format!("ghost%127.0.0.1@{IRC}");
    alice.send(&format!(
        "<message type='chat' id='m1' to='{ghost}'><body>anyone?</body></message>"
    ));
    let e = alice.expect(T, "the delivery error", |s| {
        s.name() == "message"
            && s.attr("type") == Some("error")
            && s.attr("from") == Some(ghost.as_str())
    });
    assert_eq!(
        common::error_condition(&e).as_deref(),
        Some("recipient-unavailable"),
        "{}",
        String::from(&e)
    );
    assert!(
        common::error_text(&e).contains("ghost"),
        "{}",
        String::from(&e)
    );

    // To someone who is there: delivered, no error.
    let carol_jid = format!("carol%127.0.0.1@{IRC}");
    alice.send(&format!(
        "<message type='chat' id='m2' to='{carol_jid}'><body>hi</body></message>"
    ));
    carol.expect(T, "alice's line", |l| l.is_message("alice", "carol", "hi"));
    alice.expect_none(Duration::from_millis(800), |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
}
