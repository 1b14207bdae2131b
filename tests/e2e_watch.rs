//! The MUC service of the test Prosody (`conference.localhost`), as the digest tests need
//! it: a local user creates a room by joining it, the room is usable at once (unlocked),
//! and a later join with `<history since='…'/>` (how the gateway follows rooms) replays
//! what was said, with XEP-0203 delays, while `maxstanzas='0'` replays nothing.
//!
//! The gateway's side of watching (joining as `<transport>/digest`, observations, missed
//! messages) needs a bridge that uses the watcher; no test bridge does without faking, so
//! it is covered in-process (`src/transport/watch_tests.rs`) and end to end by the email
//! bridge's digest tests.

mod common;

use common::echo::{prosody, user, T};
use common::workdir;
use minidom::Element;
use std::time::Duration;

const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

fn join(history: &str, room_nick: &str) -> String {
    format!(
        "<presence to='{room_nick}'><x xmlns='http://jabber.org/protocol/muc'>{history}</x></presence>"
    )
}

fn is_self_presence(p: &Element) -> bool {
    p.name() == "presence"
        && p.get_child("x", MUC_USER).is_some_and(|x| {
            x.children()
                .any(|s| s.name() == "status" && s.attr("code") == Some("110"))
        })
}

fn is_groupchat_body(m: &Element, body: &str) -> bool {
    m.name() == "message"
        && m.attr("type") == Some("groupchat")
        && m.children().any(|c| c.name() == "body" && c.text() == body)
}

#[test]
fn rooms_are_created_by_joining_and_replay_history_since_a_time() {
    let dir = workdir("muc");
    let prosody = prosody(dir.path());
    let alice = user(dir.path(), &prosody, "alice@localhost");
    alice.send(&join(
        "<history maxstanzas='0'/>",
        "lobby@conference.localhost/alice",
    ));
    alice.expect(T, "alice's self-presence", is_self_presence);
    alice.send("<message type='groupchat' id='g1' to='lobby@conference.localhost'><body>hello room</body></message>");
    alice.expect(T, "the reflection", |m| is_groupchat_body(m, "hello room"));

    let admin = user(dir.path(), &prosody, "admin@localhost");
    admin.send(&join(
        "<history since='2000-01-01T00:00:00Z'/>",
        "lobby@conference.localhost/digest",
    ));
    let replayed = admin.expect(T, "the replayed message", |m| {
        is_groupchat_body(m, "hello room")
    });
    assert_eq!(
        replayed.attr("from"),
        Some("lobby@conference.localhost/alice")
    );
    assert!(
        replayed.get_child("delay", "urn:xmpp:delay").is_some(),
        "{}",
        String::from(&replayed)
    );
    admin.expect(T, "admin's self-presence", is_self_presence);

    // A user of another host may join a room that exists; maxstanzas='0' replays nothing.
    let mallory = user(dir.path(), &prosody, "mallory@other.localhost");
    mallory.send(&join(
        "<history maxstanzas='0'/>",
        "lobby@conference.localhost/quiet",
    ));
    mallory.expect(T, "the self-presence", is_self_presence);
    mallory.expect_none(Duration::from_millis(500), |m| {
        is_groupchat_body(m, "hello room")
    });
}
