//! End-to-end tests of persistent channels (bouncer mode): the channel `configure`
//! command, a channel kept joined on IRC while its user is away, highlights sent to the
//! bare JID meanwhile, the catch-up on return, XEP-0410 self-pings, and persistent
//! channels joined again after SIGKILL and SIGTERM. Real Prosody and InspIRCd, the
//! gateway binary, slixmpp users and a raw IRC client.

mod common;

use common::irc_gateway::IrcRig;
use common::muc::{join_with_history, leave, NS_DELAY};
use common::{body, run_command, Agent, Gateway, IrcClient};
use minidom::Element;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);
/// How soon a persistent channel must be joined again after a restart.
const REJOIN: Duration = Duration::from_secs(30);

/// Joins without `<history/>` and returns the bodies of the history lines.
fn join(agent: &Agent, room: &str, nick: &str) -> Vec<String> {
    join_with_history(agent, room, nick, "")
        .into_iter()
        .map(|(_, body, _)| body)
        .collect()
}

fn self_ping(agent: &Agent, room: &str, nick: &str) -> Element {
    let id = agent.new_id();
    agent.iq(
        &format!("<iq type='get' id='{id}' to='{room}/{nick}'><ping xmlns='urn:xmpp:ping'/></iq>"),
        &id,
        T,
    )
}

fn configure(agent: &Agent, room: &str, fields: &[(&str, &str)]) -> Element {
    let answer = run_command(agent, room, "configure", fields);
    let command = answer
        .get_child("command", "http://jabber.org/protocol/commands")
        .unwrap_or_else(|| panic!("no command answer: {}", String::from(&answer)));
    assert_eq!(
        command.attr("status"),
        Some("completed"),
        "{}",
        String::from(&answer)
    );
    answer
}

/// Waits until the newest line `agent` can read in `room`'s archive is `text`.
fn wait_archived(agent: &Agent, room: &str, text: &str) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let id = agent.new_id();
        agent.send(&format!(
            "<iq type='set' id='{id}' to='{room}'><query xmlns='urn:xmpp:mam:2' queryid='{id}'>\
             <set xmlns='http://jabber.org/protocol/rsm'><max>1</max><before/></set></query></iq>"
        ));
        let result = agent.expect(T, "a MAM result or the fin", |s| {
            s.attr("id") == Some(id.as_str())
                || s.get_child("result", "urn:xmpp:mam:2")
                    .is_some_and(|r| r.attr("queryid") == Some(id.as_str()))
        });
        if result.name() == "message" {
            let found = String::from(&result).contains(text);
            agent.expect(T, "the fin", |s| s.attr("id") == Some(id.as_str()));
            if found {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{text:?} was never archived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_persistent_channel_stays_joined_catches_up_and_comes_back_after_restarts() {
    let mut rig = IrcRig::start("irc-bouncer", IRC, SECRET, "  quit_grace: 1s\n");
    let room = format!("#b%127.0.0.1@{IRC}");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#b");
    let alice = rig.user("alice");

    // The form shows the settings as they are; a bad value is refused and changes nothing.
    let id = alice.new_id();
    let form = alice.iq(
        &format!("<iq type='set' id='{id}' to='{room}'><command xmlns='http://jabber.org/protocol/commands' node='configure' action='execute'/></iq>"),
        &id,
        T,
    );
    let xml = String::from(&form);
    assert!(
        xml.contains("var=\"persistent\"") || xml.contains("var='persistent'"),
        "{xml}"
    );
    assert!(
        xml.contains("var=\"record_history\"") || xml.contains("var='record_history'"),
        "{xml}"
    );
    let bad = run_command(&alice, &room, "configure", &[("persistent", "maybe")]);
    assert_eq!(
        common::error_condition(&bad).as_deref(),
        Some("not-acceptable"),
        "{}",
        String::from(&bad)
    );

    assert!(join(&alice, &room, "alice").is_empty());
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    carol.privmsg("#b", "before the break");
    alice.expect(T, "the live line", |s| body(s) == "before the break");
    configure(&alice, &room, &[("persistent", "true")]);

    // Leaving keeps the channel joined on IRC.
    leave(&alice, &room, "alice");
    carol.expect_none(Duration::from_millis(1500), |l| {
        matches!(l.command.as_str(), "PART" | "QUIT") && l.is_from("alice")
    });
    assert!(carol
        .names("#b")
        .iter()
        .any(|n| n.trim_start_matches(['@', '+']) == "alice"));
    // XEP-0410: the client is not in the room any more, and is told so.
    let ping = self_ping(&alice, &room, "alice");
    assert_eq!(
        common::error_condition(&ping).as_deref(),
        Some("not-acceptable"),
        "{}",
        String::from(&ping)
    );

    carol.privmsg("#b", "said while away");
    carol.privmsg("#b", "alice: are you there?");
    let hl = alice.expect(T, "the highlight as a chat message", |s| {
        s.name() == "message"
            && s.attr("type") == Some("chat")
            && body(s).contains("are you there?")
    });
    assert_eq!(hl.attr("from"), Some(room.as_str()));
    assert_eq!(body(&hl), "<carol> alice: are you there?");
    alice.expect_none(Duration::from_millis(300), |s| {
        s.name() == "message"
            && body(s) == "said while away"
            && s.get_child("delay", NS_DELAY).is_none()
    });

    // The return catches up with what was said since the leave, and only that.
    assert_eq!(
        join(&alice, &room, "alice"),
        ["said while away", "alice: are you there?"]
    );
    assert_eq!(
        self_ping(&alice, &room, "alice").attr("type"),
        Some("result")
    );

    // Recording off: lines still come live, without a stanza-id, and stay out of the archive.
    configure(&alice, &room, &[("record_history", "false")]);
    carol.privmsg("#b", "off the record");
    let live = alice.expect(T, "the unrecorded line", |s| body(s) == "off the record");
    assert!(
        live.get_child("stanza-id", "urn:xmpp:sid:0").is_none(),
        "{}",
        String::from(&live)
    );
    configure(&alice, &room, &[("record_history", "true")]);
    carol.privmsg("#b", "on the record");
    alice.expect(T, "the recorded line", |s| body(s) == "on the record");
    wait_archived(&alice, &room, "on the record");
    let id = alice.new_id();
    alice.send(&format!(
        "<iq type='set' id='{id}' to='{room}'><query xmlns='urn:xmpp:mam:2' queryid='{id}'/></iq>"
    ));
    alice.expect(T, "the fin", |s| s.attr("id") == Some(id.as_str()));
    alice.expect_none(Duration::from_millis(200), |s| {
        String::from(s).contains("off the record")
    });

    // SIGKILL: the channel is joined again without anyone asking.
    rig.gw.kill9();
    carol.expect(T, "alice's QUIT with the gateway", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
    rig.gw = Gateway::start(rig.dir.path(), &rig.config);
    carol.expect(REJOIN, "alice's JOIN after SIGKILL", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    // The gateway has the channel once IRC has sent the names (after the JOIN carol sees).
    rig.gw
        .wait_for_log("Channel joined while its user is away", T);
    alice.wait_for_service(IRC, T);
    let ping = self_ping(&alice, &room, "alice");
    assert_eq!(
        common::error_condition(&ping).as_deref(),
        Some("not-acceptable"),
        "after a restart the client must rejoin"
    );
    carol.privmsg("#b", "after the crash");
    // Away, alice may still read the archive: the line is stored before the next stop.
    wait_archived(&alice, &room, "after the crash");
    // SIGTERM as well.
    rig.gw
        .sigterm_and_wait(Duration::from_secs(15))
        .expect("the gateway stops on SIGTERM");
    carol.expect(T, "alice's QUIT on SIGTERM", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
    rig.gw = Gateway::start(rig.dir.path(), &rig.config);
    carol.expect(REJOIN, "alice's JOIN after SIGTERM", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    alice.wait_for_service(IRC, T);
    let back = join(&alice, &room, "alice");
    assert_eq!(
        back.last().map(String::as_str),
        Some("after the crash"),
        "{back:?}"
    );

    // No longer persistent while away: the channel is left at once.
    leave(&alice, &room, "alice");
    carol.expect_none(Duration::from_millis(500), |l| {
        l.command == "PART" && l.is_from("alice")
    });
    configure(&alice, &room, &[("persistent", "false")]);
    carol.expect(T, "alice's PART", |l| {
        matches!(l.command.as_str(), "PART" | "QUIT") && l.is_from("alice")
    });
    drop(rig);
}

/// The field values of a command's form stage, by `var`.
fn form_value(form: &Element, var: &str) -> Option<String> {
    let command = form.get_child("command", "http://jabber.org/protocol/commands")?;
    let x = command.get_child("x", "jabber:x:data")?;
    x.children()
        .find(|f| f.name() == "field" && f.attr("var") == Some(var))
        .map(|f| {
            f.get_child("value", "jabber:x:data")
                .map(|v| v.text())
                .unwrap_or_default()
        })
}

fn open_form(agent: &Agent, room: &str) -> Element {
    let id = agent.new_id();
    agent.iq(
        &format!("<iq type='set' id='{id}' to='{room}'><command xmlns='http://jabber.org/protocol/commands' node='configure' action='execute'/></iq>"),
        &id,
        T,
    )
}

#[test]
fn a_channel_reads_bytes_that_are_not_utf8_with_its_own_encoding() {
    let mut rig = IrcRig::start("irc-channel-encoding", IRC, SECRET, "");
    let cyr = format!("#cyr%127.0.0.1@{IRC}");
    let lat = format!("#lat%127.0.0.1@{IRC}");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#cyr");
    carol.join("#lat");
    let alice = rig.user("alice");

    // The channel form has the IRC bridge's field beside the core's, empty at first.
    let form = open_form(&alice, &cyr);
    assert_eq!(
        form_value(&form, "encoding_in").as_deref(),
        Some(""),
        "{}",
        String::from(&form)
    );
    assert!(form_value(&form, "persistent").is_some());
    // An encoding nobody knows is refused, naming the field, and nothing is stored.
    let bad = run_command(&alice, &cyr, "configure", &[("encoding_in", "klingon")]);
    assert_eq!(
        common::error_condition(&bad).as_deref(),
        Some("not-acceptable"),
        "{}",
        String::from(&bad)
    );
    assert!(
        common::error_text(&bad).contains("encoding_in"),
        "{}",
        String::from(&bad)
    );
    assert_eq!(
        form_value(&open_form(&alice, &cyr), "encoding_in").as_deref(),
        Some("")
    );

    // Set before the channel is joined (no connection yet): kept and applied when it opens.
    configure(&alice, &cyr, &[("encoding_in", "windows-1251")]);
    let form = open_form(&alice, &cyr);
    assert_eq!(
        form_value(&form, "encoding_in").as_deref(),
        Some("windows-1251")
    );
    assert_eq!(form_value(&form, "persistent").as_deref(), Some("false"));

    // "привет" in windows-1251: read with the channel's encoding in #cyr, and with the
    // network's (latin-1) in #lat.
    let cp1251: &[u8] = b"\xef\xf0\xe8\xe2\xe5\xf2";
    let line = |chan: &str| [format!("PRIVMSG {chan} :").as_bytes(), cp1251].concat();
    let said_in = |agent: &Agent, room: &str| {
        let got = agent.expect(T, "carol's line", |s| {
            s.attr("from") == Some(&format!("{room}/carol")) && !body(s).is_empty()
        });
        body(&got)
    };
    for room in [&cyr, &lat] {
        join(&alice, room, "alice");
    }
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    carol.send_bytes(&line("#cyr"));
    assert_eq!(said_in(&alice, &cyr), "привет");
    carol.send_bytes(&line("#lat"));
    assert_eq!(said_in(&alice, &lat), "ïðèâåò");
    // Valid UTF-8 stays UTF-8 in either.
    carol.privmsg("#cyr", "привет");
    assert_eq!(said_in(&alice, &cyr), "привет");

    // Changed while joined: applied at once; and it survives a restart of the gateway.
    configure(&alice, &lat, &[("encoding_in", "koi8-r")]);
    carol.send_bytes(&[b"PRIVMSG #lat :".as_slice(), b"\xd0\xd2\xc9\xd7\xc5\xd4"].concat());
    assert_eq!(said_in(&alice, &lat), "привет");
    rig.gw
        .sigterm_and_wait(Duration::from_secs(15))
        .expect("the gateway stops on SIGTERM");
    rig.gw = Gateway::start(rig.dir.path(), &rig.config);
    alice.wait_for_service(IRC, T);
    join(&alice, &cyr, "alice");
    carol.expect(T, "alice's JOIN after the restart", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    carol.send_bytes(&line("#cyr"));
    assert_eq!(said_in(&alice, &cyr), "привет");

    // Emptied: the network's fallback again.
    configure(&alice, &cyr, &[("encoding_in", "")]);
    carol.send_bytes(&line("#cyr"));
    assert_eq!(said_in(&alice, &cyr), "ïðèâåò");
    drop(rig);
}

/// Whether `needle` appears in any file of the gateway's database (main file and WAL).
fn in_database(dir: &std::path::Path, needle: &[u8]) -> bool {
    let files: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("switchboard.db")
        })
        .map(|e| std::fs::read(e.path()).unwrap_or_default())
        .collect();
    assert!(
        files.iter().any(|f| !f.is_empty()),
        "no database in {}",
        dir.display()
    );
    files
        .iter()
        .any(|f| f.windows(needle.len()).any(|w| w == needle))
}

#[test]
fn a_persistent_channel_with_a_key_comes_back_with_it_and_the_key_is_sealed() {
    let mut rig = IrcRig::start("irc-bouncer-key", IRC, SECRET, "");
    let room = format!("#k%127.0.0.1@{IRC}");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#k");
    carol.send("MODE #k +k opensesame");
    carol.expect(T, "the key set", |l| {
        l.command == "MODE" && l.param(0) == Some("#k")
    });
    let alice = rig.user("alice");
    join_with_history(&alice, &room, "alice", "<password>opensesame</password>");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    configure(&alice, &room, &[("persistent", "true")]);

    // SIGKILL: joined again with the stored key, which the database holds only sealed.
    rig.gw.kill9();
    carol.expect(T, "alice's QUIT with the gateway", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });
    assert!(
        in_database(rig.dir.path(), b"room:#k%127.0.0.1"),
        "the channel's settings are where this looks"
    );
    assert!(
        !in_database(rig.dir.path(), b"opensesame"),
        "the channel key is stored in clear"
    );
    rig.gw = Gateway::start(rig.dir.path(), &rig.config);
    carol.expect(REJOIN, "alice's JOIN with the key after SIGKILL", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    alice.wait_for_service(IRC, T);
    assert!(join(&alice, &room, "alice").is_empty());

    drop(rig);
}

#[test]
fn with_persistent_by_default_a_channel_stays_joined_until_configured_otherwise() {
    let rig = IrcRig::start(
        "irc-persistent-default",
        IRC,
        SECRET,
        "  persistent_by_default: true\n",
    );
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#pbd");
    let alice = rig.user("alice");
    let room = format!("#pbd%127.0.0.1@{IRC}");
    join(&alice, &room, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    // Never configured: the form says persistent, and leaving the room leaves IRC alone.
    assert_eq!(
        form_value(&open_form(&alice, &room), "persistent").as_deref(),
        Some("true")
    );
    leave(&alice, &room, "alice");
    carol.expect_none(Duration::from_secs(2), |l| {
        matches!(l.command.as_str(), "PART" | "QUIT") && l.is_from("alice")
    });
    carol.privmsg("#pbd", "said while alice was away");
    // Back: the line said meanwhile is caught up.
    let caught = join(&alice, &room, "alice");
    assert!(
        caught.iter().any(|b| b == "said while alice was away"),
        "{caught:?}"
    );
    // Configured otherwise, a leave is a PART again.
    configure(&alice, &room, &[("persistent", "false")]);
    leave(&alice, &room, "alice");
    carol.expect(T, "alice's PART", |l| {
        l.command == "PART" && l.is_from("alice")
    });
}
