//! Attacks on the IRC transport from hostile IRC servers (small fake servers written here)
//! and from users' raw commands, against the real gateway binary, Prosody and InspIRCd:
//! memory stays bounded, one user's stalled server delays nobody else, and the limits
//! answer with a clear error and a counter.

mod common;
#[path = "hostile_irc/fake_ircd.rs"]
mod fake_ircd;
#[path = "hostile_irc/rig.rs"]
mod rig;
#[path = "hostile_irc/stalls.rs"]
mod stalls;

use common::{
    body, error_condition, error_text, expect_message_error, http_get, join_room, workdir,
    Inspircd, IrcClient,
};
use fake_ircd::{Conn, FakeIrcd};
use rig::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_motd_that_never_ends_keeps_memory_bounded() {
    let flooding = Arc::new(AtomicBool::new(false));
    let flag = flooding.clone();
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() {
            return;
        }
        let nick = c.nick.clone();
        c.send(&[format!(":fake.test 001 {nick} :Welcome")]);
        c.send(&[format!(
            ":fake.test 375 {nick} :- fake.test Message of the day -"
        )]);
        flag.store(true, Ordering::SeqCst);
        let line = format!(":fake.test 372 {nick} :- {}", "m".repeat(8000));
        let lines: Vec<String> = std::iter::repeat_n(line, 16).collect();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end && !c.stop.load(Ordering::Relaxed) {
            // No 376, ever.
            c.send(&lines);
        }
        flag.store(false, Ordering::SeqCst);
    });
    let rig = rig(
        "hostile-motd",
        &format!(
            "  networks:\n    flood: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
            server.port
        ),
    );
    let alice = rig.user("alice");
    let before = rig.rss_kib();
    send_join(&alice, &format!("#x%flood@{IRC}"), "alice");
    wait_until(T, "the MOTD flood to start", || {
        flooding.load(Ordering::SeqCst)
    });
    let started = Instant::now();
    let mut max = before;
    let mut slowest_health = Duration::ZERO;
    while flooding.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
        max = max.max(rig.rss_kib());
        let asked = Instant::now();
        let (code, health) = http_get(rig.http, "/healthz");
        slowest_health = slowest_health.max(asked.elapsed());
        assert_eq!(code, 200, "{health}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let dropped = rig.counter("switchboard_irc_limit_motd_total");
    eprintln!(
        "MOTD flood for {:?}: RSS before {before} KiB, max during {max} KiB (+{} KiB); \
         {dropped} MOTD lines dropped; slowest /healthz {slowest_health:?}",
        started.elapsed(),
        max - before
    );
    assert!(
        dropped > 1000,
        "the flood was too small to tell: {dropped} lines"
    );
    // 15 s at this rate is hundreds of MB when every line is kept.
    assert!(
        max - before < 40 * 1024,
        "RSS grew from {before} KiB to {max} KiB"
    );
    assert!(
        slowest_health < Duration::from_secs(1),
        "{slowest_health:?}"
    );
    // The transport is still up: another user's service answers.
    let bob = rig.user("bob");
    drop(bob);
}

#[test]
fn a_flood_of_server_text_reaches_the_user_only_up_to_the_bucket() {
    // After its welcome, the server sends 3000 numerics and notices the gateway has no use
    // for; each would be a message to the user's client.
    const FLOOD: usize = 3000;
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() || !c.welcome_and_join("#x", "") {
            return;
        }
        let nick = c.nick.clone();
        let lines: Vec<String> = (0..FLOOD)
            .map(|i| match i % 2 {
                0 => format!(":fake.test 251 {nick} :There are {i} users"),
                _ => format!(":fake.test NOTICE {nick} :*** notice {i}"),
            })
            .collect();
        c.send(&lines);
        while c.line().is_some() {}
    });
    let rig = rig(
        "hostile-server-text",
        &format!(
            "  networks:\n    loud: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
            server.port
        ),
    );
    let alice = rig.user("alice");
    join_room(&alice, &format!("#x%loud@{IRC}"), "alice");
    let net = format!("loud@{IRC}");
    let started = Instant::now();
    let mut passed = 0;
    while alice
        .try_expect(Duration::from_millis(1500), |s| {
            s.name() == "message"
                && s.attr("from") == Some(net.as_str())
                && body(s).contains("fake.test: ")
        })
        .is_some()
    {
        passed += 1;
    }
    let elapsed = started.elapsed();
    let dropped = rig.counter("switchboard_irc_limit_server_text_total");
    eprintln!("{passed} of {FLOOD} server lines passed on in {elapsed:?}; {dropped} dropped");
    // 64 at once, then 10 per second while the flood lasts.
    let allowed = 64 + 10 * (elapsed.as_secs() as usize + 1);
    assert!(
        passed >= 64 && passed <= allowed,
        "{passed} passed, {allowed} allowed"
    );
    assert!(dropped as usize >= FLOOD - allowed, "{dropped} dropped");
    // The user still reaches the channel.
    alice.send(&format!(
        "<message type='groupchat' to='#x%loud@{IRC}'><body>still here</body></message>"
    ));
    alice.expect(T, "the reflection", |s| body(s) == "still here");
}

#[test]
fn forced_joins_and_huge_names_lists_are_capped() {
    // After the join alice asked for, the server puts her in 200 channels she did not ask
    // for, and its NAMES list has 500 members.
    let parts = Arc::new(AtomicUsize::new(0));
    let parted_early = Arc::new(AtomicBool::new(false));
    let (count, early) = (parts.clone(), parted_early.clone());
    let server = FakeIrcd::start(move |mut c: Conn| {
        let names: Vec<String> = (0..500).map(|i| format!("u{i}")).collect();
        if !c.register() || !c.welcome_and_join("#asked", &names.join(" ")) {
            return;
        }
        let nick = c.nick.clone();
        let joins: Vec<String> = (0..200)
            .map(|i| format!(":{nick}!u@fake.test JOIN #forced{i}"))
            .collect();
        c.send(&joins);
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            let Some(line) = c.line() else { return };
            if let Some(chan) = line
                .strip_prefix("PART #forced")
                .and_then(|rest| rest.split(' ').next())
            {
                if chan.parse::<usize>().is_ok_and(|n| n < 10) {
                    early.store(true, Ordering::SeqCst);
                }
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let rig = rig(
        "hostile-forced",
        &format!(
            "  limits: {{members_per_channel: 50}}\n  networks:\n    forced: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
            server.port
        ),
    );
    let alice = rig.user("alice");
    let room = format!("#asked%forced@{IRC}");
    send_join(&alice, &room, "alice");
    // The occupants come before the self-presence: at most 50 members are kept.
    let mut occupants = 0;
    loop {
        let p = alice.expect(T, "occupants, then the self-presence", |s| {
            s.name() == "presence" && s.attr("from").is_some_and(|f| f.starts_with(&room))
        });
        if p.attr("from") == Some(&format!("{room}/alice")) {
            break;
        }
        occupants += 1;
    }
    assert_eq!(occupants, 49, "alice herself is the 50th member");
    wait_until(T, "190 forced channels left", || {
        parts.load(Ordering::SeqCst) >= 190
    });
    assert!(!parted_early.load(Ordering::SeqCst), "the first 10 stay");
    assert_eq!(rig.counter("switchboard_irc_limit_forced_join_total"), 190);
    assert_eq!(rig.counter("switchboard_irc_limit_members_total"), 451);
    // No PART beyond those: exactly 190 after a while.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(parts.load(Ordering::SeqCst), 190);
}

#[test]
fn a_flood_control_backlog_is_bounded_and_says_wait() {
    // Flood control lets one line through per 30 s: the backlog fills the flood-control
    // queue (5 lines), then the command queue (5), then the user is told to wait.
    let topics = Arc::new(AtomicUsize::new(0));
    let count = topics.clone();
    let server = FakeIrcd::start(move |mut c: Conn| {
        if !c.register() || !c.welcome_and_join("#slow", "") {
            return;
        }
        while let Some(line) = c.line() {
            if line.starts_with("TOPIC #slow") {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let rig = rig(
        "hostile-throttle",
        &format!(
            "  default: {{burst: 1, interval: 30s}}\n  limits: {{throttle_queue: 5, command_queue: 5}}\n  networks:\n    slow: {{host: 127.0.0.1, port: {}, tls: false}}\n",
            server.port
        ),
    );
    let alice = rig.user("alice");
    let room = format!("#slow%slow@{IRC}");
    // The JOIN itself takes the burst; the NAMES answer completes the join.
    join_room(&alice, &room, "alice");
    for i in 0..40 {
        alice.send(&format!(
            "<message type='groupchat' id='t{i}' to='{room}'><subject>topic {i}</subject></message>"
        ));
    }
    let refused = alice.expect(T, "a subject change refused", |s| {
        s.name() == "message" && s.attr("type") == Some("error")
    });
    assert!(
        error_text(&refused).contains("5 commands are waiting"),
        "{}",
        String::from(&refused)
    );
    wait_until(T, "the counters", || {
        rig.counter("switchboard_irc_limit_throttle_queue_total") >= 1
            && rig.counter("switchboard_irc_limit_command_queue_total") >= 28
    });
    assert!(
        topics.load(Ordering::SeqCst) <= 1,
        "flood control still holds"
    );
}

#[test]
fn raw_joins_count_against_max_channels_per_user() {
    let dir = workdir("hostile-rawjoin-ircd");
    let ircd = Inspircd::start(dir.path());
    let rig = rig(
        "hostile-rawjoin",
        &format!(
            "  max_channels_per_user: 3\n  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n",
            ircd.port()
        ),
    );
    let carol = IrcClient::connect(ircd.port(), "carol");
    for chan in ["#r1", "#r2", "#r3", "#r4"] {
        carol.join(chan);
    }
    let alice = rig.user("alice");
    let net = format!("127.0.0.1@{IRC}");
    alice.send(&format!(
        "<message type='chat' id='j1' to='{net}'><body>JOIN #r1,#r2,#r3,#r4</body></message>"
    ));
    let (condition, text) = expect_message_error(&alice, "j1", T);
    assert_eq!(condition, "policy-violation", "{text}");
    assert!(
        text.contains("would put you in 4 channels") && text.contains("at most 3"),
        "{text}"
    );
    assert_eq!(rig.counter("switchboard_irc_limit_raw_join_total"), 1);
    carol.expect_none(Duration::from_secs(1), |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    // Within the limit the raw JOIN works, keys and all, and counts.
    alice.send(&format!(
        "<message type='chat' id='j2' to='{net}'><body>join #r1,#r2 k1</body></message>"
    ));
    for chan in ["#r1", "#r2"] {
        carol.expect(T, "alice's raw JOIN", |l| {
            l.command == "JOIN" && l.is_from("alice") && l.param(0) == Some(chan)
        });
    }
    join_room(&alice, &format!("#r3%127.0.0.1@{IRC}"), "alice");
    send_join(&alice, &format!("#r4%127.0.0.1@{IRC}"), "alice");
    let refused = alice.expect(T, "the fourth join refused", |s| {
        s.name() == "presence" && s.attr("type") == Some("error")
    });
    assert_eq!(
        error_condition(&refused).as_deref(),
        Some("policy-violation")
    );
    // And once more raw: one channel more is one too many.
    alice.send(&format!(
        "<message type='chat' id='j3' to='{net}'><body>JOIN #r4</body></message>"
    ));
    let (condition, text) = expect_message_error(&alice, "j3", T);
    assert_eq!(condition, "policy-violation", "{text}");
    assert_eq!(rig.counter("switchboard_irc_limit_raw_join_total"), 2);
}

#[test]
fn a_capitalised_network_key_serves_lowercased_jids_on_one_connection() {
    let dir = workdir("hostile-case-ircd");
    let ircd = Inspircd::start(dir.path());
    let rig = rig(
        "hostile-case",
        &format!(
            "  networks:\n    Local: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
            ircd.port()
        ),
    );
    let carol = IrcClient::connect(ircd.port(), "carol");
    carol.join("#one");
    carol.join("#two");
    let alice = rig.user("alice");
    // The XMPP server lowercases the local part: the JIDs say `local`.
    join_room(&alice, &format!("#one%local@{IRC}"), "alice");
    carol.expect(T, "alice in #one", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });
    alice.send(&format!(
        "<message type='chat' id='p1' to='carol%local@{IRC}'><body>psst</body></message>"
    ));
    carol.expect(T, "alice's private message", |l| {
        l.is_message("alice", "carol", "psst")
    });
    join_room(&alice, &format!("#two%local@{IRC}"), "alice");
    carol.expect(T, "alice in #two", |l| {
        l.command == "JOIN" && l.is_from("alice") && l.param(0) == Some("#two")
    });
    carol.privmsg("#one", "still there?");
    alice.expect(T, "carol's line in #one", |s| body(s) == "still there?");
    // One connection all along: no QUIT, no second JOIN of #one.
    carol.expect_none(Duration::from_secs(1), |l| {
        l.is_from("alice") && (l.command == "QUIT" || l.param(0) == Some("#one"))
    });
}

#[test]
fn network_keys_equal_but_for_case_and_zero_limits_are_refused_naming_the_key() {
    let dir = workdir("hostile-case-config");
    let yaml = "xmpp: {server: \"127.0.0.1:5347\", allow: [\"example.org\"]}\n\
                storage: \"sqlite://x.db\"\n\
                irc:\n  domain: irc.example.org\n  secret: s\n  limits: {motd_lines: 0}\n  \
                networks: {Libera: {host: irc.libera.chat}, libera: {host: irc.libera.chat}}\n";
    std::fs::write(dir.path().join("case.yaml"), yaml).unwrap();
    let out = common::run_switchboard(&["check-config", "case.yaml"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("irc.networks.libera: the same network as 'Libera'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("irc.limits.motd_lines: must be at least 1"),
        "{stderr}"
    );
}
