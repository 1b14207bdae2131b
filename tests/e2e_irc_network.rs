//! End-to-end tests of what the network JID says: connection progress ("Connecting to
//! host:port (not encrypted)", "Connected to IRC server.", "Connection failed: …"), the
//! server's welcome lines and notices prefixed with its name, and replies to raw commands
//! (WHOIS), each a chat message to the resource that is online, kept from archives and
//! carbons. Real Prosody and InspIRCd, the gateway binary, slixmpp users and a raw IRC client.

mod common;

use common::irc_gateway::{irc_gateway_yaml, irc_user, IrcRig};
use common::{body, free_port, workdir, Agent, Gateway, Inspircd, IrcClient, Prosody};
use minidom::Element;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);
const NET: &str = "127.0.0.1@irc.localhost";
const HINTS: &str = "urn:xmpp:hints";

/// The bodies of messages from `from` until one satisfies `last` (included).
fn texts_until(agent: &Agent, from: &str, last: impl Fn(&str) -> bool) -> Vec<Element> {
    let mut out = Vec::new();
    loop {
        let m = agent.expect(T, &format!("a message from {from}"), |s| {
            s.name() == "message" && s.attr("from") == Some(from)
        });
        let done = last(&body(&m));
        out.push(m);
        if done {
            return out;
        }
    }
}

#[test]
fn the_network_jid_tells_progress_welcome_lines_and_raw_replies() {
    let dir = workdir("irc-network-text");
    let prosody = Prosody::start(
        dir.path(),
        &[(IRC, SECRET)],
        &[("alice", "localhost", "pw"), ("bob", "localhost", "pw")],
    );
    let ircd = Inspircd::start(dir.path());
    let closed = free_port();
    let keys = format!(
        "  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n    closed: {{host: 127.0.0.1, port: {closed}, tls: false}}\n",
        ircd.port()
    );
    let _gw = Gateway::start(dir.path(), &irc_gateway_yaml(&prosody, IRC, SECRET, &keys));
    let _carol = IrcClient::connect(ircd.port(), "carol");
    let alice = irc_user(dir.path(), &prosody, "alice", IRC);

    alice.send(&format!(
        "<presence to='#hello%127.0.0.1@{IRC}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let lines = texts_until(&alice, NET, |b| {
        b.contains("MOTD") || b.contains("Switchboard test network")
    });
    let bodies: Vec<String> = lines.iter().map(body).collect();
    let port = ircd.port();
    assert_eq!(
        bodies[0],
        format!("Connecting to 127.0.0.1:{port} (not encrypted)"),
        "{bodies:#?}"
    );
    assert_eq!(bodies[1], "Connected to IRC server.", "{bodies:#?}");
    // The welcome lines, named by the server (irc.test), parameters after our nick.
    assert!(
        bodies.iter().any(|b| b.starts_with("irc.test: There are ")),
        "{bodies:#?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with("irc.test: Your host is irc.test")),
        "{bodies:#?}"
    );
    assert!(
        !bodies
            .iter()
            .any(|b| b.contains("are supported by this server")),
        "ISUPPORT is for the gateway: {bodies:#?}"
    );
    // Each to the resource that joined, private and never stored.
    for m in &lines {
        assert!(
            m.attr("to")
                .is_some_and(|to| to.starts_with(&format!("{}/", alice.jid()))),
            "{}",
            String::from(m)
        );
        assert_eq!(m.attr("type"), Some("chat"));
        assert!(
            m.get_child("no-store", HINTS).is_some(),
            "{}",
            String::from(m)
        );
        assert!(m.get_child("no-copy", HINTS).is_some());
        assert!(m.get_child("private", "urn:xmpp:carbons:2").is_some());
    }

    // A raw WHOIS: its replies come back the same way.
    alice.send(&format!(
        "<message type='chat' to='{NET}'><body>WHOIS carol</body></message>"
    ));
    let whois = texts_until(&alice, NET, |b| b.contains("End of /WHOIS"));
    let whois: Vec<String> = whois.iter().map(body).collect();
    assert!(
        whois.iter().any(|b| b.starts_with("irc.test: carol ")),
        "{whois:#?}"
    );

    // A network that refuses connections says so, then the join fails.
    alice.send(&format!(
        "<presence to='#x%closed@{IRC}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let closed_jid = format!("closed@{IRC}");
    let said = texts_until(&alice, &closed_jid, |b| {
        b.starts_with("Connection failed: ")
    });
    assert_eq!(
        body(&said[0]),
        format!("Connecting to 127.0.0.1:{closed} (not encrypted)")
    );
    assert!(
        body(said.last().unwrap()).contains("refused"),
        "{}",
        body(said.last().unwrap())
    );
}

#[test]
fn rooms_are_non_anonymous_with_each_occupant_s_contact_jid() {
    let rig = IrcRig::start("irc-non-anonymous", IRC, SECRET, "");
    let carol = IrcClient::connect(rig.ircd.port(), "Carol");
    carol.join("#open");
    let alice = rig.user("alice");
    let room = format!("#open%127.0.0.1@{IRC}");
    let item = |p: &Element| {
        p.get_child("x", common::muc::NS_MUC_USER)
            .and_then(|x| x.get_child("item", common::muc::NS_MUC_USER))
            .and_then(|i| i.attr("jid"))
            .map(str::to_string)
    };
    alice.send(&format!(
        "<presence to='{room}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let carol_seen = alice.expect(T, "Carol's presence", |s| {
        s.name() == "presence" && s.attr("from") == Some(format!("{room}/Carol").as_str())
    });
    assert_eq!(
        item(&carol_seen).as_deref(),
        Some(format!("carol%127.0.0.1@{IRC}/Carol").as_str()),
        "{}",
        String::from(&carol_seen)
    );
    let own = alice.expect(T, "the self-presence", |s| {
        s.name() == "presence" && s.attr("from") == Some(format!("{room}/alice").as_str())
    });
    let codes = common::muc::statuses(&own);
    assert_eq!(codes, ["100", "110"], "{}", String::from(&own));
    assert!(
        item(&own).is_some_and(|j| j.starts_with("alice@localhost/")),
        "{}",
        String::from(&own)
    );
    // Someone joining later carries theirs too; disco says the room is non-anonymous.
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#open");
    let dave_seen = alice.expect(T, "dave's presence", |s| {
        s.name() == "presence" && s.attr("from") == Some(format!("{room}/dave").as_str())
    });
    assert_eq!(
        item(&dave_seen).as_deref(),
        Some(format!("dave%127.0.0.1@{IRC}/dave").as_str())
    );
    let info = alice.iq(
        &format!("<iq type='get' id='d1' to='{room}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
        "d1",
        T,
    );
    assert!(
        String::from(&info).contains("var='muc_nonanonymous'"),
        "{}",
        String::from(&info)
    );
}

#[test]
fn occupants_away_before_the_join_are_shown_away() {
    let rig = IrcRig::start("irc-away-at-join", IRC, SECRET, "");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#lounge");
    carol.send("AWAY :out for lunch");
    carol.expect(T, "306 (away)", |l| l.command == "306");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#lounge");
    let alice = rig.user("alice");
    let room = format!("#lounge%127.0.0.1@{IRC}");
    alice.send(&format!(
        "<presence to='{room}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let away = alice.expect(T, "carol shown away", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(format!("{room}/carol").as_str())
            && s.get_child("show", common::NS_CLIENT)
                .map(Element::text)
                .as_deref()
                == Some("away")
    });
    assert_eq!(away.attr("type"), None, "{}", String::from(&away));
    // dave is here: never shown away; the gateway's WHO is not shown as server text.
    alice.expect_none(Duration::from_millis(800), |s| {
        (s.name() == "presence"
            && s.attr("from") == Some(format!("{room}/dave").as_str())
            && s.get_child("show", common::NS_CLIENT).is_some())
            || (s.attr("from") == Some(NET) && body(s).contains("End of /WHO"))
    });
    // A WHO the user sends by hand is shown.
    alice.send(&format!(
        "<message type='chat' to='{NET}'><body>WHO #lounge</body></message>"
    ));
    texts_until(&alice, NET, |b| b.contains("End of /WHO"));
}
