//! End-to-end test of netsplit debounce: two linked InspIRCd servers; the gateway's user on
//! one, carol on the other. A split healed within `irc.netsplit_hold` shows the XMPP user
//! nothing; a split that stays shows carol leaving once the hold is over. Real Prosody and
//! two InspIRCd, the gateway binary, a slixmpp user and raw IRC clients.

mod common;

use common::irc_gateway::{irc_gateway_yaml, irc_user};
use common::muc::statuses;
use common::{body, join_room, workdir, Gateway, Inspircd, IrcClient, Prosody};
use std::time::{Duration, Instant};

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(15);
const HOLD: Duration = Duration::from_secs(6);

/// Waits until `op` (on the first server) sees `nick` in `chan`: the servers are linked.
fn wait_linked(op: &IrcClient, chan: &str, nick: &str) {
    let deadline = Instant::now() + T;
    while !op
        .names(chan)
        .iter()
        .any(|n| n.trim_start_matches(['@', '+']) == nick)
    {
        assert!(
            Instant::now() < deadline,
            "the servers did not link within {T:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_healed_split_shows_nothing_and_a_lasting_one_shows_the_leave_after_the_hold() {
    let dir = workdir("irc-netsplit");
    let prosody = Prosody::start(
        dir.path(),
        &[(IRC, SECRET)],
        &[("alice", "localhost", "pw")],
    );
    let (a, mut b) = Inspircd::start_linked(dir.path());
    let keys = format!(
        "  netsplit_hold: {}s\n  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n",
        HOLD.as_secs(),
        a.port()
    );
    let _gw = Gateway::start(dir.path(), &irc_gateway_yaml(&prosody, IRC, SECRET, &keys));
    let op = IrcClient::connect(a.port(), "op");
    op.send("OPER oper operpass");
    op.expect(T, "381 (operator)", |l| l.command == "381");
    op.join("#split");
    let carol = IrcClient::connect(b.port(), "carol");
    carol.send("OPER oper operpass");
    carol.expect(T, "381 (operator)", |l| l.command == "381");
    carol.join("#split");
    op.send("CONNECT irc2.test");
    wait_linked(&op, "#split", "carol");

    let alice = irc_user(dir.path(), &prosody, "alice", IRC);
    let room = format!("#split%127.0.0.1@{IRC}");
    join_room(&alice, &room, "alice");
    let carol_jid = format!("{room}/carol");
    alice.expect(T, "carol's presence from the join", |s| {
        s.name() == "presence" && s.attr("from") == Some(carol_jid.as_str())
    });

    // The operators split the servers on both sides (InspIRCd keeps the link's socket open
    // after a SQUIT, so the other side would not notice for a long while), then link them
    // again.
    op.send("SQUIT irc2.test :netsplit test");
    let quit = op.expect(T, "carol's split QUIT", |l| {
        l.command == "QUIT" && l.is_from("carol")
    });
    assert_eq!(quit.param(0), Some("irc.test irc2.test"), "{}", quit.raw);
    carol.send("SQUIT irc.test :netsplit test");
    carol.expect(T, "op's split QUIT on the other side", |l| {
        l.command == "QUIT" && l.is_from("op")
    });
    op.send("CONNECT irc2.test");
    op.expect(T, "carol back (netjoin)", |l| {
        l.command == "JOIN" && l.is_from("carol")
    });
    // Longer than the hold: no leave, no join for carol.
    alice.expect_none(HOLD + Duration::from_secs(2), |s| {
        s.name() == "presence" && s.attr("from") == Some(carol_jid.as_str())
    });
    carol.privmsg("#split", "still here after the split");
    alice.expect(T, "carol's line after the split", |s| {
        s.attr("from") == Some(carol_jid.as_str()) && body(s) == "still here after the split"
    });

    // The other server dies and stays dead: carol is held, then leaves when the hold ends.
    b.kill9();
    let split_at = Instant::now();
    op.expect(T, "carol's second split QUIT", |l| {
        l.command == "QUIT" && l.is_from("carol")
    });
    let gone = alice.expect(HOLD + T, "carol leaving after the hold", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(carol_jid.as_str())
            && s.attr("type") == Some("unavailable")
    });
    let waited = split_at.elapsed();
    assert!(
        waited >= HOLD - Duration::from_secs(1),
        "carol left after {waited:?}, before the {HOLD:?} hold"
    );
    assert!(statuses(&gone).is_empty(), "{}", String::from(&gone));
}
