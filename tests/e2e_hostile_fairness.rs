//! A hostile IRC server floods one user's channel with PRIVMSGs as fast as the gateway
//! reads them; another user of the same transport keeps talking with a real InspIRCd at
//! normal latency: each login's events wait in a queue of their own and the transport
//! takes them in turn.

mod common;
#[allow(dead_code)]
#[path = "hostile_irc/fake_ircd.rs"]
mod fake_ircd;
#[allow(dead_code)]
#[path = "hostile_irc/rig.rs"]
mod rig;

use common::join_room;
use fake_ircd::{Conn, FakeIrcd};
use rig::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// PRIVMSGs the fake server sends per 100 ms.
const FLOOD_PER_100MS: usize = 30;

#[test]
fn a_privmsg_flood_for_one_user_delays_no_other() {
    let flooded = Arc::new(AtomicUsize::new(0));
    let count = flooded.clone();
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() || !c.welcome_and_join("#flood", "spam") {
            return;
        }
        // Bounded: 40 s at most, or until the test ends. Paced at what this loaded
        // machine's Prosody and XMPP clients can take (an unpaced flood measures their
        // speed, not the gateway's: the component link to the server is one FIFO).
        let end = Instant::now() + Duration::from_secs(40);
        let mut n = 0usize;
        while Instant::now() < end && !c.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let lines: Vec<String> = (n..n + FLOOD_PER_100MS)
                .map(|i| format!(":spam!s@fake.test PRIVMSG #flood :flood line {i}"))
                .collect();
            // A failed write (the gateway stopped reading for 2 s) just tries again.
            if c.send(&lines) {
                n += lines.len();
                count.store(n, Ordering::SeqCst);
            }
        }
    });
    let t = beside_live("hostile-fair", "flood", server.port, "");
    let (rig, carol, alice, live) = (&t.rig, &t.carol, &t.alice, &t.live);
    let mut normal = Vec::new();
    for n in 0..3 {
        normal.push(round_trip(alice, carol, live, n));
    }

    let bob = rig.user("bob");
    let flood = format!("#flood%flood@{IRC}");
    join_room(&bob, &flood, "bob");
    bob.expect(T, "the flood reaching bob", |s| {
        body(s).starts_with("flood line ")
    });
    // Well under way: the gateway reads the flood as fast as it turns it into stanzas.
    wait_until(T, "the flood under way", || {
        flooded.load(Ordering::SeqCst) >= 1_500
    });
    let flood_at = (Instant::now(), flooded.load(Ordering::SeqCst));
    let mut during = Vec::new();
    // For 5 s of flood (at most 200 round trips).
    for n in 10..210 {
        during.push(round_trip(alice, carol, live, n));
        if flood_at.0.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let lines = flooded.load(Ordering::SeqCst) - flood_at.1;
    let rate = lines as f64 / flood_at.0.elapsed().as_secs_f64();
    let worst = during.iter().map(|(a, b)| *a.max(b)).max().unwrap();
    let worst_before = normal.iter().map(|(a, b)| *a.max(b)).max().unwrap();
    let median = {
        let mut to_xmpp: Vec<Duration> = during.iter().map(|d| d.1).collect();
        to_xmpp.sort();
        to_xmpp[to_xmpp.len() / 2]
    };
    eprintln!(
        "alice <-> carol while bob's server floods ({rate:.0} PRIVMSG/s taken by the gateway): \
         worst {worst:?}, median to XMPP {median:?} (before the flood, worst {worst_before:?}); \
         {} round trips",
        during.len()
    );
    assert!(
        lines > 1_000,
        "the flood was too small to tell: {lines} lines"
    );
    assert!(worst < Duration::from_secs(1), "{during:?}");
    // The flood was taken, not dropped: bob still gets it.
    bob.expect(T, "more of the flood for bob", |s| {
        body(s)
            .strip_prefix("flood line ")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n >= flood_at.1)
    });
}
