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

/// `alice` (XMPP) in `chan`, once the transport answers; returns her.
fn alice_in(rig: &IrcRig, chan: &str) -> Agent {
    let alice = rig.user("alice");
    let own = join_as(&alice, &room(chan), "alice");
    assert_eq!(own.attr("type"), None, "{}", String::from(&own));
    alice
}

fn invite_error(agent: &Agent, from: &str, id: &str) -> Element {
    agent.expect(T, &format!("the error for invitation {id}"), |s| {
        s.name() == "message"
            && s.attr("type") == Some("error")
            && s.attr("from") == Some(from)
            && (s.attr("id") == Some(id) || from.starts_with('#'))
    })
}

#[test]
fn mediated_and_direct_invitations_reach_irc_and_xmpp_users() {
    let rig = IrcRig::start("irc-invite-out", IRC, SECRET, "");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    let alice = alice_in(&rig, "#inv");
    let bob = rig.user("bob");

    // Mediated, to a nick: an IRC INVITE, and the network confirms.
    alice.send(&format!(
        "<message to='{}'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol'/></x></message>",
        room("#inv")
    ));
    let line = carol.expect(T, "the INVITE", |l| l.command == "INVITE");
    assert_eq!(line.prefix_nick.as_deref(), Some("alice"), "{}", line.raw);
    assert_eq!(
        (line.param(0), line.param(1)),
        (Some("carol"), Some("#inv"))
    );
    alice.expect(T, "the confirmation", |s| {
        s.name() == "message"
            && s.attr("from") == Some(NETWORK_JID)
            && body(s) == "carol has been invited to #inv"
    });

    // Direct (XEP-0249), to a contact of the gateway: the same INVITE.
    alice.send(&format!(
        "<message to='dave%127.0.0.1@{IRC}'><x xmlns='jabber:x:conference' jid='{}'/></message>",
        room("#inv")
    ));
    let line = dave.expect(T, "the INVITE from a direct invitation", |l| {
        l.command == "INVITE"
    });
    assert_eq!((line.param(0), line.param(1)), (Some("dave"), Some("#inv")));

    // Mediated, to an XMPP user: the room passes it on with alice's full JID inside.
    alice.send(&format!(
        "<message to='{}'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@localhost'><reason>come &amp; see</reason></invite></x></message>",
        room("#inv")
    ));
    let got = bob.expect(T, "the invitation passed on", |s| {
        s.name() == "message" && s.attr("from") == Some(room("#inv").as_str())
    });
    let invite = got
        .get_child("x", common::muc::NS_MUC_USER)
        .and_then(|x| x.get_child("invite", common::muc::NS_MUC_USER))
        .unwrap_or_else(|| panic!("no invite: {}", String::from(&got)));
    assert!(
        invite
            .attr("from")
            .is_some_and(|f| f.starts_with(&format!("{}/", alice.jid()))),
        "{}",
        String::from(&got)
    );
    assert_eq!(
        invite
            .get_child("reason", common::muc::NS_MUC_USER)
            .map(Element::text)
            .as_deref(),
        Some("come & see")
    );
}

#[test]
fn an_invitation_to_a_nick_that_does_not_exist_is_an_error() {
    let rig = IrcRig::start("irc-invite-none", IRC, SECRET, "");
    let alice = alice_in(&rig, "#inv");
    alice.send(&format!(
        "<message id='i1' to='{}'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='nobody'/></x></message>",
        room("#inv")
    ));
    let e = invite_error(&alice, &room("#inv"), "i1");
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("item-not-found"),
        "{}",
        String::from(&e)
    );
    assert!(error_text(&e).contains("nobody"), "{}", String::from(&e));
    // A direct invitation to a room that is not the gateway's, and one to a room the
    // user is not in: refused before anything reaches IRC.
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    alice.send(&format!(
        "<message id='i2' to='dave%127.0.0.1@{IRC}'><x xmlns='jabber:x:conference' jid='room@muc.example.org'/></message>"
    ));
    let e = invite_error(&alice, &format!("dave%127.0.0.1@{IRC}"), "i2");
    assert_eq!(error_condition(&e).as_deref(), Some("bad-request"));
    alice.send(&format!(
        "<message id='i3' to='dave%127.0.0.1@{IRC}'><x xmlns='jabber:x:conference' jid='{}'/></message>",
        room("#elsewhere")
    ));
    let e = invite_error(&alice, &format!("dave%127.0.0.1@{IRC}"), "i3");
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("item-not-found"),
        "{}",
        String::from(&e)
    );
    dave.expect_none(Duration::from_millis(500), |l| l.command == "INVITE");
}

#[test]
fn an_irc_invitation_reaches_the_user_within_a_bucket() {
    let rig = IrcRig::start("irc-invite-in", IRC, SECRET, "");
    let alice = alice_in(&rig, "#lobby");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#cave");
    carol.send("INVITE alice #cave");
    let cave = room("#cave");
    let got = alice.expect(T, "the invitation", |s| {
        s.name() == "message" && s.attr("from") == Some(cave.as_str())
    });
    let mediated = got
        .get_child("x", common::muc::NS_MUC_USER)
        .and_then(|x| x.get_child("invite", common::muc::NS_MUC_USER))
        .unwrap_or_else(|| panic!("no mediated invite: {}", String::from(&got)));
    assert_eq!(
        mediated.attr("from"),
        Some(format!("{cave}/carol").as_str())
    );
    let direct = got
        .get_child("x", "jabber:x:conference")
        .unwrap_or_else(|| panic!("no direct invite: {}", String::from(&got)));
    assert_eq!(direct.attr("jid"), Some(cave.as_str()));

    // A flood: the burst (3, one of them spent) passes, the rest are dropped.
    for _ in 0..10 {
        carol.send("INVITE alice #cave");
    }
    let mut passed = 0;
    while alice
        .try_expect(Duration::from_millis(1500), |s| {
            s.name() == "message" && s.attr("from") == Some(cave.as_str())
        })
        .is_some()
    {
        passed += 1;
    }
    assert_eq!(passed, 2, "{passed} of 10 invitations passed on");
    // The user can still talk in the room she is in.
    carol.join("#lobby");
    carol.privmsg("#lobby", "still here?");
    alice.expect(T, "the channel still relayed", |s| body(s) == "still here?");
}
