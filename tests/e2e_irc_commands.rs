//! End-to-end tests of biboumi's ad-hoc commands on the IRC transport:
//! `get-irc-connection-info` on a network's JID, and `disconnect-user` (an admin ends a
//! user's IRC connections; the user's rooms close with 307, IRC sees the QUIT) and its
//! refusal to a user who is not an admin. Real Prosody and InspIRCd, the
//! gateway binary, slixmpp users and a raw IRC client.

mod common;
#[path = "hostile_irc/fake_ircd.rs"]
#[allow(dead_code)]
mod fake_ircd;

use common::irc_gateway::{irc_gateway_yaml, irc_user, IrcRig};
use common::muc::statuses;
use common::{
    command_note, error_condition, join_room, run_command, workdir, Gateway, IrcClient, Prosody,
};
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);

#[test]
fn connection_info_then_an_admin_disconnects_the_user() {
    let rig = IrcRig::start_with_xmpp(
        "irc-disconnect-user",
        IRC,
        SECRET,
        "",
        "  admins: [\"bob@localhost\"]\n",
    );
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#dc");
    let alice = rig.user("alice");
    let bob = rig.user("bob");
    let room = format!("#dc%127.0.0.1@{IRC}");
    let net = format!("127.0.0.1@{IRC}");

    // get-irc-connection-info on the network JID: listed, and true before and after.
    let list = alice.iq(
        &format!("<iq type='get' id='l1' to='{net}'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>"),
        "l1",
        T,
    );
    assert!(
        String::from(&list).contains("node='get-irc-connection-info'"),
        "{}",
        String::from(&list)
    );
    let info = run_command(&alice, &net, "get-irc-connection-info", &[]);
    assert_eq!(
        command_note(&info),
        "You are not connected to the IRC server 127.0.0.1",
        "{}",
        String::from(&info)
    );
    join_room(&alice, &room, "alice");
    let info = command_note(&run_command(&alice, &net, "get-irc-connection-info", &[]));
    let (first, second) = info.split_once('\n').unwrap_or((&info, ""));
    let prefix = format!(
        "Connected to IRC server 127.0.0.1 on port {} since ",
        rig.ircd.port()
    );
    assert!(first.starts_with(&prefix), "{info}");
    assert!(first.ends_with(" seconds ago)."), "{info}");
    let stamp = &first[prefix.len()..prefix.len() + 19];
    assert!(
        stamp.len() == 19 && &stamp[4..5] == "-" && &stamp[10..11] == " ",
        "{stamp}"
    );
    assert_eq!(second, "Channels: #dc");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // alice is no admin: refused, and nothing happens.
    let refused = run_command(
        &alice,
        IRC,
        "disconnect-user",
        &[("jid", "alice@localhost")],
    );
    assert_eq!(error_condition(&refused).as_deref(), Some("forbidden"));

    let done = run_command(&bob, IRC, "disconnect-user", &[("jid", "alice@localhost")]);
    assert_eq!(
        command_note(&done),
        "1 user has been disconnected.",
        "{}",
        String::from(&done)
    );
    let gone = alice.expect(T, "the room closing", |s| {
        s.name() == "presence"
            && s.attr("type") == Some("unavailable")
            && s.attr("from") == Some(format!("{room}/alice").as_str())
    });
    let codes = statuses(&gone);
    assert!(
        codes.contains(&"110".into()) && codes.contains(&"307".into()),
        "{codes:?}"
    );
    carol.expect(T, "alice's QUIT", |l| {
        l.command == "QUIT" && l.is_from("alice")
    });

    // A user with no session: nobody disconnected.
    let none = run_command(&bob, IRC, "disconnect-user", &[("jid", "nobody@localhost")]);
    assert_eq!(command_note(&none), "0 users have been disconnected.");
    // Joining again connects again.
    join_room(&alice, &room, "alice");
    carol.expect(T, "alice's JOIN again", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
}

#[test]
fn network_settings_send_after_connect_commands_and_read_their_encoding() {
    let rig = IrcRig::start("irc-network-settings", IRC, SECRET, "");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    let alice = rig.user("alice");
    let net = format!("127.0.0.1@{IRC}");

    // Refused, each naming its field: a JOIN among the commands, an unknown encoding.
    for (field, value) in [
        ("after_connect_commands", "WHO carol\nJOIN #sneaky"),
        ("encoding_in", "klingon"),
    ] {
        let e = run_command(&alice, &net, "configure", &[(field, value)]);
        assert_eq!(
            error_condition(&e).as_deref(),
            Some("not-acceptable"),
            "{field}: {}",
            String::from(&e)
        );
        assert!(
            common::error_text(&e).contains(field),
            "{}",
            String::from(&e)
        );
    }

    // Two commands as a text-multi field (two values), a fallback encoding and a server
    // password (InspIRCd here asks none, so it is ignored; it must not be logged).
    let id = alice.new_id();
    let first = alice.iq(
        &format!("<iq type='set' id='{id}' to='{net}'><command xmlns='http://jabber.org/protocol/commands' node='configure' action='execute'/></iq>"),
        &id,
        T,
    );
    let form = String::from(&first);
    assert!(
        form.contains("var='after_connect_commands'") && form.contains("type='text-multi'"),
        "{form}"
    );
    let sid = first
        .get_child("command", "http://jabber.org/protocol/commands")
        .and_then(|c| c.attr("sessionid"))
        .expect("a session id")
        .to_string();
    let id = alice.new_id();
    let done = alice.iq(
        &format!("<iq type='set' id='{id}' to='{net}'><command xmlns='http://jabber.org/protocol/commands' node='configure' sessionid='{sid}'>\
                  <x xmlns='jabber:x:data' type='submit'>\
                  <field var='after_connect_commands'><value>PRIVMSG carol :hello after connect</value><value>AWAY :set after connect</value></field>\
                  <field var='encoding_in'><value>koi8-r</value></field>\
                  <field var='pass'><value>s3cret-pass-word</value></field>\
                  </x></command></iq>"),
        &id,
        T,
    );
    assert_eq!(command_note(&done), "Saved.", "{}", String::from(&done));

    join_room(&alice, &format!("#ac%127.0.0.1@{IRC}"), "alice");
    carol.expect(T, "the first after-connect command", |l| {
        l.is_message("alice", "carol", "hello after connect")
    });
    // Bytes that are not UTF-8 are read as the network setting says (КОИ-8: "Привет").
    carol.send_bytes(b"PRIVMSG alice :\xf0\xd2\xc9\xd7\xc5\xd4");
    alice.expect(T, "the KOI8-R line", |s| {
        s.name() == "message"
            && s.attr("from") == Some(format!("carol%127.0.0.1@{IRC}").as_str())
            && common::body(s) == "Привет"
    });
    assert!(
        !rig.gw.log().contains("s3cret-pass-word"),
        "the password was logged"
    );
}

#[test]
fn a_server_password_is_sent_first() {
    let first = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = first.clone();
    let server = fake_ircd::FakeIrcd::start(move |mut c: fake_ircd::Conn| {
        if let Some(line) = c.line() {
            seen.lock().unwrap().push(line);
        }
        if !c.register() || !c.welcome_and_join("#x", "") {
            return;
        }
        while c.line().is_some() {}
    });
    let dir = workdir("irc-server-password");
    let prosody = Prosody::start(
        dir.path(),
        &[(IRC, SECRET)],
        &[("alice", "localhost", "pw")],
    );
    let keys = format!(
        "  networks:\n    fake: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
        server.port
    );
    let _gw = Gateway::start(dir.path(), &irc_gateway_yaml(&prosody, IRC, SECRET, &keys));
    let alice = irc_user(dir.path(), &prosody, "alice", IRC);
    let done = run_command(
        &alice,
        &format!("fake@{IRC}"),
        "configure",
        &[("pass", "letmein")],
    );
    assert_eq!(command_note(&done), "Saved.", "{}", String::from(&done));
    join_room(&alice, &format!("#x%fake@{IRC}"), "alice");
    let lines = first.lock().unwrap().clone();
    assert_eq!(
        lines.first().map(|l| l.trim_end()),
        Some("PASS :letmein"),
        "{lines:?}"
    );
}

#[test]
fn rooms_are_configured_through_muc_owner_too() {
    let rig = IrcRig::start("irc-muc-owner", IRC, SECRET, "");
    let alice = rig.user("alice");
    let room = format!("#cfg%127.0.0.1@{IRC}");
    join_room(&alice, &room, "alice");
    const OWNER: &str = "http://jabber.org/protocol/muc#owner";

    let form = alice.iq(
        &format!("<iq type='get' id='o1' to='{room}'><query xmlns='{OWNER}'/></iq>"),
        "o1",
        T,
    );
    let xml = String::from(&form);
    for var in ["persistent", "record_history", "encoding_in"] {
        assert!(xml.contains(&format!("var='{var}'")), "{var}: {xml}");
    }
    assert!(xml.contains("type='form'"), "{xml}");

    let set = |id: &str, fields: &str| {
        alice.iq(
            &format!("<iq type='set' id='{id}' to='{room}'><query xmlns='{OWNER}'><x xmlns='jabber:x:data' type='submit'>{fields}</x></query></iq>"),
            id,
            T,
        )
    };
    let saved = set(
        "o2",
        "<field var='persistent'><value>1</value></field><field var='encoding_in'><value>koi8-r</value></field>",
    );
    assert_eq!(
        saved.attr("type"),
        Some("result"),
        "{}",
        String::from(&saved)
    );
    // The configure command sees what muc#owner saved.
    let again = alice.iq(
        &format!("<iq type='set' id='o7' to='{room}'><command xmlns='http://jabber.org/protocol/commands' node='configure' action='execute'/></iq>"),
        "o7",
        T,
    );
    let xml = String::from(&again);
    assert!(
        xml.contains("var='persistent'><value>true</value>")
            || xml.contains("var='persistent'><value>1</value>"),
        "{xml}"
    );
    assert!(xml.contains("<value>koi8-r</value>"), "{xml}");

    // Refusals: an unknown field, a bad flag, a set without a form; a cancel is fine.
    let unknown = set("o3", "<field var='ports'><value>6667</value></field>");
    assert_eq!(error_condition(&unknown).as_deref(), Some("not-acceptable"));
    assert!(common::error_text(&unknown).contains("ports"));
    let bad = set("o4", "<field var='persistent'><value>maybe</value></field>");
    assert_eq!(error_condition(&bad).as_deref(), Some("not-acceptable"));
    let empty = alice.iq(
        &format!("<iq type='set' id='o5' to='{room}'><query xmlns='{OWNER}'/></iq>"),
        "o5",
        T,
    );
    assert_eq!(error_condition(&empty).as_deref(), Some("bad-request"));
    let cancel = alice.iq(
        &format!("<iq type='set' id='o6' to='{room}'><query xmlns='{OWNER}'><x xmlns='jabber:x:data' type='cancel'/></query></iq>"),
        "o6",
        T,
    );
    assert_eq!(cancel.attr("type"), Some("result"));
}
