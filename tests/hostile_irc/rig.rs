//! The rig of the hostile IRC tests: Prosody (alice and bob), the gateway with an `irc`
//! section of the test's, its counters in /metrics and its memory.

use crate::common::{
    free_port, http_get, join_room, workdir, Agent, Gateway, Inspircd, IrcClient, Prosody,
    NS_CLIENT,
};
use minidom::Element;
use std::time::{Duration, Instant};

pub const IRC: &str = "irc.localhost";
pub const SECRET: &str = "irc-secret";
pub const T: Duration = Duration::from_secs(20);

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub prosody: Prosody,
    pub gw: Gateway,
    pub http: u16,
}

/// Prosody (users alice and bob) and the gateway with the `irc` keys given (besides
/// domain and secret), and its HTTP listener for /metrics.
pub fn rig(name: &str, irc_keys: &str) -> Rig {
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

/// A hostile server beside a real one: the network `fake` (a fake server on `fake_port`)
/// and `live` (a real InspIRCd) on one gateway, carol on InspIRCd's `#live`, and alice
/// joined to it through the gateway, as the user whose latency the tests watch.
pub struct BesideLive {
    pub alice: Agent,
    pub carol: IrcClient,
    pub rig: Rig,
    /// `#live%live@irc.localhost`.
    pub live: String,
    _ircd: Inspircd,
    _dir: tempfile::TempDir,
}

/// [`BesideLive`]; `irc_keys` come before the `networks` key (limits, defaults).
pub fn beside_live(name: &str, fake: &str, fake_port: u16, irc_keys: &str) -> BesideLive {
    let dir = workdir(&format!("{name}-ircd"));
    let ircd = Inspircd::start(dir.path());
    let rig = rig(
        name,
        &format!(
            "{irc_keys}  networks:\n    {fake}: {{host: 127.0.0.1, port: {fake_port}, tls: false, throttle: false}}\n    live: {{host: 127.0.0.1, port: {}, tls: false, throttle: false}}\n",
            ircd.port()
        ),
    );
    let carol = IrcClient::connect(ircd.port(), "carol");
    carol.join("#live");
    let alice = rig.user("alice");
    let live = format!("#live%live@{IRC}");
    join_room(&alice, &live, "alice");
    BesideLive {
        alice,
        carol,
        rig,
        live,
        _ircd: ircd,
        _dir: dir,
    }
}

impl Rig {
    pub fn user(&self, name: &str) -> Agent {
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
    pub fn counter(&self, name: &str) -> u64 {
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
    pub fn rss_kib(&self) -> u64 {
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

pub fn body(stanza: &Element) -> String {
    stanza
        .get_child("body", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

/// Waits (bounded) until `cond` holds.
pub fn wait_until(timeout: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A join presence for `room/nick`, not waiting for the answer.
pub fn send_join(agent: &Agent, room: &str, nick: &str) {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
}

/// Latency of one message each way between alice (XMPP) and carol (IRC) in `room`.
pub fn round_trip(alice: &Agent, carol: &IrcClient, room: &str, n: usize) -> (Duration, Duration) {
    let sent = Instant::now();
    let text = format!("ping {n}");
    alice.send(&format!(
        "<message type='groupchat' id='r{n}' to='{room}'><body>{text}</body></message>"
    ));
    carol.expect(T, "alice's line", |l| l.is_message("alice", "#live", &text));
    let to_irc = sent.elapsed();
    let sent = Instant::now();
    let text = format!("pong {n}");
    carol.privmsg("#live", &text);
    alice.expect(T, "carol's line", |s| body(s) == text);
    (to_irc, sent.elapsed())
}
