//! Benchmark for issue 4: SMS per second from XMPP to Kannel through the gateway (durable
//! SQLite outbox, as in production) against Kannel's own `sendsms` rate from a plain HTTP
//! client, in one run, on one Kannel (real bearerbox + smsbox; the rig is the fake SMSC's
//! client and counts the MTs). `bench/sms.sh` runs it:
//!
//! ```sh
//! cargo test --release --test bench_sms -- --ignored --nocapture
//! ```
//!
//! Environment: `SMS_BENCH_N` messages per phase (default 2000), `SMS_BENCH_USERS`
//! concurrent senders (default 4), `SMS_BENCH_ROUNDS` (default 1: one direct phase, then
//! one gateway phase; more rounds alternate them and the medians are reported),
//! `SMS_BENCH_TIMEOUT` seconds for the whole test (default 300), `SMS_BENCH_DLR=0` to run
//! without delivery reports (`delivery_reports: false`, and no dlr-mask in phase A; the
//! default asks for them, as the gateway does by default), `RUST_LOG` for the gateway
//! (`info` when unset, unlike the other tests' `debug,switchboard=trace`). For diagnosis
//! only: `SMS_BENCH_DIRECT_PAUSE_US` makes each phase-A client pause after every answer,
//! and `SMS_BENCH_KANNEL_PRELOAD` (set by `bench/sms.sh` with `SMS_BENCH_KANNEL_NODELAY=1`)
//! starts Kannel with TCP_NODELAY forced on all its TCP sockets.
//!
//! - Phase A (direct): U threads, each one keep-alive HTTP/1.1 connection to smsbox (a new
//!   one only if smsbox closes it), each sending its share of the N messages one after the
//!   other: the same query the gateway sends (username, password, from, to, text,
//!   charset=UTF-8, coding=0, dlr-mask and dlr-url; the DLR references are the phase's own).
//! - Phase B (gateway): U XMPP users (slixmpp), each with its own number in `sms.numbers`,
//!   each sending its share as chat messages (no receipt asked) to its own phone contact.
//!
//! With delivery reports asked for, Kannel's fake SMSC reports every MT as delivered, so in
//! both phases smsbox also calls the
//! gateway's `/sms/kannel/dlr` once per message (phase A's references are unknown to the
//! gateway: one read each; phase B's are the gateway's own: the full report path).
//!
//! Both phases time from the first request (stanza) until every MT has reached the fake SMSC
//! (the rig's reader hands the last one over after 50 ms of quiet; those 50 ms are taken
//! off), and check that each message arrived exactly once with the right numbers. Before
//! each timed phase every sender sends one untimed warm-up message (it opens the HTTP
//! connections, and in phase B the user's gateway session, which is created by its first
//! message). Results go to stdout and to `bench/results/sms-<UTC timestamp>.txt`.

mod common;

use common::bench::{self, env_usize, median, missing, parse_tagged, repeated, tagged, tail, Run};
use common::kannel::Kannel;
use common::kannel_smsc::url_encode;
use common::procs::{self, pids_matching, Procs, SMS_RIVALS};
use common::sms::{
    config_with_numbers, contact, kannel as kannel_provider, metric, start_gateway, user,
    KANNEL_SECRET, SECRET, SMS,
};
use common::{free_port, workdir, Agent, Gateway, Prosody};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Kannel's delivery-report mask the gateway asks for (`bridges/sms/src/provider/kannel.rs`).
const DLR_MASK: &str = "19";
/// How long the rig's SMSC reader holds a GSM text MT when no further line follows.
const RIG_TEXT_HOLD: Duration = Duration::from_millis(50);

/// The user number of sender `u` (0-based) and the phone it texts.
fn numbers(u: usize) -> (String, String) {
    (
        format!("+1555100{:04}", u + 1),
        format!("+4917000{:04}", u + 1),
    )
}

/// The messages of sender `u`: a contiguous range of sequence numbers.
fn share(n: usize, users: usize, u: usize) -> std::ops::Range<usize> {
    let (base, extra) = (n / users, n % users);
    let start = u * base + u.min(extra);
    start..start + base + usize::from(u < extra)
}

fn sender_of(n: usize, users: usize, seq: usize) -> usize {
    (0..users)
        .find(|&u| share(n, users, u).contains(&seq))
        .expect("a sequence number within 0..n")
}

// ---------------------------------------------------------------------------------------
// A plain blocking HTTP/1.1 client with keep-alive.

struct KeepAlive {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    connects: u32,
}

enum Failure {
    /// Nothing of an answer was read: on a reused connection smsbox had closed it.
    NoAnswer(String),
    Broken(String),
}

impl KeepAlive {
    fn new(port: u16) -> KeepAlive {
        KeepAlive {
            port,
            conn: None,
            connects: 0,
        }
    }

    /// `GET path`: (status, body). A request that got no answer at all on a reused
    /// connection is sent once more on a new one.
    fn get(&mut self, path: &str) -> (u16, String) {
        for _ in 0..2 {
            let reused = self.conn.is_some();
            let conn = match self.conn.take() {
                Some(conn) => conn,
                None => {
                    let stream = TcpStream::connect(("127.0.0.1", self.port))
                        .unwrap_or_else(|e| panic!("connect to smsbox: {e}"));
                    stream.set_nodelay(true).ok();
                    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
                    self.connects += 1;
                    BufReader::new(stream)
                }
            };
            let mut conn = conn;
            match exchange(&mut conn, path) {
                Ok((code, body, keep)) => {
                    if keep {
                        self.conn = Some(conn);
                    }
                    return (code, body);
                }
                Err(Failure::NoAnswer(_)) if reused => continue,
                Err(Failure::NoAnswer(e) | Failure::Broken(e)) => {
                    panic!("GET {path} on smsbox: {e}")
                }
            }
        }
        unreachable!("the second attempt is on a new connection")
    }
}

fn exchange(conn: &mut BufReader<TcpStream>, path: &str) -> Result<(u16, String, bool), Failure> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    conn.get_mut()
        .write_all(request.as_bytes())
        .map_err(|e| Failure::NoAnswer(e.to_string()))?;
    let mut status = String::new();
    match conn.read_line(&mut status) {
        Ok(0) => return Err(Failure::NoAnswer("connection closed".into())),
        Ok(_) => {}
        Err(e) => return Err(Failure::NoAnswer(e.to_string())),
    }
    let broken = |e: std::io::Error| Failure::Broken(e.to_string());
    let mut parts = status.split_whitespace();
    let version = parts.next().unwrap_or_default().to_owned();
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Failure::Broken(format!("not an HTTP status line: {status:?}")))?;
    let mut keep = version == "HTTP/1.1";
    let mut length = None;
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).map_err(broken)? == 0 {
            return Err(Failure::Broken("closed within the headers".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (
            name.trim().to_ascii_lowercase(),
            value.trim().to_ascii_lowercase(),
        );
        match name.as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "connection" if value == "close" => keep = false,
            "connection" if value == "keep-alive" => keep = true,
            _ => {}
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            conn.read_exact(&mut body).map_err(broken)?;
        }
        None => {
            conn.read_to_end(&mut body).map_err(broken)?;
            keep = false;
        }
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned(), keep))
}

/// The sendsms request the gateway makes for one message, the same parameters in the same
/// order (`Kannel::query` in bridges/sms/src/provider/kannel.rs).
fn sendsms_path(from: &str, to: &str, text: &str, dlr_url: Option<&str>) -> String {
    let mut params = vec![
        ("username", Kannel::USER),
        ("password", Kannel::PASS),
        ("from", from),
        ("to", to),
        ("text", text),
        ("charset", "UTF-8"),
        ("coding", "0"),
    ];
    if let Some(dlr_url) = dlr_url {
        params.extend([("dlr-mask", DLR_MASK), ("dlr-url", dlr_url)]);
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v.as_bytes())))
        .collect();
    format!("/cgi-bin/sendsms?{}", query.join("&"))
}

// ---------------------------------------------------------------------------------------
// Counting the MTs at the fake SMSC.

struct Tally {
    /// Sequence number -> how often it arrived.
    seen: BTreeMap<usize, u32>,
    /// MTs that are not this phase's, or that came with the wrong numbers.
    wrong: Vec<String>,
    /// When the last missing message arrived.
    complete_at: Instant,
}

/// Counts one MT into `tally`.
fn record(mt: common::Mt, tag: &str, n: usize, users: usize, tally: &mut Tally) {
    match parse_tagged(&mt.text) {
        Some((t, seq)) if t == tag && seq < n => {
            let (from, to) = numbers(sender_of(n, users, seq));
            if !mt.from.ends_with(&from[1..]) || !mt.to.ends_with(&to[1..]) {
                tally
                    .wrong
                    .push(format!("wrong numbers (want {from} -> {to}): {}", mt.raw));
            }
            let count = tally.seen.entry(seq).or_insert(0);
            *count += 1;
            if *count == 1 && tally.seen.len() == n {
                tally.complete_at = Instant::now();
            }
        }
        _ => tally.wrong.push(mt.raw),
    }
}

/// Takes MTs until all `n` messages of phase `tag` arrived; panics at `deadline`, with
/// `details()`.
fn collect(
    kannel: &Kannel,
    tag: &str,
    n: usize,
    users: usize,
    deadline: Instant,
    stop: &dyn Fn() -> bool,
    details: &dyn Fn() -> String,
) -> Tally {
    let mut tally = Tally {
        seen: BTreeMap::new(),
        wrong: Vec::new(),
        complete_at: Instant::now(),
    };
    while tally.seen.len() < n {
        let now = Instant::now();
        if now >= deadline || stop() {
            let missing = missing(&tally.seen, n);
            panic!(
                "phase {tag}: {} of {n} MTs before the deadline or a failure; first missing: {missing:?}; \
                 stray: {:?}\n{}",
                tally.seen.len(),
                &tally.wrong[..tally.wrong.len().min(20)],
                details()
            );
        }
        if let Some(mt) = kannel.try_mt((deadline - now).min(Duration::from_secs(1))) {
            record(mt, tag, n, users, &mut tally);
        }
    }
    tally
}

/// Half a second more for duplicates, untimed.
fn linger(kannel: &Kannel, tag: &str, n: usize, users: usize, mut tally: Tally) -> Tally {
    let complete_at = tally.complete_at;
    let until = Instant::now() + Duration::from_millis(500);
    while let Some(mt) = kannel.try_mt(until.saturating_duration_since(Instant::now())) {
        record(mt, tag, n, users, &mut tally);
    }
    tally.complete_at = complete_at;
    tally
}

/// Panics unless every message of the phase arrived exactly once and nothing else came.
fn check(tag: &str, n: usize, tally: &Tally) {
    let duplicates = repeated(&tally.seen);
    assert!(
        duplicates.is_empty() && tally.wrong.is_empty() && tally.seen.len() == n,
        "phase {tag}: {} of {n} distinct; sent more than once (seq, times): {:?}; \
         unexpected MTs: {:?}",
        tally.seen.len(),
        duplicates,
        &tally.wrong[..tally.wrong.len().min(20)]
    );
}

/// Waits for the warm-up MTs (one per sender, `tag` with seq = sender).
fn collect_warmup(
    kannel: &Kannel,
    tag: &str,
    users: usize,
    deadline: Instant,
    details: &dyn Fn() -> String,
) {
    // The warm-up message of sender u is seq u; with n = users each sender owns exactly it.
    let tally = collect(kannel, tag, users, users, deadline, &|| false, details);
    check(tag, users, &tally);
}

// ---------------------------------------------------------------------------------------
// The phases.

struct PhaseResult {
    secs: f64,
    /// Until the last HTTP answer (A) or the last stanza handed to an agent (B).
    submit_secs: f64,
    cpu: String,
    note: String,
}

impl PhaseResult {
    fn rate(&self, n: usize) -> f64 {
        n as f64 / self.secs
    }
}

struct Rig<'a> {
    n: usize,
    users: usize,
    deadline: Instant,
    kannel: &'a Kannel,
    gateway: &'a Gateway,
    http_port: u16,
    agents: &'a [Agent],
    procs: &'a Procs,
    /// Diagnosis only: a pause after each answer in phase A.
    direct_pause: Duration,
    /// Whether delivery reports are asked for (the gateway's default; `SMS_BENCH_DLR=0`).
    dlr: bool,
    /// Other runs' servers seen at the start or end of a timed phase.
    foreign: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Rig<'_> {
    fn details(&self) -> String {
        format!(
            "{}\n{}",
            self.kannel.details(),
            tail(self.gateway.log_path(), 40)
        )
    }

    fn note_foreign(&self) {
        let found = self.procs.foreign(SMS_RIVALS, &[]);
        self.foreign.lock().unwrap().extend(found);
    }

    fn dlr_url(&self, reference: &str) -> String {
        format!(
            "http://127.0.0.1:{}/sms/kannel/dlr?secret={KANNEL_SECRET}&ref={reference}&type=%d",
            self.http_port
        )
    }

    /// Sends one untimed warm-up message per sender and waits for them; then times
    /// `send(state of sender u, u, seq)` over every sender's share, one thread per sender,
    /// until the rig has all N MTs, and checks them.
    fn timed<S: Send>(
        &self,
        tag: &str,
        states: &mut [S],
        send: &(dyn Fn(&mut S, usize, &str, usize) + Sync),
    ) -> (Duration, Duration, String) {
        let warm = format!("W{tag}");
        for (u, state) in states.iter_mut().enumerate() {
            send(state, u, &warm, u);
        }
        collect_warmup(self.kannel, &warm, self.users, self.deadline, &|| {
            self.details()
        });

        let failed = AtomicBool::new(false);
        self.note_foreign();
        let cpu_before = self.procs.snapshot();
        let start = Instant::now();
        let (tally, submitted) = thread::scope(|scope| {
            let senders: Vec<_> = states
                .iter_mut()
                .enumerate()
                .map(|(u, state)| {
                    let range = share(self.n, self.users, u);
                    let failed = &failed;
                    scope.spawn(move || {
                        let _flag = FlagOnPanic(failed);
                        for seq in range {
                            send(state, u, tag, seq);
                        }
                        Instant::now()
                    })
                })
                .collect();
            let details = || {
                if failed.load(Ordering::Relaxed) {
                    "a sender failed (its panic is printed above)".to_owned()
                } else {
                    self.details()
                }
            };
            let stop = || failed.load(Ordering::Relaxed);
            let tally = collect(
                self.kannel,
                tag,
                self.n,
                self.users,
                self.deadline,
                &stop,
                &details,
            );
            let submitted = senders
                .into_iter()
                .map(|s| s.join().expect("a sender thread"))
                .max()
                .expect("at least one sender");
            (tally, submitted)
        });
        // The rig holds a GSM text MT until the next line or 50 ms of quiet
        // (`read_lines` in tests/common/kannel_smsc.rs): the last MT of a phase is always
        // held, so its arrival is 50 ms earlier than when the rig hands it over.
        let wall = (tally.complete_at - start).saturating_sub(RIG_TEXT_HOLD);
        let cpu_after = self.procs.snapshot();
        self.note_foreign();
        let tally = linger(self.kannel, tag, self.n, self.users, tally);
        check(tag, self.n, &tally);
        let cpu = self.procs.describe(&cpu_before, &cpu_after, wall);
        (wall, submitted - start, cpu)
    }

    /// Phase A: U threads, each with its own keep-alive connection to smsbox.
    fn direct(&self, tag: &str) -> PhaseResult {
        let port = self.kannel.sendsms_port();
        let mut clients: Vec<KeepAlive> = (0..self.users).map(|_| KeepAlive::new(port)).collect();
        let send = |client: &mut KeepAlive, u: usize, tag: &str, seq: usize| {
            let (from, to) = numbers(u);
            let text = tagged(tag, seq);
            let dlr_url = self.dlr.then(|| self.dlr_url(&format!("{tag}-{seq}")));
            let path = sendsms_path(&from, &to, &text, dlr_url.as_deref());
            let (code, body) = client.get(&path);
            assert!(
                (200..300).contains(&code),
                "smsbox answered {code} {body:?} to {text:?}"
            );
            if !self.direct_pause.is_zero() {
                thread::sleep(self.direct_pause);
            }
        };
        let (wall, submitted, cpu) = self.timed(tag, &mut clients, &send);
        let connects: u32 = clients.iter().map(|c| c.connects).sum();
        PhaseResult {
            secs: wall.as_secs_f64(),
            submit_secs: submitted.as_secs_f64(),
            cpu,
            note: format!(
                "{connects} TCP connections for {} requests (keep-alive)",
                self.n + self.users
            ),
        }
    }

    /// Phase B: U XMPP users, each sending its share as chat messages to its phone contact.
    fn gateway(&self, tag: &str) -> PhaseResult {
        let mut agents: Vec<&Agent> = self.agents.iter().collect();
        let send = |agent: &mut &Agent, u: usize, tag: &str, seq: usize| {
            let (_, phone) = numbers(u);
            agent.send(&format!(
                "<message type='chat' id='{tag}-{seq}' to='{}'><body>{}</body></message>",
                contact(&phone),
                tagged(tag, seq)
            ));
        };
        let (wall, submitted, cpu) = self.timed(tag, &mut agents, &send);
        // Nothing bounced, and the outbox is empty again.
        for agent in self.agents {
            let error = |s: &minidom::Element| s.attr("type") == Some("error");
            if let Some(e) = agent.try_expect(Duration::from_millis(50), error) {
                panic!("{} got an error: {}", agent.jid(), String::from(&e));
            }
        }
        let outbox_deadline = (Instant::now() + Duration::from_secs(10)).min(self.deadline);
        loop {
            let left = metric(self.http_port, "switchboard_outbox_messages");
            if left == 0 {
                break;
            }
            assert!(
                Instant::now() < outbox_deadline,
                "{left} messages still in the outbox after all MTs arrived\n{}",
                self.details()
            );
            thread::sleep(Duration::from_millis(50));
        }
        PhaseResult {
            secs: wall.as_secs_f64(),
            submit_secs: submitted.as_secs_f64(),
            cpu,
            note: String::new(),
        }
    }
}

/// Raises the flag when the thread that holds it panics.
struct FlagOnPanic<'a>(&'a AtomicBool);

impl Drop for FlagOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------

fn gateway_config(
    prosody: &Prosody,
    http: u16,
    sendsms_url: &str,
    users: usize,
    dlr: bool,
) -> String {
    let mut provider = kannel_provider(sendsms_url);
    if !dlr {
        provider = format!(
            "{}, delivery_reports: false}}",
            provider.trim_end_matches('}')
        );
    }
    let numbers: Vec<String> = (0..users)
        .map(|u| format!("\"{}\": \"u{}@localhost\"", numbers(u).0, u + 1))
        .collect();
    let limits = "  rate_per_minute: 1000000\n  daily_cap: 1000000\n";
    config_with_numbers(prosody, http, &provider, &numbers.join(", "), limits)
}

#[test]
#[ignore = "benchmark: bench/sms.sh (cargo test --release --test bench_sms -- --ignored --nocapture)"]
fn sms_throughput_through_the_gateway_vs_kannel_direct() {
    let n = env_usize("SMS_BENCH_N", 2000);
    let users = env_usize("SMS_BENCH_USERS", 4);
    let rounds = env_usize("SMS_BENCH_ROUNDS", 1);
    let timeout = Duration::from_secs(env_usize("SMS_BENCH_TIMEOUT", 300) as u64);
    assert!(
        n >= users && users >= 1 && rounds >= 1,
        "need SMS_BENCH_N >= SMS_BENCH_USERS >= 1"
    );
    assert!(users <= 9999 && n <= 999_999);
    let deadline = Instant::now() + timeout;
    let mut run = Run::start();
    run.date_as_stamp = true;
    let dlr = env_usize("SMS_BENCH_DLR", 1) != 0;
    let direct_pause = Duration::from_micros(env_usize("SMS_BENCH_DIRECT_PAUSE_US", 0) as u64);

    let dir = workdir("bench-sms");
    let (prosody, jids) = bench::prosody_with_users(dir.path(), (SMS, SECRET), users);
    let http = free_port();
    // Diagnosis only: a preload library that sets TCP_NODELAY on the TCP sockets the Kannel
    // boxes connect and accept (bench/sms.sh builds it with SMS_BENCH_KANNEL_NODELAY=1).
    let preload = std::env::var("SMS_BENCH_KANNEL_PRELOAD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(lib) = &preload {
        assert!(
            Path::new(lib).exists(),
            "SMS_BENCH_KANNEL_PRELOAD={lib} does not exist"
        );
        std::env::set_var("LD_PRELOAD", lib);
        std::env::set_var("BENCH_TCP_NODELAY", "1");
    }
    let kannel = Kannel::start(
        dir.path(),
        &format!("http://127.0.0.1:{http}/sms/kannel?secret={KANNEL_SECRET}"),
    );
    if preload.is_some() {
        std::env::remove_var("LD_PRELOAD");
        std::env::remove_var("BENCH_TCP_NODELAY");
    }
    let gateway = start_gateway(
        dir.path(),
        &gateway_config(&prosody, http, &kannel.sendsms_url(), users, dlr),
    );
    let agents: Vec<Agent> = jids
        .iter()
        .map(|jid| user(dir.path(), &prosody, jid))
        .collect();
    assert!(
        Instant::now() < deadline,
        "setup took longer than {timeout:?}"
    );

    let kannel_conf = kannel.dir().join("kannel.conf");
    let kannel_conf = kannel_conf.to_string_lossy();
    let mut groups = procs::xmpp_groups(&gateway, &prosody);
    groups.extend([
        ("bearerbox", pids_matching(&["bearerbox", &kannel_conf])),
        ("smsbox", pids_matching(&["smsbox", &kannel_conf])),
        ("rig", vec![std::process::id().to_string()]),
    ]);
    assert_eq!(groups[2].1.len(), users, "one agent process per user");
    // Phase A leaves them idle.
    let procs = Procs::new(groups, &["gateway", "prosody", "agents"]);
    let rig = Rig {
        n,
        users,
        deadline,
        kannel: &kannel,
        gateway: &gateway,
        http_port: http,
        agents: &agents,
        procs: &procs,
        direct_pause,
        dlr,
        foreign: Default::default(),
    };

    if !dlr {
        run.report("NOTE: no delivery reports asked for (SMS_BENCH_DLR=0)".to_owned());
    }
    if !direct_pause.is_zero() {
        run.report(format!(
            "NOTE: phase A pauses {direct_pause:?} after each answer (SMS_BENCH_DIRECT_PAUSE_US)"
        ));
    }
    if let Some(lib) = &preload {
        run.report(format!(
            "NOTE: Kannel runs with {lib} preloaded (TCP_NODELAY on all the \
             boxes' TCP sockets): these are not figures of stock Kannel"
        ));
    }
    let (mut direct_rates, mut gateway_rates) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let a = rig.direct(&format!("A{round}"));
        run.report(format!(
            "round {round} direct : {n} SMS in {:.3} s = {:.0} SMS/s (Kannel sendsms, {users} HTTP client threads; \
             last answer at {:.3} s; {}; CPU: {})",
            a.secs,
            a.rate(n),
            a.submit_secs,
            a.note,
            a.cpu
        ));
        let b = rig.gateway(&format!("B{round}"));
        run.report(format!(
            "round {round} gateway: {n} SMS in {:.3} s = {:.0} SMS/s (XMPP -> switchboard -> Kannel, {users} users, \
             durable outbox; all stanzas handed to the agents at {:.3} s; CPU: {})",
            b.secs,
            b.rate(n),
            b.submit_secs,
            b.cpu
        ));
        run.report(format!(
            "round {round} ratio gateway/direct: {:.2}",
            b.rate(n) / a.rate(n)
        ));
        direct_rates.push(a.rate(n));
        gateway_rates.push(b.rate(n));
    }
    let (direct, through) = (median(direct_rates), median(gateway_rates));
    let ratio = through / direct;
    let of = if rounds > 1 {
        format!(" (median of {rounds})")
    } else {
        String::new()
    };
    run.report(format!("direct : {direct:.0} SMS/s{of}"));
    run.report(format!("gateway: {through:.0} SMS/s{of}"));
    let foreign: Vec<String> = rig.foreign.lock().unwrap().iter().cloned().collect();
    if !foreign.is_empty() {
        run.report(format!(
            "NOTE: other gateways, Kannels, Prosodys or agents ran during the timed phases, so \
             these figures are not valid: {foreign:?}"
        ));
    }
    let verdict = if !foreign.is_empty() {
        "INVALID: other servers were running"
    } else if preload.is_some() || !direct_pause.is_zero() {
        "diagnostic run, not the issue's figure"
    } else if ratio >= 0.8 {
        "goal >= 0.80: met"
    } else {
        "goal >= 0.80: NOT met"
    };
    run.report(format!("ratio gateway/direct: {ratio:.2} ({verdict})"));

    let params = [
        format!("N: {n}"),
        format!("U: {users}"),
        format!("rounds: {rounds}"),
    ];
    let dlr_line = if dlr {
        "asked for (dlr-mask 19 and a dlr-url in both phases; the gateway's default)"
    } else {
        "off (delivery_reports: false; no dlr-mask in phase A)"
    };
    let kannel_line = match &preload {
        Some(lib) => {
            format!("Debian 1.4.5, MODIFIED: TCP_NODELAY on all the boxes' TCP sockets ({lib})")
        }
        None => "Debian 1.4.5, stock".into(),
    };
    let extra = [
        format!("delivery reports: {dlr_line}"),
        format!("kannel: {kannel_line}"),
    ];
    run.write(
        "sms",
        "# SMS throughput, issue 4 (tests/bench_sms.rs)",
        &params,
        &extra,
    );

    drop(agents);
}
