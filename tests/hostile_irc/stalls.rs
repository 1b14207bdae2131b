//! One user's hostile server (it stops reading; it never answers LIST) delays only that
//! user: another user keeps talking with a real InspIRCd at normal latency.

use super::fake_ircd::{Conn, FakeIrcd};
use super::rig::*;
use crate::common::{error_condition, error_text, join_room, NS_CLIENT};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_server_that_stops_reading_delays_only_its_own_user() {
    // The server answers bob's JOIN, then never reads again and keeps sending long PINGs:
    // the PONGs fill the socket buffers (a zero TCP window).
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = stalled.clone();
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() || !c.welcome_and_join("#stall", "") {
            return;
        }
        let ping = format!("PING :{}", "p".repeat(8000));
        let end = Instant::now() + Duration::from_secs(90);
        while Instant::now() < end && !c.stop.load(Ordering::Relaxed) {
            if !c.send(std::slice::from_ref(&ping)) {
                // The gateway stopped reading too: it is stuck writing to us.
                flag.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    let t = beside_live(
        "hostile-stall",
        "stall",
        server.port,
        "  default: {write_timeout: 8s}\n  limits: {command_queue: 50}\n",
    );
    let (rig, carol, alice, live) = (&t.rig, &t.carol, &t.alice, &t.live);
    let mut normal = Vec::new();
    for n in 0..3 {
        normal.push(round_trip(alice, carol, live, n));
    }

    let bob = rig.user("bob");
    let stall = format!("#stall%stall@{IRC}");
    join_room(&bob, &stall, "bob");
    wait_until(T, "the stalled server's buffers to fill", || {
        stalled.load(Ordering::SeqCst)
    });
    let stall_started = Instant::now();
    // Bob sends many subject changes to the room whose server does not read.
    for i in 0..300 {
        bob.send(&format!(
            "<message type='groupchat' id='s{i}' to='{stall}'><subject>topic {i}</subject></message>"
        ));
    }
    let refused = bob.expect(T, "a subject change refused", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("remote-server-timeout")
    );
    assert!(
        error_text(&refused).contains("waiting for this IRC network"),
        "{}",
        error_text(&refused)
    );
    // Meanwhile alice talks with carol as before.
    let mut during = Vec::new();
    for n in 10..20 {
        during.push(round_trip(alice, carol, live, n));
    }
    let worst = during.iter().map(|(a, b)| *a.max(b)).max().unwrap();
    let worst_before = normal.iter().map(|(a, b)| *a.max(b)).max().unwrap();
    eprintln!(
        "alice <-> carol while bob's server stalls: worst {worst:?} (before the stall {worst_before:?}); each (to IRC, to XMPP): {during:?}"
    );
    assert!(worst < Duration::from_secs(2), "{during:?}");
    // Bob's connection is declared lost after the write timeout, and reconnects.
    wait_until(Duration::from_secs(60), "bob's reconnection", || {
        server.accepted() >= 2
    });
    eprintln!(
        "bob's connection lost and reconnected {:?} after the stall",
        stall_started.elapsed()
    );
    assert!(rig.counter("switchboard_irc_limit_write_timeout_total") >= 1);
    assert!(rig.counter("switchboard_irc_limit_command_queue_total") >= 1);
    round_trip(alice, carol, live, 99);
}

#[test]
fn a_list_that_never_ends_delays_only_its_user_and_a_full_lane_says_wait() {
    // A server that registers bob and then answers nothing: LIST waits its 30 s on bob's
    // lane, not on the transport's loop.
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() {
            return;
        }
        let nick = c.nick.clone();
        c.send(&[format!(":fake.test 001 {nick} :Welcome")]);
        while c.line().is_some() {}
    });
    let t = beside_live("hostile-list", "silent", server.port, "");
    let (rig, carol, alice, live) = (&t.rig, &t.carol, &t.alice, &t.live);
    let bob = rig.user("bob");
    bob.send(&format!(
        "<iq type='get' id='list1' to='silent@{IRC}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"
    ));
    wait_until(T, "bob's connection", || server.accepted() >= 1);
    // Everything bob sends now waits behind the LIST; past his lane's bound, at once
    // `resource-constraint`.
    for i in 0..600 {
        bob.send(&format!(
            "<message type='chat' id='w{i}' to='silent@{IRC}'><body>WHOIS x</body></message>"
        ));
    }
    let refused = bob.expect(T, "a stanza refused: bob's lane is full", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("resource-constraint")
    );
    assert_eq!(
        refused
            .get_child("error", NS_CLIENT)
            .and_then(|e| e.attr("type")),
        Some("wait")
    );
    assert!(rig.counter("switchboard_transport_lane_full_total") >= 1);
    let mut during = Vec::new();
    for n in 0..10 {
        during.push(round_trip(alice, carol, live, n));
    }
    let worst = during.iter().map(|(a, b)| *a.max(b)).max().unwrap();
    eprintln!("alice <-> carol while bob's LIST waits: worst {worst:?}: {during:?}");
    assert!(worst < Duration::from_secs(2), "{during:?}");
    let answer = bob.expect(Duration::from_secs(40), "the LIST's timeout", |s| {
        s.name() == "iq" && s.attr("id") == Some("list1")
    });
    assert_eq!(
        answer.attr("type"),
        Some("error"),
        "{}",
        String::from(&answer)
    );
    assert!(
        error_text(&answer).contains("no channel list"),
        "{}",
        String::from(&answer)
    );
}
