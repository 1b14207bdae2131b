//! Attacks on the IRC transport from hostile IRC servers (small fake servers written here)
//! and from users' raw commands, against the real gateway binary, Prosody and InspIRCd:
//! memory stays bounded, one user's stalled server delays nobody else, and the limits
//! answer with a clear error and a counter.

mod common;
#[path = "hostile_irc/fake_ircd.rs"]
mod fake_ircd;

use common::{
    error_condition, error_text, expect_message_error, free_port, http_get, join_room, workdir,
    Agent, Gateway, Inspircd, IrcClient, Prosody, NS_CLIENT,
};
use fake_ircd::{Conn, FakeIrcd};
use minidom::Element;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const IRC: &str = "irc.localhost";
const SECRET: &str = "irc-secret";
const T: Duration = Duration::from_secs(20);

struct Rig {
    dir: tempfile::TempDir,
    prosody: Prosody,
    gw: Gateway,
    http: u16,
}

/// Prosody (users alice and bob) and the gateway with the `irc` keys given (besides
/// domain and secret), and its HTTP listener for /metrics.
fn rig(name: &str, irc_keys: &str) -> Rig {
    let dir = workdir(name);
    let prosody = Prosody::start(
        dir.path(),
        &[(IRC, SECRET)],
        &[("alice", "localhost", "pw"), ("bob", "localhost", "pw")],
    );
    let http = free_port();
    let config = format!(
        "xmpp:\n  server: \"127.0.0.1:{}\"\n  allow: [\"localhost\"]\nstorage: \"sqlite://switchboard.db\"\nhttp:\n  listen: \"127.0.0.1:{http}\"\nirc:\n  domain: {IRC}\n  secret: {SECRET}\n{irc_keys}",
        prosody.component_port()
    );
    let gw = Gateway::start(dir.path(), &config);
    Rig {
        dir,
        prosody,
        gw,
        http,
    }
}

impl Rig {
    fn user(&self, name: &str) -> Agent {
        let agent = Agent::connect(
            self.dir.path(),
            &format!("{name}@localhost"),
            "pw",
            self.prosody.c2s_port(),
            true,
        );
        agent.wait_for_service(IRC, T);
        agent
    }

    /// The value of a counter of the IRC transport in /metrics.
    fn counter(&self, name: &str) -> u64 {
        let (code, metrics) = http_get(self.http, "/metrics");
        assert_eq!(code, 200, "{metrics}");
        let prefix = format!("{name}{{domain=\"{IRC}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .parse()
            .unwrap()
    }

    /// The gateway's resident memory in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.gw.pid()))
            .expect("the gateway's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}

fn body(stanza: &Element) -> String {
    stanza
        .get_child("body", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

/// Waits (bounded) until `cond` holds.
fn wait_until(timeout: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A join presence for `room/nick`, not waiting for the answer.
fn send_join(agent: &Agent, room: &str, nick: &str) {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
}

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
