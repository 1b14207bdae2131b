//! End-to-end tests of the IRC transport: a real InspIRCd, a real Prosody, the gateway
//! binary, XMPP users (slixmpp) and raw IRC clients.

mod common;

use common::{
    error_condition, free_port, run_command, workdir, Agent, Gateway, Inspircd, IrcClient, Prosody,
    NS_CLIENT,
};
use minidom::Element;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);
use common::muc::{statuses, NS_MUC_USER};

struct Rig {
    _dir: tempfile::TempDir,
    prosody: Prosody,
    ircd: Inspircd,
    gw: Gateway,
    config: String,
}

fn rig(name: &str) -> Rig {
    rig_with(name, |_| {
        "  quit_grace: 1s\n  networks:\n    \"127.0.0.1\": {port: @PORT@, tls: false, throttle: false}\n    closed: {host: 127.0.0.1, port: @CLOSED@, tls: false}\n".into()
    })
}

/// Prosody, InspIRCd and the gateway; `irc_keys` gives the `irc` section's keys besides
/// domain and secret, with @PORT@, @TLS_PORT@ and @CLOSED@ (a port nothing listens on)
/// replaced.
fn rig_with(name: &str, irc_keys: impl Fn(&Inspircd) -> String) -> Rig {
    let dir = workdir(name);
    let prosody = Prosody::start(
        dir.path(),
        &[(IRC, SECRET)],
        &[("alice", "localhost", "pw"), ("bob", "localhost", "pw")],
    );
    let ircd = Inspircd::start(dir.path());
    let keys = irc_keys(&ircd)
        .replace("@PORT@", &ircd.port().to_string())
        .replace("@TLS_PORT@", &ircd.tls_port().to_string())
        .replace("@CLOSED@", &free_port().to_string());
    let config = common::irc_gateway::irc_gateway_yaml(&prosody, IRC, SECRET, &keys);
    let gw = Gateway::start(dir.path(), &config);
    Rig {
        _dir: dir,
        prosody,
        ircd,
        gw,
        config,
    }
}

impl Rig {
    fn user(&self, name: &str) -> Agent {
        common::irc_gateway::irc_user(self._dir.path(), &self.prosody, name, IRC)
    }
}

fn room(chan: &str) -> String {
    format!("{chan}%127.0.0.1@{IRC}")
}

fn body(stanza: &Element) -> String {
    stanza
        .get_child("body", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

fn item_attr(stanza: &Element, attr: &str) -> Option<String> {
    stanza
        .get_child("x", NS_MUC_USER)?
        .get_child("item", NS_MUC_USER)?
        .attr(attr)
        .map(str::to_string)
}

/// Joins `room/nick` and returns (occupant presences before the self-presence, self-presence).
fn join(agent: &Agent, room: &str, nick: &str) -> Element {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
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
    agent.expect(T, "the subject after joining", |s| {
        s.name() == "message"
            && s.attr("from").is_some_and(|f| f.starts_with(room))
            && s.get_child("subject", NS_CLIENT).is_some()
    });
    own
}

fn join_error(agent: &Agent, room: &str, nick: &str, password: Option<&str>) -> Element {
    let pw = password
        .map(|p| format!("<password>{p}</password>"))
        .unwrap_or_default();
    agent.send(&format!("<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>{pw}</x></presence>"));
    agent.expect(T, &format!("a join error for {room}"), |s| {
        s.name() == "presence"
            && s.attr("type") == Some("error")
            && s.attr("from").is_some_and(|f| f.starts_with(room))
    })
}

fn groupchat(agent: &Agent, room: &str, id: &str, text: &str) {
    agent.send(&format!(
        "<message type='groupchat' id='{id}' to='{room}'><body>{}</body></message>",
        common::escape_xml(text)
    ));
}

#[test]
fn channels_messages_and_private_chat_both_ways() {
    let rig = rig("irc-basic");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#test");
    carol.send("TOPIC #test :the test topic");
    let alice = rig.user("alice");
    let r = room("#test");

    let own = join(&alice, &r, "alice");
    assert_eq!(item_attr(&own, "role").as_deref(), Some("participant"));
    let op = alice.expect(T, "carol's presence", |s| {
        s.attr("from") == Some(&format!("{r}/carol"))
    });
    assert_eq!(
        (
            item_attr(&op, "affiliation").as_deref(),
            item_attr(&op, "role").as_deref()
        ),
        (Some("admin"), Some("moderator"))
    );
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // XMPP -> IRC, with reflection to the sender carrying its id.
    groupchat(&alice, &r, "g1", "hello irc");
    carol.expect(T, "alice's PRIVMSG", |l| {
        l.is_message("alice", "#test", "hello irc")
    });
    let reflected = alice.expect(T, "the reflection", |s| {
        s.attr("id") == Some("g1") && s.attr("type") == Some("groupchat")
    });
    assert_eq!(reflected.attr("from"), Some(format!("{r}/alice").as_str()));

    // IRC -> XMPP, formatting stripped.
    carol.privmsg("#test", "hi \x0304xmpp\x03 \x02friends\x02");
    let got = alice.expect(T, "carol's message", |s| {
        s.attr("from") == Some(&format!("{r}/carol")) && !body(s).is_empty()
    });
    assert_eq!(body(&got), "hi xmpp friends");

    // Several lines, and a long line, arrive whole: one PRIVMSG per line, split under 512.
    groupchat(&alice, &r, "g2", "line one\nline two");
    carol.expect(T, "line one", |l| {
        l.is_message("alice", "#test", "line one")
    });
    carol.expect(T, "line two", |l| {
        l.is_message("alice", "#test", "line two")
    });
    let long: String = (0..120).map(|i| format!("w{i:03}é✓ ")).collect::<String>();
    let long = long.trim_end().to_string();
    assert!(long.len() > 1000, "{}", long.len());
    groupchat(&alice, &r, "g3", &long);
    let mut received = String::new();
    while received.len() < long.len() {
        let line = carol.expect(T, "a piece of the long line", |l| {
            l.command == "PRIVMSG" && l.is_from("alice")
        });
        assert!(
            line.raw.len() + 2 <= 512,
            "line over 512 bytes: {}",
            line.raw.len()
        );
        received.push_str(line.privmsg_text().unwrap());
    }
    assert_eq!(received, long);

    // Actions both ways.
    groupchat(&alice, &r, "g4", "/me waves");
    carol.expect(T, "the ACTION", |l| {
        l.is_message("alice", "#test", "\x01ACTION waves\x01")
    });
    carol.privmsg("#test", "\x01ACTION bows\x01");
    alice.expect(T, "carol's action", |s| body(s) == "/me bows");

    // An injection attempt is text; alice stays in the channel.
    groupchat(&alice, &r, "g5", "hi\r\nPART #test :pwned");
    carol.expect(T, "the injected text as a message", |l| {
        l.is_message("alice", "#test", "PART #test :pwned")
    });
    carol.expect_none(Duration::from_millis(500), |l| l.command == "PART");

    // Private chat: to nick%network, and through the occupant JID; replies come back from
    // nick%network.
    alice.send(&format!(
        "<message type='chat' id='p1' to='carol%127.0.0.1@{IRC}'><body>psst</body></message>"
    ));
    carol.expect(T, "the private message", |l| {
        l.is_message("alice", "carol", "psst")
    });
    alice.send(&format!(
        "<message type='chat' id='p2' to='{r}/carol'><body>via the room</body></message>"
    ));
    carol.expect(T, "the private message via the room", |l| {
        l.is_message("alice", "carol", "via the room")
    });
    carol.privmsg("alice", "back to you");
    let pm = alice.expect(T, "carol's private reply", |s| body(s) == "back to you");
    assert_eq!(
        pm.attr("from"),
        Some(format!("carol%127.0.0.1@{IRC}").as_str())
    );
    assert_eq!(pm.attr("type"), Some("chat"));

    // Someone else leaves; then alice leaves: PART, and QUIT after the grace.
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#test");
    alice.expect(T, "dave's arrival", |s| {
        s.attr("from") == Some(&format!("{r}/dave")) && s.attr("type").is_none()
    });
    dave.send("PART #test :bye now");
    let gone = alice.expect(T, "dave leaving", |s| {
        s.attr("from") == Some(&format!("{r}/dave")) && s.attr("type") == Some("unavailable")
    });
    assert!(
        String::from(&gone).contains("bye now"),
        "{}",
        String::from(&gone)
    );
    alice.send(&format!("<presence type='unavailable' to='{r}/alice'/>"));
    let left = alice.expect(T, "alice's own unavailable", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && s.attr("type") == Some("unavailable")
    });
    assert!(statuses(&left).contains(&"110".to_string()));
    carol.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
    // Her connection QUITs once the grace (1 s here) has passed: ISON stops listing her.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        carol.send("ISON alice");
        let ison = carol.expect(T, "303 ISON", |l| l.command == "303");
        if ison.last().unwrap_or_default().trim().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alice is still on IRC after leaving her last channel"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(!rig.gw.log().contains("hello irc"), "bodies are not logged");
}

#[test]
fn join_errors_come_back_as_muc_errors() {
    let rig = rig("irc-errors");
    let op = IrcClient::connect(rig.ircd.port(), "op");
    for (chan, mode) in [
        ("#keyed", "+k sesame"),
        ("#invite", "+i"),
        ("#full", "+l 1"),
        ("#banned", "+b bob!*@*"),
    ] {
        op.join(chan);
        op.send(&format!("MODE {chan} {mode}"));
    }
    op.expect(T, "the last MODE", |l| {
        l.command == "MODE" && l.param(0) == Some("#banned")
    });
    let bob = rig.user("bob");
    let cases = [
        ("#keyed", Some("wrong"), "not-authorized"),
        ("#invite", None, "registration-required"),
        ("#full", None, "service-unavailable"),
        ("#banned", None, "forbidden"),
    ];
    for (chan, password, condition) in cases {
        let e = join_error(&bob, &room(chan), "bob", password);
        assert_eq!(
            error_condition(&e).as_deref(),
            Some(condition),
            "{chan}: {}",
            String::from(&e)
        );
    }
    // The right key works.
    join_error_free(&bob, &room("#keyed"), "bob", "sesame");

    // (A nick in use on the network falls back to nick_: tests/e2e_irc_nicks.rs.)
    let alice = rig.user("alice");
    // A network not served, and one that refuses connections.
    let e = join_error(&alice, &format!("#x%evil.example@{IRC}"), "alice", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("not-allowed"),
        "{}",
        String::from(&e)
    );
    let e = join_error(&alice, &format!("#x%closed@{IRC}"), "alice", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("remote-server-not-found"),
        "{}",
        String::from(&e)
    );
    // A malformed room address.
    let e = join_error(&alice, &format!("#nonetwork@{IRC}"), "alice", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("jid-malformed"),
        "{}",
        String::from(&e)
    );
}

fn join_error_free(agent: &Agent, room: &str, nick: &str, password: &str) {
    agent.send(&format!("<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><password>{password}</password></x></presence>"));
    let own = agent.expect(T, "self-presence with the right key", |s| {
        s.attr("from") == Some(&format!("{room}/{nick}"))
    });
    assert_ne!(own.attr("type"), Some("error"), "{}", String::from(&own));
}

#[test]
fn topic_kick_nick_change_and_reconnect() {
    let mut rig = rig("irc-events");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#ev");
    let alice = rig.user("alice");
    let r = room("#ev");
    join(&alice, &r, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // Topic both ways.
    carol.send("TOPIC #ev :from irc");
    let s = alice.expect(T, "the new subject", |s| {
        s.get_child("subject", NS_CLIENT)
            .is_some_and(|x| x.text() == "from irc")
    });
    assert_eq!(s.attr("from"), Some(format!("{r}/carol").as_str()));
    // Not an operator: the network refuses (482), the user hears forbidden.
    alice.send(&format!(
        "<message type='groupchat' to='{r}'><subject>too soon</subject></message>"
    ));
    let refused = alice.expect(T, "the 482 as an error", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("forbidden"),
        "{}",
        String::from(&refused)
    );
    // Made operator on IRC: a new role; then the topic goes through.
    carol.send("MODE #ev +o alice");
    let promoted = alice.expect(T, "alice's new role", |s| {
        s.attr("from") == Some(&format!("{r}/alice"))
            && item_attr(s, "role").as_deref() == Some("moderator")
    });
    assert!(statuses(&promoted).contains(&"110".to_string()));
    alice.send(&format!(
        "<message type='groupchat' to='{r}'><subject>from xmpp</subject></message>"
    ));
    carol.expect(T, "TOPIC from alice", |l| {
        l.command == "TOPIC" && l.is_from("alice") && l.last() == Some("from xmpp")
    });

    // A nick change on IRC: 303, then the new nick.
    carol.send("NICK carla");
    let renamed = alice.expect(T, "303 for carol", |s| {
        s.attr("from") == Some(&format!("{r}/carol")) && statuses(s).contains(&"303".to_string())
    });
    assert_eq!(item_attr(&renamed, "nick").as_deref(), Some("carla"));
    alice.expect(T, "carla's presence", |s| {
        s.attr("from") == Some(&format!("{r}/carla")) && s.attr("type").is_none()
    });

    // Away and back (away-notify): show=away with the message, then plain presence.
    carol.send("AWAY :out for lunch");
    let away = alice.expect(T, "carla away", |s| {
        s.attr("from") == Some(&format!("{r}/carla")) && s.get_child("show", NS_CLIENT).is_some()
    });
    assert_eq!(
        away.get_child("show", NS_CLIENT)
            .map(Element::text)
            .as_deref(),
        Some("away")
    );
    assert!(String::from(&away).contains("out for lunch"));
    carol.send("AWAY");
    alice.expect(T, "carla back", |s| {
        s.attr("from") == Some(&format!("{r}/carla"))
            && s.attr("type").is_none()
            && s.get_child("show", NS_CLIENT).is_none()
    });

    // Restart of the IRC server: the gateway reconnects and rejoins, alice gets the room
    // again and messages flow.
    drop(carol);
    rig.ircd.restart();
    // While the connection is down the transport's presence says so.
    let down = alice.expect(Duration::from_secs(20), "the transport away", |s| {
        s.attr("from") == Some(IRC) && s.get_child("show", NS_CLIENT).is_some()
    });
    assert!(
        String::from(&down).contains("not connected"),
        "{}",
        String::from(&down)
    );
    let own = alice.expect(
        Duration::from_secs(40),
        "self-presence after the rejoin",
        |s| {
            s.attr("from") == Some(&format!("{r}/alice"))
                && statuses(s).contains(&"110".to_string())
                && s.attr("type").is_none()
        },
    );
    assert_eq!(own.name(), "presence");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#ev");
    groupchat(&alice, &r, "after", "back again");
    carol.expect(T, "the message after the restart", |l| {
        l.is_message("alice", "#ev", "back again")
    });

    // Kicked from IRC: 307 with the reason.
    carol.send("OPER oper operpass");
    carol.expect(T, "381 oper", |l| l.command == "381");
    carol.send("KICK #ev alice :behave");
    let kicked = alice.expect(T, "the kick", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && statuses(s).contains(&"307".to_string())
    });
    assert_eq!(kicked.attr("type"), Some("unavailable"));
    assert!(String::from(&kicked).contains("behave"));
}

#[test]
fn nick_changes_and_kicks_from_xmpp() {
    let rig = rig("irc-moderation");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#mod");
    let dave = IrcClient::connect(rig.ircd.port(), "dave");
    dave.join("#mod");
    let alice = rig.user("alice");
    let r = room("#mod");
    join(&alice, &r, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // A new nick from XMPP: NICK on IRC, then 303 and the new self-presence.
    alice.send(&format!("<presence to='{r}/alicia'/>"));
    carol.expect(T, "NICK alicia", |l| {
        l.command == "NICK" && l.is_from("alice") && l.last() == Some("alicia")
    });
    let old = alice.expect(T, "303 from the old nick", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && statuses(s).contains(&"303".to_string())
    });
    assert!(
        statuses(&old).contains(&"110".to_string()),
        "{}",
        String::from(&old)
    );
    assert_eq!(item_attr(&old, "nick").as_deref(), Some("alicia"));
    alice.expect(T, "the new self-presence", |s| {
        s.attr("from") == Some(&format!("{r}/alicia")) && statuses(s).contains(&"110".to_string())
    });

    // A nick in use: a presence error with conflict; the nick stays.
    alice.send(&format!("<presence to='{r}/carol'/>"));
    let refused = alice.expect(T, "the conflict", |s| {
        s.name() == "presence" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("conflict"),
        "{}",
        String::from(&refused)
    );

    // Kicking needs operator status: refused first (482), then done once made operator.
    let kick = |id: &str| {
        format!(
            "<iq type='set' id='{id}' to='{r}'><query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item nick='dave' role='none'><reason>off topic</reason></item></query></iq>"
        )
    };
    let answer = alice.iq(&kick("k1"), "k1", T);
    assert_eq!(answer.attr("type"), Some("result"));
    let e = alice.expect(T, "the 482", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("forbidden"),
        "{}",
        String::from(&e)
    );
    carol.send("MODE #mod +o alicia");
    alice.expect(T, "alicia made moderator", |s| {
        s.attr("from") == Some(&format!("{r}/alicia"))
            && item_attr(s, "role").as_deref() == Some("moderator")
    });
    alice.iq(&kick("k2"), "k2", T);
    dave.expect(T, "the KICK", |l| {
        l.command == "KICK"
            && l.is_from("alicia")
            && l.param(1) == Some("dave")
            && l.last() == Some("off topic")
    });
    let gone = alice.expect(T, "dave kicked", |s| {
        s.attr("from") == Some(&format!("{r}/dave")) && statuses(s).contains(&"307".to_string())
    });
    assert!(String::from(&gone).contains("off topic"));

    // Other role changes are not bridged: a clear error.
    let other = alice.iq(
        &format!("<iq type='set' id='k3' to='{r}'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='carol' role='visitor'/></query></iq>"),
        "k3",
        T,
    );
    assert_eq!(
        error_condition(&other).as_deref(),
        Some("feature-not-implemented")
    );
}

#[test]
fn latin1_bytes_limits_and_going_offline() {
    let rig = rig("irc-misc");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#enc");
    let alice = rig.user("alice");
    let r = room("#enc");
    join(&alice, &r, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // Bytes that are not UTF-8 are read as latin-1 (the network's default fallback).
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", rig.ircd.port())).unwrap();
    use std::io::Write;
    raw.write_all(b"NICK olde\r\nUSER olde 0 * :old client\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // InspIRCd registers after about 1 s
    raw.write_all(b"JOIN #enc\r\nPRIVMSG #enc :caf\xe9 cr\xe8me\r\n")
        .unwrap();
    let got = alice.expect(T, "the latin-1 message", |s| {
        s.attr("from") == Some(&format!("{r}/olde")) && !body(s).is_empty()
    });
    assert_eq!(body(&got), "café crème");

    // CR, LF and NUL in a nick or topic never reach IRC as separate commands.
    alice.send(&format!(
        "<message type='groupchat' to='{r}'><subject>line one\nQUIT :bye</subject></message>"
    ));
    // (alice is not an operator here: the TOPIC is refused, but it was sent as one line)
    let e = alice.expect(T, "the topic refusal", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));
    carol.expect_none(Duration::from_millis(500), |l| l.command == "QUIT");

    // The user's last resource going offline toward the transport QUITs every network.
    alice.send(&format!("<presence type='unavailable' to='{IRC}'/>"));
    carol.expect(T, "alice's QUIT", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
}

#[test]
fn channel_caps_and_flood_control() {
    let rig = rig_with("irc-limits", |_| {
        "  max_channels_per_user: 1\n  default: {burst: 2, interval: 500ms}\n  networks:\n    \"127.0.0.1\": {port: @PORT@, tls: false}\n".into()
    });
    let alice = rig.user("alice");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#one");
    carol.join("#locked");
    carol.send("MODE #locked +k sesame");
    carol.expect(T, "the key set", |l| {
        l.command == "MODE" && l.param(0) == Some("#locked")
    });
    // A refused join does not use up the user's channel allowance.
    let e = join_error(&alice, &room("#locked"), "alice", Some("wrong"));
    assert_eq!(error_condition(&e).as_deref(), Some("not-authorized"));
    join(&alice, &room("#one"), "alice");
    let e = join_error(&alice, &room("#two"), "alice", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("policy-violation"),
        "{}",
        String::from(&e)
    );

    // Flood control: a burst of 2 lines, then one per 500 ms.
    let start = std::time::Instant::now();
    groupchat(&alice, &room("#one"), "f1", "1\n2\n3\n4\n5\n6");
    for n in 1..=6 {
        carol.expect(T, &format!("line {n}"), |l| {
            l.is_message("alice", "#one", &n.to_string())
        });
    }
    let took = start.elapsed();
    // Leaving gives the allowance back.
    alice.send(&format!(
        "<presence type='unavailable' to='{}/alice'/>",
        room("#one")
    ));
    carol.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
    join(&alice, &room("#two"), "alice");
    assert!(
        took >= Duration::from_millis(1500),
        "6 lines with a burst of 2 at 2/s took only {took:?}"
    );
}

#[test]
fn the_network_jid_lists_channels_shows_the_motd_and_takes_raw_commands() {
    let rig = rig("irc-network");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    for chan in ["#alpha", "#beta", "#gamma"] {
        carol.join(chan);
    }
    let alice = rig.user("alice");
    let net = format!("127.0.0.1@{IRC}");

    // disco#items on the network JID is the channel list, paged with XEP-0059.
    let page = alice.iq(
        &format!("<iq type='get' id='l1' to='{net}'><query xmlns='http://jabber.org/protocol/disco#items'>\
                  <set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>"),
        "l1",
        Duration::from_secs(30),
    );
    let query = page
        .get_child("query", "http://jabber.org/protocol/disco#items")
        .unwrap_or_else(|| panic!("no items: {}", String::from(&page)));
    let items: Vec<String> = query
        .children()
        .filter(|c| c.name() == "item")
        .filter_map(|c| c.attr("jid").map(str::to_string))
        .collect();
    assert_eq!(
        items,
        [room("#alpha"), room("#beta")],
        "{}",
        String::from(&page)
    );
    let set = query
        .get_child("set", "http://jabber.org/protocol/rsm")
        .expect("an RSM set");
    assert_eq!(
        set.get_child("count", "http://jabber.org/protocol/rsm")
            .map(Element::text)
            .as_deref(),
        Some("3")
    );
    let last = set
        .get_child("last", "http://jabber.org/protocol/rsm")
        .map(Element::text)
        .unwrap();
    let next = alice.iq(
        &format!("<iq type='get' id='l2' to='{net}'><query xmlns='http://jabber.org/protocol/disco#items'>\
                  <set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>{last}</after></set></query></iq>"),
        "l2",
        T,
    );
    assert!(
        String::from(&next).contains(&room("#gamma")),
        "{}",
        String::from(&next)
    );

    // The MOTD arrived as a message from the network JID when the connection registered.
    let motd = alice.expect(T, "the MOTD", |s| {
        s.name() == "message" && s.attr("from") == Some(net.as_str())
    });
    assert!(!body(&motd).is_empty());

    // A message to the network JID is a raw IRC command, one per line.
    alice.send(&format!(
        "<message type='chat' to='{net}'><body>PRIVMSG carol :raw hello</body></message>"
    ));
    carol.expect(T, "the raw PRIVMSG", |l| {
        l.is_message("alice", "carol", "raw hello")
    });
}

#[test]
fn per_network_settings_with_a_nickserv_password() {
    let rig = rig("irc-configure");
    let nickserv = IrcClient::connect(rig.ircd.port(), "NickServ");
    let alice = rig.user("alice");
    let net = format!("127.0.0.1@{IRC}");
    let commands = "http://jabber.org/protocol/commands";

    let list = alice.iq(
        &format!("<iq type='get' id='c0' to='{net}'><query xmlns='http://jabber.org/protocol/disco#items' node='{commands}'/></iq>"),
        "c0",
        T,
    );
    assert!(
        String::from(&list).contains("node=\"configure\"")
            || String::from(&list).contains("node='configure'"),
        "{}",
        String::from(&list)
    );
    let form = alice.iq(&format!("<iq type='set' id='c1' to='{net}'><command xmlns='{commands}' node='configure' action='execute'/></iq>"), "c1", T);
    let cmd = form.get_child("command", commands).expect("a command");
    assert_eq!(cmd.attr("status"), Some("executing"));
    let sid = cmd.attr("sessionid").unwrap().to_string();
    let done = alice.iq(
        &format!(
            "<iq type='set' id='c2' to='{net}'><command xmlns='{commands}' node='configure' sessionid='{sid}'>\
             <x xmlns='jabber:x:data' type='submit'><field var='nick'><value>ali</value></field>\
             <field var='nickserv_password'><value>s3cret</value></field></x></command></iq>"
        ),
        "c2",
        T,
    );
    assert_eq!(
        done.get_child("command", commands)
            .and_then(|c| c.attr("status")),
        Some("completed"),
        "{}",
        String::from(&done)
    );

    // A bad nick is refused with a clear error.
    let bad = alice.iq(
        &format!(
            "<iq type='set' id='c3' to='{net}'><command xmlns='{commands}' node='configure'>\
             <x xmlns='jabber:x:data' type='submit'><field var='nick'><value>bad nick!</value></field></x></command></iq>"
        ),
        "c3",
        T,
    );
    assert_eq!(
        error_condition(&bad).as_deref(),
        Some("not-acceptable"),
        "{}",
        String::from(&bad)
    );

    // The next connection uses them: the configured nick (210: not the one asked), and
    // IDENTIFY to NickServ.
    let r = room("#conf");
    alice.send(&format!(
        "<presence to='{r}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let own = alice.expect(T, "the self-presence as ali", |s| {
        s.attr("from") == Some(&format!("{r}/ali")) && statuses(s).contains(&"110".to_string())
    });
    assert!(
        statuses(&own).contains(&"210".to_string()),
        "{}",
        String::from(&own)
    );
    nickserv.expect(T, "IDENTIFY", |l| {
        l.is_message("ali", "NickServ", "IDENTIFY s3cret")
    });

    // The form shows the nick again, never the password; nothing logged it.
    let again = alice.iq(
        &format!(
            "<iq type='set' id='c4' to='{net}'><command xmlns='{commands}' node='configure'/></iq>"
        ),
        "c4",
        T,
    );
    let xml = String::from(&again);
    assert!(
        xml.contains("<value>ali</value>") && !xml.contains("s3cret"),
        "{xml}"
    );
    assert!(
        !rig.gw.log().contains("s3cret"),
        "the password must not be logged"
    );
}

/// Every byte of the gateway's database files (the main file and its write-ahead log).
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    ["switchboard.db", "switchboard.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .flatten()
        .collect()
}

#[test]
fn stored_passwords_are_sealed_and_still_used_after_a_restart() {
    let mut rig = rig("irc-sealed");
    let nickserv = IrcClient::connect(rig.ircd.port(), "NickServ");
    let net = format!("127.0.0.1@{IRC}");
    let r = room("#sealed");
    {
        let alice = rig.user("alice");
        let done = run_command(
            &alice,
            &net,
            "configure",
            &[("nickserv_password", "Pa55-w0rd-9z")],
        );
        assert!(
            String::from(&done).contains("completed"),
            "{}",
            String::from(&done)
        );
        alice.send(&format!(
            "<presence to='{r}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ));
        nickserv.expect(T, "IDENTIFY with the password", |l| {
            l.is_message("alice", "NickServ", "IDENTIFY Pa55-w0rd-9z")
        });
    }
    // A copy of the database alone does not hold the password.
    let bytes = database_bytes(rig._dir.path());
    assert!(!bytes.is_empty(), "the database files exist");
    assert!(
        !bytes.windows(12).any(|w| w == b"Pa55-w0rd-9z"),
        "the password must not be stored in clear"
    );
    assert!(
        bytes.windows(10).any(|w| w == b"sealed:v1:"),
        "the password is stored sealed"
    );

    // After a restart the sealed password opens and is used again.
    rig.gw
        .sigterm_and_wait(Duration::from_secs(10))
        .expect("the gateway stops");
    rig.gw = Gateway::start(rig._dir.path(), &rig.config);
    let alice = rig.user("alice");
    alice.send(&format!(
        "<presence to='{r}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    nickserv.expect(T, "IDENTIFY after the restart", |l| {
        l.is_message("alice", "NickServ", "IDENTIFY Pa55-w0rd-9z")
    });

    // Under another storage secret the sealed password no longer opens: it is dropped
    // (with a warning) rather than sent wrong.
    rig.gw
        .sigterm_and_wait(Duration::from_secs(10))
        .expect("the gateway stops");
    let other = rig.config.replacen(
        "storage: \"sqlite://switchboard.db\"",
        "storage: \"sqlite://switchboard.db\"\nstorage_secret: \"another-secret-of-16+\"",
        1,
    );
    drop(alice);
    rig.gw = Gateway::start(rig._dir.path(), &other);
    let alice = rig.user("alice");
    alice.send(&format!(
        "<presence to='{r}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    alice.expect(T, "the self-presence", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && statuses(s).contains(&"110".to_string())
    });
    rig.gw.wait_for_log("A stored secret does not open", T);
    assert!(!rig.gw.log().contains("Pa55-w0rd-9z"));
}

#[test]
fn tls_verifies_certificates_unless_told_not_to() {
    let rig = rig_with("irc-tls", |_| {
        "  networks:\n    strict: {host: 127.0.0.1, port: @TLS_PORT@, tls: true}\n    lax: {host: 127.0.0.1, port: @TLS_PORT@, tls: true, tls_verify: false, throttle: false}\n".into()
    });
    let alice = rig.user("alice");

    // A self-signed certificate is refused by default, with the TLS reason.
    let e = join_error(&alice, &format!("#sec%strict@{IRC}"), "alice", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("remote-server-not-found"),
        "{}",
        String::from(&e)
    );
    assert!(String::from(&e).contains("TLS"), "{}", String::from(&e));

    // With tls_verify: false the same server works, over TLS.
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#sec");
    let r = format!("#sec%lax@{IRC}");
    join(&alice, &r, "alice");
    groupchat(&alice, &r, "t1", "over tls");
    carol.expect(T, "the message sent over TLS", |l| {
        l.is_message("alice", "#sec", "over tls")
    });
}

#[test]
fn a_silent_server_is_pinged_then_dropped_and_rejoined() {
    let rig = rig_with("irc-ping", |_| {
        "  default: {keepalive: 1s}\n  networks:\n    \"127.0.0.1\": {port: @PORT@, tls: false, throttle: false}\n".into()
    });
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#ping");
    let alice = rig.user("alice");
    let r = room("#ping");
    join(&alice, &r, "alice");
    // Quiet for several keepalive periods: pings keep the connection up.
    std::thread::sleep(Duration::from_secs(3));
    alice.expect_none(Duration::from_millis(100), |s| {
        s.attr("from") == Some(IRC) && s.get_child("show", NS_CLIENT).is_some()
    });

    // The server freezes: no answer to the ping, the connection is dropped.
    let pid = rig.ircd.pid().expect("InspIRCd runs").to_string();
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill");
    };
    signal("-STOP");
    let down = alice.expect(T, "the transport away", |s| {
        s.attr("from") == Some(IRC) && s.get_child("show", NS_CLIENT).is_some()
    });
    assert!(
        String::from(&down).contains("not connected"),
        "{}",
        String::from(&down)
    );
    signal("-CONT");
    alice.expect(
        Duration::from_secs(40),
        "the room again after the reconnect",
        |s| {
            s.attr("from") == Some(&format!("{r}/alice"))
                && statuses(s).contains(&"110".to_string())
                && s.attr("type").is_none()
        },
    );
    assert!(
        rig.gw.log().contains("no answer from the server"),
        "{}",
        rig.gw.log()
    );
    drop(carol);
}

#[test]
fn several_resources_share_one_connection() {
    let rig = rig_with("irc-resources", |_| {
        "  max_connections_per_network: 1\n  networks:\n    \"127.0.0.1\": {port: @PORT@, tls: false, throttle: false}\n".into()
    });
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#multi");
    let phone = rig.user("alice");
    let laptop = rig.user("alice");
    let r = room("#multi");
    join(&phone, &r, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // The second resource gets the room from the gateway; IRC sees no second JOIN.
    join(&laptop, &r, "alice");
    laptop.expect(T, "carol in the occupant list", |s| {
        s.attr("from") == Some(&format!("{r}/carol"))
    });
    carol.expect_none(Duration::from_millis(500), |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // Both resources receive; a message from one is reflected to both, sent once.
    carol.privmsg("#multi", "to both");
    for agent in [&phone, &laptop] {
        agent.expect(T, "carol's message", |s| body(s) == "to both");
    }
    groupchat(&phone, &r, "p1", "from the phone");
    carol.expect(T, "the message", |l| {
        l.is_message("alice", "#multi", "from the phone")
    });
    for agent in [&phone, &laptop] {
        agent.expect(T, "the reflection", |s| {
            s.attr("id") == Some("p1") && body(s) == "from the phone"
        });
    }
    carol.expect_none(Duration::from_millis(300), |l| {
        l.privmsg_text() == Some("from the phone")
    });

    // One connection per network at most here: bob is refused with a clear error.
    let bob = rig.user("bob");
    let e = join_error(&bob, &r, "bob", None);
    assert_eq!(
        error_condition(&e).as_deref(),
        Some("policy-violation"),
        "{}",
        String::from(&e)
    );

    // One resource leaving is not a PART; the other stays in and can speak.
    phone.send(&format!("<presence type='unavailable' to='{r}/alice'/>"));
    phone.expect(T, "the phone's own unavailable", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && s.attr("type") == Some("unavailable")
    });
    carol.expect_none(Duration::from_millis(500), |l| l.command == "PART");
    groupchat(&laptop, &r, "l1", "still here");
    carol.expect(T, "the laptop's message", |l| {
        l.is_message("alice", "#multi", "still here")
    });

    // Shutdown: the room says goodbye (110 + 332) and IRC sees a QUIT, not a ping timeout.
    let mut rig = rig;
    let status = rig
        .gw
        .sigterm_and_wait(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success());
    let bye = laptop.expect(T, "the room closing", |s| {
        s.attr("from") == Some(&format!("{r}/alice")) && s.attr("type") == Some("unavailable")
    });
    assert!(
        statuses(&bye).contains(&"332".to_string()),
        "{}",
        String::from(&bye)
    );
    carol.expect(T, "alice's QUIT", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
}

/// carol on IRC and alice through the gateway, both in `chan`.
fn carol_and_alice_in(rig: &Rig, chan: &str) -> (IrcClient, Agent) {
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join(chan);
    let alice = rig.user("alice");
    join(&alice, &room(chan), "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    (carol, alice)
}

/// The gateway's CTCP answers: a burst of 3, then one per 2 s (`conn/state/ctcp.rs`).
const CTCP_BURST: usize = 3;
const CTCP_REFILL: Duration = Duration::from_secs(2);

/// A CTCP answer from `nick` to `client`, as `(command, rest)`.
fn ctcp_answer(client: &IrcClient, nick: &str) -> (String, String) {
    let l = client.expect(T, "a CTCP answer", |l| {
        l.command == "NOTICE"
            && l.is_from(nick)
            && l.param(1).is_some_and(|t| t.starts_with('\x01'))
    });
    let text = l.param(1).unwrap().trim_matches('\x01').to_string();
    let (command, rest) = text.split_once(' ').unwrap_or((&text, ""));
    (command.to_string(), rest.to_string())
}

#[test]
fn ctcp_version_ping_and_time_are_answered_within_the_flood_limits() {
    let rig = rig("irc-ctcp");
    let (carol, alice) = carol_and_alice_in(&rig, "#ctcp");

    carol.privmsg("alice", "\x01VERSION\x01");
    let (command, version) = ctcp_answer(&carol, "alice");
    assert_eq!(command, "VERSION");
    assert!(version.starts_with("Switchboard "), "{version}");
    std::thread::sleep(CTCP_REFILL); // the bucket refills one answer per 2 s
    carol.privmsg("alice", "\x01PING 1765130000 123\x01");
    assert_eq!(
        ctcp_answer(&carol, "alice"),
        ("PING".into(), "1765130000 123".into())
    );
    std::thread::sleep(CTCP_REFILL);
    carol.privmsg("alice", "\x01TIME\x01");
    let (command, time) = ctcp_answer(&carol, "alice");
    assert_eq!(command, "TIME");
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");
    // Nothing of it reaches the XMPP user as a message.
    alice.expect_none(Duration::from_millis(300), |s| {
        s.name() == "message" && (body(s).contains("VERSION") || body(s).contains("PING"))
    });

    // A flood of requests gets at most a burst of answers, and the connection stays.
    std::thread::sleep(CTCP_REFILL * 2);
    for i in 0..20 {
        carol.privmsg("alice", &format!("\x01PING {i}\x01"));
    }
    let mut answers = 0;
    while carol
        .try_expect(Duration::from_millis(1500), |l| {
            l.command == "NOTICE" && l.is_from("alice")
        })
        .is_some()
    {
        answers += 1;
    }
    assert!(
        (1..=CTCP_BURST + 1).contains(&answers),
        "{answers} answers to 20 requests"
    );
    carol.privmsg("#ctcp", "still here?");
    alice.expect(T, "the channel still relayed", |s| body(s) == "still here?");
    // A CTCP to the channel is not answered.
    std::thread::sleep(CTCP_REFILL * 2);
    carol.privmsg("#ctcp", "\x01VERSION\x01");
    carol.expect_none(Duration::from_millis(800), |l| {
        l.command == "NOTICE" && l.is_from("alice")
    });
}

#[test]
fn ctcp_requests_go_unanswered_when_turned_off() {
    let rig = rig_with("irc-ctcp-off", |_| {
        "  ctcp_replies: false\n  networks:\n    \"127.0.0.1\": {port: @PORT@, tls: false, throttle: false}\n".into()
    });
    let (carol, alice) = carol_and_alice_in(&rig, "#ctcp");
    carol.privmsg("alice", "\x01VERSION\x01");
    carol.expect_none(Duration::from_millis(1000), |l| {
        l.command == "NOTICE" && l.is_from("alice")
    });
    // The user is still reachable.
    carol.privmsg("alice", "hello");
    alice.expect(T, "the private message", |s| body(s) == "hello");
}

/// `WHOIS nick` from `client`: the away text, if the server says the nick is away.
fn whois_away(client: &IrcClient, nick: &str) -> Option<String> {
    client.send(&format!("WHOIS {nick}"));
    let mut away = None;
    loop {
        let l = client.expect(T, "the WHOIS reply", |l| {
            matches!(l.command.as_str(), "301" | "318")
        });
        match l.command.as_str() {
            "301" => away = l.param(2).map(str::to_string),
            _ => return away,
        }
    }
}

#[test]
fn the_user_s_away_and_status_reach_irc_as_away() {
    let rig = rig("irc-away");
    let (carol, alice) = carol_and_alice_in(&rig, "#away");
    assert_eq!(whois_away(&carol, "alice"), None);

    alice.send(&format!(
        "<presence to='{IRC}'><show>away</show><status>at lunch\nback soon</status></presence>"
    ));
    let deadline = std::time::Instant::now() + T;
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        seen = whois_away(&carol, "alice");
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The status on one line: a line break in it cannot start an IRC command.
    assert_eq!(seen.as_deref(), Some("at lunch back soon"));

    // Do not disturb without a status text gets a default one.
    alice.send(&format!("<presence to='{IRC}'><show>dnd</show></presence>"));
    let deadline = std::time::Instant::now() + T;
    while whois_away(&carol, "alice").as_deref() != Some("Do not disturb") {
        assert!(
            std::time::Instant::now() < deadline,
            "dnd never reached IRC"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Back: AWAY without text.
    alice.send(&format!("<presence to='{IRC}'/>"));
    let deadline = std::time::Instant::now() + T;
    while whois_away(&carol, "alice").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "alice never came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
