//! End-to-end tests of nicks and invitations on the IRC transport: a nick in use at
//! connect falls back to `nick_` (status 210) and is taken back when freed; every fallback
//! taken ends the join with `conflict`; invitations both ways (mediated and XEP-0249), and
//! an invitation to a nick that does not exist. Real Prosody and InspIRCd, the gateway
//! binary, slixmpp users and raw IRC clients.

mod common;

use common::irc_gateway::IrcRig;
use common::muc::statuses;
use common::{body, error_condition, error_text, Agent, IrcClient};
use minidom::Element;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);
const NETWORK_JID: &str = "127.0.0.1@irc.localhost";

fn room(chan: &str) -> String {
    format!("{chan}%127.0.0.1@{IRC}")
}

/// Asks to join `room/nick` and returns the self-presence (under whatever nick) or error.
fn join_as(agent: &Agent, room: &str, nick: &str) -> Element {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
    agent.expect(T, &format!("the answer to joining {room}"), |s| {
        s.name() == "presence"
            && s.attr("from").is_some_and(|f| f.starts_with(room))
            && (statuses(s).contains(&"110".into()) || s.attr("type") == Some("error"))
    })
}

#[test]
fn a_taken_nick_falls_back_with_210_and_is_taken_back_when_freed() {
    let rig = IrcRig::start("irc-nick-fallback", IRC, SECRET, "");
    let ghost = IrcClient::connect(rig.ircd.port(), "alice");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#nf");

    let alice = rig.user("alice");
    let own = join_as(&alice, &room("#nf"), "alice");
    assert_eq!(own.attr("type"), None, "{}", String::from(&own));
    assert_eq!(
        own.attr("from"),
        Some(format!("{}/alice_", room("#nf")).as_str()),
        "{}",
        String::from(&own)
    );
    let codes = statuses(&own);
    assert!(codes.contains(&"210".to_string()), "{codes:?}");
    // The network says why, from its own JID.
    let told = alice.expect(T, "the network's word on the fallback", |s| {
        s.name() == "message"
            && s.attr("from") == Some(NETWORK_JID)
            && body(s).contains("connected as alice_")
    });
    assert!(body(&told).contains("alice is in use"), "{}", body(&told));

    // The ghost goes: MONITOR tells the gateway, which takes the nick back; the room hears
    // the rename (303) and IRC sees it.
    ghost.quit();
    let renamed = alice.expect(T, "the rename to the wanted nick", |s| {
        s.name() == "presence"
            && s.attr("type") == Some("unavailable")
            && statuses(s).contains(&"303".into())
    });
    assert_eq!(
        renamed.attr("from"),
        Some(format!("{}/alice_", room("#nf")).as_str())
    );
    assert!(statuses(&renamed).contains(&"110".into()));
    alice.expect(T, "the self-presence under the wanted nick", |s| {
        s.name() == "presence"
            && s.attr("type").is_none()
            && s.attr("from") == Some(format!("{}/alice", room("#nf")).as_str())
    });
    let nick = carol.expect(T, "the gateway's NICK", |l| l.command == "NICK");
    assert_eq!(nick.prefix_nick.as_deref(), Some("alice_"), "{}", nick.raw);
    assert_eq!(nick.param(0), Some("alice"), "{}", nick.raw);
}

#[test]
fn every_fallback_taken_ends_the_join_with_conflict() {
    let rig = IrcRig::start("irc-nick-taken", IRC, SECRET, "");
    let ghosts: Vec<IrcClient> = ["bob", "bob_", "bob__", "bob___"]
        .into_iter()
        .map(|n| IrcClient::connect(rig.ircd.port(), n))
        .collect();
    let bob = rig.user("bob");
    let e = join_as(&bob, &room("#nt"), "bob");
    assert_eq!(e.attr("type"), Some("error"), "{}", String::from(&e));
    assert_eq!(error_condition(&e).as_deref(), Some("conflict"));
    assert!(
        error_text(&e).contains("tried bob and 3 more"),
        "{}",
        String::from(&e)
    );
    // The nick freed: the next try connects under it.
    for ghost in ghosts {
        ghost.quit();
    }
    let own = join_as(&bob, &room("#nt"), "bob");
    assert_eq!(own.attr("type"), None, "{}", String::from(&own));
}
