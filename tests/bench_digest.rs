//! Benchmark for issue 5, email throughput: digests. `bench/email.sh digests` runs it (the
//! inbound benchmark is tests/bench_email.rs):
//!
//! ```sh
//! cargo test --release --test bench_digest -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `digests_for_a_thousand_subscribers_of_one_room`: digest mails composed and handed to the
//! relay per second for S subscribers (default 1000) of one busy room. One user subscribes S
//! distinct addresses (`s0001@example.net` …) to one MUC room with `digest-subscribe`, reads
//! each code from the mail the relay gets and confirms it with `digest-verify`, one after
//! the other (at most 3 may wait for a code). All subscriptions use the same `daily_at` slot
//! (UTC, the next whole minute at least `EMAIL_BENCH_DIGEST_LEAD` seconds after the start),
//! so they all become due at the same instant, as a daily digest of 1000 subscribers does:
//! `every: Ns` cannot do that, since each subscription's first period starts when it is
//! verified, and verifying 1000 takes a minute. A slixmpp occupant says M messages (default
//! 50) in the room after the last verification; at the slot the gateway sends S digests.
//! Timed from the slot and from the first digest to the S-th arriving at the relay; checked:
//! each address got exactly one digest, its subject says "M new messages", and its text has
//! every message. With `EMAIL_BENCH_PARALLEL="8 32"` the gateway is restarted with each
//! `send_parallel` and the same addresses (verified by then) are subscribed again with a new
//! slot.
//!
//! The relay (`EMAIL_BENCH_RELAY`): `sink` (default; tests/common/smtp_sink.rs in this
//! process, which keeps the mails and takes thousands a second, see the inbound references)
//! or `aiosmtpd` (the capture of the email tests, slower than the gateway: it parses every
//! mail with Python's `email` package).
//!
//! Environment: `EMAIL_BENCH_SUBS` (1000) S, `EMAIL_BENCH_MESSAGES` (50) M,
//! `EMAIL_BENCH_PARALLEL` ("8") send_parallel values, `EMAIL_BENCH_DIGEST_LEAD` (150)
//! seconds, `EMAIL_BENCH_RELAY`; `EMAIL_BENCH_TIMEOUT` (600) seconds; `RUST_LOG` for the
//! gateway (`info` when unset). Results go to stdout and to
//! `bench/results/email-digest-<UTC timestamp>.txt`.

mod common;

use common::bench::{self, env_list, env_usize, Run};
use common::mail::{self, mail_header, mail_text, register, MAIL, SECRET, T};
use common::procs::{self, Procs, BUILDERS, EMAIL_RIVALS};
use common::smtp::{CaptureOptions, SmtpCapture};
use common::smtp_sink::{Relay, Relayed, Sink};
use common::{command_note, free_port, run_command_at_once, workdir, Agent, Prosody};
use std::collections::{BTreeSet, HashMap};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "pw";
use common::NS_COMMANDS;
const ROOM: &str = "busy@conference.localhost";

fn completed(answer: &minidom::Element) -> bool {
    answer.attr("type") == Some("result")
        && answer
            .get_child("command", NS_COMMANDS)
            .is_some_and(|c| c.attr("status") == Some("completed"))
}

fn address(i: usize) -> String {
    format!("s{:04}@example.net", i + 1)
}

/// The next whole UTC minute at least `lead` from now: (its Instant, "HH:MM").
fn slot_after(lead: Duration) -> (Instant, String) {
    let (instant, now) = (Instant::now(), SystemTime::now());
    let now = now.duration_since(UNIX_EPOCH).expect("a clock after 1970");
    let target = (now + lead).as_secs().div_ceil(60) * 60;
    let at = instant + (Duration::from_secs(target) - now);
    let day = target % 86_400;
    (at, format!("{:02}:{:02}", day / 3600, (day % 3600) / 60))
}

fn gateway_config(
    prosody: &Prosody,
    relay: &str,
    smtp_port: u16,
    subs: usize,
    m: usize,
    parallel: usize,
) -> String {
    // One owner subscribes every address: the daily allowance of code mails must cover it.
    let codes = subs.max(1);
    let extra = format!(
        "  digest: {{nick: digest, min_interval: 1s, max_items: {}, max_subscriptions: {}, send_parallel: {parallel}, max_code_mails_per_user: {codes}}}\n",
        m.max(20),
        2 * subs + 10
    );
    mail::config(prosody, relay, smtp_port, &extra)
}

/// The relay, and how many of its mails the test has seen.
struct Inbox {
    relay: Relay,
    seen: usize,
}

impl Inbox {
    /// The mails the relay got since the last call.
    fn new_mails(&mut self) -> Vec<Relayed> {
        let new = self.relay.since(self.seen);
        self.seen += new.len();
        new
    }
}

/// Subscribes the `subs` addresses to the room at `daily_at`, each verified at once (codes
/// are mailed for addresses not yet verified); `joined` (round 1) sees the gateway join the
/// room after the first verification. Returns how many codes were mailed.
fn subscribe_all(
    owner: &Agent,
    joined: Option<&Agent>,
    inbox: &mut Inbox,
    subs: usize,
    daily_at: &str,
    deadline: Instant,
    details: &dyn Fn() -> String,
) -> usize {
    let mut codes_mailed = 0;
    for i in 0..subs {
        assert!(
            Instant::now() < deadline,
            "out of time during setup (EMAIL_BENCH_TIMEOUT)"
        );
        let to = address(i);
        let fields = [("source", ROOM), ("address", &to), ("daily_at", daily_at)];
        let answer = run_command_at_once(owner, MAIL, "digest-subscribe", &fields);
        assert!(
            completed(&answer),
            "subscribe {to}: {}\n{}",
            String::from(&answer),
            details()
        );
        if command_note(&answer).starts_with("Subscribed") {
            continue; // a verified address (later rounds)
        }
        // The code mail is relayed before the answer.
        let mails = inbox.new_mails();
        let code = mails
            .iter()
            .filter(|(_, rcpt, _)| rcpt.contains(&to))
            .find_map(|(_, _, raw)| {
                mail_text(raw).lines().find_map(|l| {
                    l.strip_prefix("Verification code: ")
                        .map(|c| c.trim().to_owned())
                })
            })
            .unwrap_or_else(|| {
                panic!(
                    "no code mailed to {to}: {} mails\n{}",
                    mails.len(),
                    details()
                )
            });
        codes_mailed += 1;
        let answer = run_command_at_once(owner, MAIL, "digest-verify", &[("code", &code)]);
        assert!(
            completed(&answer) && command_note(&answer).starts_with("Confirmed"),
            "verify {to}: {}\n{}",
            String::from(&answer),
            details()
        );
        if let Some(talker) = joined.filter(|_| i == 0) {
            talker.expect(T, "the gateway joining the room", |s| {
                s.name() == "presence"
                    && s.attr("from") == Some(&format!("{ROOM}/digest"))
                    && s.attr("type").is_none()
            });
        }
    }
    codes_mailed
}

/// Says the M messages of round `tag` in the room and waits for each one's reflection (so
/// the gateway, an occupant, has them too).
fn burst(talker: &Agent, tag: &str, m: usize) {
    for j in 0..m {
        talker.send(&format!(
            "<message type='groupchat' to='{ROOM}' id='{tag}-{j}'><body>bench {tag} message {j:03}</body></message>"
        ));
    }
    for j in 0..m {
        let text = format!("bench {tag} message {j:03}");
        talker.expect(T, "the reflection of the talker's message", |s| {
            s.name() == "message" && s.attr("type") == Some("groupchat") && common::body(s) == text
        });
    }
}

/// Panics unless each of the `subs` addresses got exactly one digest, with all M messages.
fn check_digests(digests: &[Relayed], subs: usize, m: usize, tag: &str) {
    let mut per_address: HashMap<String, u32> = HashMap::new();
    let mut problems = Vec::new();
    let want_subject = format!("{m} new message{}", if m == 1 { "" } else { "s" });
    for (_, rcpt, raw) in digests {
        for r in rcpt {
            *per_address.entry(r.clone()).or_default() += 1;
        }
        let subject = mail_header(raw, "Subject").unwrap_or_default();
        if !subject.contains(&want_subject) {
            problems.push(format!("{rcpt:?}: subject {subject:?}"));
            continue;
        }
        if mail_header(raw, "List-Unsubscribe").is_none() {
            problems.push(format!("{rcpt:?}: no List-Unsubscribe"));
        }
        let text = mail_text(raw);
        if let Some(j) = (0..m).find(|j| !text.contains(&format!("bench {tag} message {j:03}"))) {
            problems.push(format!("{rcpt:?}: message {j} missing"));
        }
    }
    let wrong_count: Vec<String> = (0..subs)
        .map(address)
        .filter(|a| per_address.get(a) != Some(&1))
        .take(10)
        .collect();
    assert!(
        problems.is_empty() && wrong_count.is_empty() && digests.len() == subs,
        "{} digests for {subs} subscriptions; not exactly one for {wrong_count:?}; problems: {:?}",
        digests.len(),
        &problems[..problems.len().min(10)]
    );
}

#[test]
#[ignore = "benchmark: bench/email.sh digests (cargo test --release --test bench_digest -- --ignored --nocapture)"]
fn digests_for_a_thousand_subscribers_of_one_room() {
    let subs = env_usize("EMAIL_BENCH_SUBS", 1000);
    let m = env_usize("EMAIL_BENCH_MESSAGES", 50);
    let parallels = env_list("EMAIL_BENCH_PARALLEL", "8");
    let lead = Duration::from_secs(env_usize("EMAIL_BENCH_DIGEST_LEAD", 150) as u64);
    let timeout = Duration::from_secs(env_usize("EMAIL_BENCH_TIMEOUT", 600) as u64);
    let relay_kind = std::env::var("EMAIL_BENCH_RELAY").unwrap_or_else(|_| "sink".into());
    assert!((1..=9999).contains(&subs) && (1..=999).contains(&m));
    assert!(parallels.iter().all(|&p| p >= 1));
    assert!(
        include_str!("support/prosody.cfg.lua.in").contains("conference.localhost"),
        "the test Prosody has no MUC service conference.localhost yet (it comes with the \
         core-watch branch): this benchmark needs it"
    );
    let deadline = Instant::now() + timeout;
    let mut run = Run::start();

    let dir = workdir("bench-email-digest");
    let prosody = Prosody::start(
        dir.path(),
        &[(MAIL, SECRET)],
        &[
            ("owner", "localhost", PASSWORD),
            ("talker", "localhost", PASSWORD),
        ],
    );
    let relay = match relay_kind.as_str() {
        "sink" => Relay::Sink(Sink::start()),
        "aiosmtpd" => Relay::Capture(SmtpCapture::start(dir.path(), CaptureOptions::default())),
        other => panic!("EMAIL_BENCH_RELAY={other:?}: sink or aiosmtpd"),
    };
    let (relay_addr, smtp_port) = (relay.addr(), free_port());
    let config = |parallel| gateway_config(&prosody, &relay_addr, smtp_port, subs, m, parallel);
    let mut gateway = mail::start_gateway(dir.path(), &config(parallels[0]));
    let owner = mail::user(dir.path(), &prosody, "owner@localhost");
    let talker = mail::user(dir.path(), &prosody, "talker@localhost");
    let answer = register(&owner, "owner", "Owner");
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    // The talker makes the room by joining it.
    common::join_room(&talker, ROOM, "talker");

    run.report(format!(
        "relay: {}",
        match relay_kind.as_str() {
            "sink" => "a null SMTP sink in the test process (keeps the mails, answers at once)",
            _ => "aiosmtpd (tests/support/smtp_capture.py; parses every mail in Python)",
        }
    ));
    let mut foreign = BTreeSet::new();
    let mut inbox = Inbox { relay, seen: 0 };

    for (round, &parallel) in parallels.iter().enumerate() {
        let round = round + 1;
        if round > 1 {
            // The same store, another send_parallel.
            gateway.sigterm_and_wait(Duration::from_secs(15));
            drop(gateway);
            gateway = mail::start_gateway(dir.path(), &config(parallel));
            owner.wait_for_service(MAIL, T);
        }
        let details = || bench::tail(gateway.log_path(), 40);
        // Later rounds subscribe verified addresses: no codes, a shorter setup.
        let lead = if round == 1 {
            lead
        } else {
            (lead / 2).max(Duration::from_secs(45))
        };
        let (slot, daily_at) = slot_after(lead);

        // S subscriptions, each verified at once (the first round mails codes).
        let setup_start = Instant::now();
        let joined = (round == 1).then_some(&talker);
        let codes_mailed = subscribe_all(
            &owner, joined, &mut inbox, subs, &daily_at, deadline, &details,
        );
        let setup = setup_start.elapsed();
        run.report(format!(
            "round {round}: {subs} subscriptions (daily_at {daily_at} UTC) in {:.1} s ({codes_mailed} codes mailed and confirmed; {:.1} ms per subscription)",
            setup.as_secs_f64(),
            setup.as_secs_f64() * 1000.0 / subs as f64
        ));

        let tag = format!("r{round}");
        burst(&talker, &tag, m);
        thread::sleep(Duration::from_secs(1));
        let early = inbox.relay.count() - inbox.seen;
        assert_eq!(early, 0, "{early} mails before the slot\n{}", details());
        let margin = slot.saturating_duration_since(Instant::now());
        assert!(
            margin > Duration::from_secs(2),
            "the setup took too long for the slot {daily_at}: raise EMAIL_BENCH_DIGEST_LEAD \
             (now {lead:?}; the setup took {setup:?})"
        );
        println!("waiting {margin:?} for the slot {daily_at} UTC");

        let mut groups = procs::xmpp_groups(&gateway, &prosody);
        groups.push((
            "relay",
            match &inbox.relay {
                Relay::Sink(_) => vec![std::process::id().to_string()],
                Relay::Capture(c) => {
                    procs::pids_matching(&["smtp_capture.py", &c.port().to_string()])
                }
            },
        ));
        let procs = Procs::new(groups, &[]);
        thread::sleep(
            slot.saturating_duration_since(Instant::now())
                .saturating_sub(Duration::from_millis(500)),
        );
        foreign.extend(procs.foreign(EMAIL_RIVALS, BUILDERS));
        let before = procs.snapshot();
        // Collect S digests (each arrival time from the relay), until the deadline.
        let mut digests: Vec<Relayed> = Vec::new();
        let until = deadline.min(slot + Duration::from_secs(300));
        while digests.len() < subs && Instant::now() < until {
            digests.extend(inbox.new_mails());
            thread::sleep(Duration::from_millis(5));
        }
        let after = procs.snapshot();
        foreign.extend(procs.foreign(EMAIL_RIVALS, BUILDERS));
        thread::sleep(Duration::from_millis(500));
        digests.extend(inbox.new_mails());
        assert!(
            digests.len() >= subs,
            "{} of {subs} digests within 300 s of the slot\n{}",
            digests.len(),
            details()
        );
        check_digests(&digests, subs, m, &tag);

        let first = digests.iter().map(|d| d.0).min().unwrap();
        let last = digests.iter().map(|d| d.0).max().unwrap();
        let spread = last - first;
        let from_slot = last.saturating_duration_since(slot);
        let gw_cpu = procs.secs("gateway", &before, &after);
        run.report(format!(
            "round {round} send_parallel={parallel}: {subs} digests of {m} messages; first at slot+{:.3} s, \
             last at slot+{:.3} s; first to last {:.3} s = {:.0} digests/s ({:.0} digests/s from the slot); \
             gateway CPU {:.2} ms/digest; CPU from slot-0.5 s to the last: {}",
            first.saturating_duration_since(slot).as_secs_f64(),
            from_slot.as_secs_f64(),
            spread.as_secs_f64(),
            (subs - 1) as f64 / spread.as_secs_f64().max(1e-9),
            subs as f64 / from_slot.as_secs_f64().max(1e-9),
            gw_cpu * 1000.0 / subs as f64,
            procs.describe(&before, &after, from_slot + Duration::from_millis(500))
        ));
    }
    run.note_foreign("gateways, Prosodys or agents", &foreign);
    let params = format!("subscriptions: {subs}; messages: {m}; send_parallel: {parallels:?}");
    let title = "# Email throughput, issue 5: digests (tests/bench_digest.rs)";
    run.write("email-digest", title, &[params], &[]);
    drop((owner, talker));
}
