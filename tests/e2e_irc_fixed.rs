//! End-to-end test of a gateway serving one IRC network (`irc.fixed_network`, biboumi's
//! fixed server): rooms `#chan@irc.localhost`, contacts `nick@irc.localhost`, the
//! network's messages and commands on the transport JID; a `%network` address refused; a
//! fixed network that is not listed refused at config check. Real Prosody and InspIRCd,
//! the gateway binary, a slixmpp user and a raw IRC client.

mod common;

use common::irc_gateway::IrcRig;
use common::{body, command_note, error_condition, join_room, run_command, workdir, IrcClient};
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(10);

#[test]
fn one_network_is_served_without_network_parts() {
    let rig = IrcRig::start("irc-fixed", IRC, SECRET, "  fixed_network: \"127.0.0.1\"\n");
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.join("#fx");
    let alice = rig.user("alice");

    let room = format!("#fx@{IRC}");
    join_room(&alice, &room, "alice");
    carol.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    // The connection's progress comes from the transport's own JID.
    alice.expect(T, "progress from the transport JID", |s| {
        s.name() == "message"
            && s.attr("from") == Some(IRC)
            && body(s) == "Connected to IRC server."
    });
    carol.privmsg("#fx", "hello room");
    alice.expect(T, "carol in the room", |s| {
        s.attr("from") == Some(format!("{room}/carol").as_str()) && body(s) == "hello room"
    });
    carol.privmsg("alice", "hello you");
    alice.expect(T, "carol in private", |s| {
        s.attr("from") == Some(format!("carol@{IRC}").as_str()) && body(s) == "hello you"
    });
    alice.send(&format!(
        "<message type='chat' to='carol@{IRC}'><body>hi carol</body></message>"
    ));
    carol.expect(T, "alice's private line", |l| {
        l.is_message("alice", "carol", "hi carol")
    });

    // Raw commands and the network's commands on the transport JID.
    alice.send(&format!(
        "<message type='chat' to='{IRC}'><body>PRIVMSG carol :raw hello</body></message>"
    ));
    carol.expect(T, "the raw PRIVMSG", |l| {
        l.is_message("alice", "carol", "raw hello")
    });
    let info = run_command(&alice, IRC, "get-irc-connection-info", &[]);
    assert!(
        command_note(&info).starts_with("Connected to IRC server 127.0.0.1 on port"),
        "{}",
        String::from(&info)
    );
    let saved = run_command(&alice, IRC, "configure", &[("realname", "Alice A")]);
    assert_eq!(command_note(&saved), "Saved.", "{}", String::from(&saved));

    // The channel list is disco#items on the transport JID.
    let list = alice.iq(
        &format!("<iq type='get' id='l1' to='{IRC}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"),
        "l1",
        Duration::from_secs(30),
    );
    assert!(
        String::from(&list).contains(&format!("jid='{room}'")),
        "{}",
        String::from(&list)
    );

    // A network part is refused: there is no other network here.
    alice.send(&format!(
        "<presence to='#fx%other@{IRC}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
    ));
    let refused = alice.expect(T, "the refusal", |s| {
        s.name() == "presence" && s.attr("type") == Some("error")
    });
    assert_eq!(error_condition(&refused).as_deref(), Some("jid-malformed"));
    assert!(common::error_text(&refused).contains("serves only"));
}

#[test]
fn a_fixed_network_that_is_not_listed_is_refused_naming_the_key() {
    let dir = workdir("irc-fixed-bad");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "xmpp:\n  server: \"127.0.0.1:5347\"\n  allow: [\"localhost\"]\nstorage: \"sqlite://x.db\"\nirc:\n  domain: irc.localhost\n  secret: s\n  fixed_network: libera\n  networks:\n    oftc: {port: 6697}\n",
    )
    .unwrap();
    let out = common::run_switchboard(&["check-config", "bad.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("irc.fixed_network"), "{stderr}");
}
