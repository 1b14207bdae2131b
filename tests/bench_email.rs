//! Benchmark for issue 5, email throughput: inbound mail. `bench/email.sh inbound` runs it
//! (the digest benchmark is tests/bench_digest.rs):
//!
//! ```sh
//! cargo test --release --test bench_email -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `inbound_mail_through_the_listener_into_xmpp`: mails per second through the gateway's own
//! SMTP listener (`email.listen`) into XMPP. The real gateway binary, a real Prosody, U
//! slixmpp users each registered with the mail transport (alias `userN`), and the load
//! generator of tests/common/smtp_load.rs: K threads, each one TCP connection to the listener
//! that sends its share of the N mails pipelined (RFC 2920: a message's text, then the next
//! message's MAIL, RCPT and DATA, in one write; one round trip per mail). Each mail has a
//! sequence number in its subject; the users' agents count the chat messages that arrive
//! and the run checks that every number arrived exactly once, at the right user. Reported:
//! mails/s accepted (until the last `250`), mails/s delivered end to end (until the last
//! chat message reached its agent), CPU of the gateway, Prosody and the agents. There is no
//! "direct" rate to compare with; as references the same generator sends the same mails to
//! a null SMTP sink in this process (tests/common/smtp_sink.rs: what the generator can do)
//! and to the aiosmtpd capture of the other email tests (a real SMTP server in Python).
//!
//! Environment: `EMAIL_BENCH_N` (2000) mails, `EMAIL_BENCH_CONNS` ("1 4") connection counts
//! K, `EMAIL_BENCH_USERS` (1) XMPP users, `EMAIL_BENCH_ROUNDS` (1; medians over rounds);
//! `EMAIL_BENCH_TIMEOUT` (600) seconds; `RUST_LOG` for the gateway (`info` when unset).
//! Results go to stdout and to `bench/results/email-<UTC timestamp>.txt`.

mod common;

use common::bench::{self, env_list, env_usize, median, parse_tagged, tagged, Run};
use common::mail::{self, register, MAIL, SECRET};
use common::procs::{self, Procs, BUILDERS, EMAIL_RIVALS};
use common::smtp::{CaptureOptions, SmtpCapture};
use common::smtp_load::{send_all, Outgoing};
use common::smtp_sink::Sink;
use common::{free_port, workdir, Agent};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The mail alias of user `u` (0-based; aliases have at least 3 characters).
fn alias(u: usize) -> String {
    format!("user{}", u + 1)
}

/// The user (0-based) mail `seq` goes to.
fn user_of(seq: usize, users: usize) -> usize {
    seq % users
}

/// The N mails of phase `tag`: from 50 different senders, to the users' aliases in turn.
fn inbound_mails(tag: &str, n: usize, users: usize, domain: &str) -> Vec<Outgoing> {
    (0..n)
        .map(|seq| {
            let from = format!("sender{:02}@example.net", seq % 50);
            let to = format!("{}@{domain}", alias(user_of(seq, users)));
            let subject = tagged(tag, seq);
            let raw = format!(
                "From: Sender {} <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
                 Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\
                 Message-ID: <{tag}.{seq}@bench.example.net>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\r\n\
                 Hello, this is mail {seq} of the benchmark.\r\nA second line of text.\r\n",
                seq % 50
            );
            Outgoing::new(&from, &to, &raw)
        })
        .collect()
}

/// What the agents received in one phase.
struct Arrivals {
    /// seq -> times it arrived.
    seen: BTreeMap<usize, u32>,
    wrong: Vec<String>,
    complete_at: Option<Instant>,
}

/// Counts, per agent in its own thread, the chat messages of phase `tag` until all `n`
/// arrived or `deadline`; lingers `linger` more for duplicates.
fn count_arrivals(
    agents: &[Agent],
    tag: &str,
    n: usize,
    deadline: Instant,
    linger: Duration,
    stop: &AtomicBool,
) -> Arrivals {
    let users = agents.len();
    let state = Mutex::new(Arrivals {
        seen: BTreeMap::new(),
        wrong: Vec::new(),
        complete_at: None,
    });
    thread::scope(|scope| {
        for (u, agent) in agents.iter().enumerate() {
            let state = &state;
            scope.spawn(move || {
                let mine = (0..n).filter(|&s| user_of(s, users) == u).count();
                let mut got = 0usize;
                let mut until = deadline;
                loop {
                    let now = Instant::now();
                    if now >= until || (stop.load(Ordering::Relaxed) && got < mine) {
                        break;
                    }
                    let wait = (until - now).min(Duration::from_millis(200));
                    let Some(stanza) = agent.try_expect(wait, |s| s.name() == "message") else {
                        continue;
                    };
                    let at = Instant::now();
                    let subject = mail::subject(&stanza);
                    let mut st = state.lock().unwrap();
                    match parse_tagged(&subject) {
                        _ if stanza.attr("type") == Some("error") => {
                            st.wrong.push(String::from(&stanza))
                        }
                        Some((t, seq)) if t == tag && seq < n && user_of(seq, users) == u => {
                            let c = st.seen.entry(seq).or_insert(0);
                            *c += 1;
                            if *c == 1 {
                                got += 1;
                                if st.seen.len() == n {
                                    st.complete_at = Some(at);
                                }
                                if got == mine {
                                    until = at + linger;
                                }
                            }
                        }
                        _ => st.wrong.push(String::from(&stanza)),
                    }
                }
            });
        }
    });
    state.into_inner().unwrap()
}

fn check_arrivals(tag: &str, n: usize, arrivals: &Arrivals, details: &dyn Fn() -> String) {
    let duplicates = bench::repeated(&arrivals.seen);
    let missing = bench::missing(&arrivals.seen, n);
    assert!(
        duplicates.is_empty() && arrivals.wrong.is_empty() && arrivals.seen.len() == n,
        "phase {tag}: {} of {n} distinct; first missing {missing:?}; duplicates {:?}; \
         unexpected stanzas {:?}\n{}",
        arrivals.seen.len(),
        duplicates,
        &arrivals.wrong[..arrivals.wrong.len().min(10)],
        details()
    );
}

/// Seconds the generator takes to send `n` mails of phase `tag` over `k` connections to
/// a reference server on `port` (all must be accepted).
fn generator_secs(
    port: u16,
    n: usize,
    users: usize,
    k: usize,
    tag: &str,
    stop: &AtomicBool,
) -> f64 {
    let mails = inbound_mails(tag, n, users, MAIL);
    let start = Instant::now();
    let sent = send_all(port, &mails, k, stop);
    assert_eq!(sent.accepted, n, "{tag}: refused {:?}", sent.refused);
    (sent.last_answer.unwrap() - start).as_secs_f64()
}

#[test]
#[ignore = "benchmark: bench/email.sh inbound (cargo test --release --test bench_email -- --ignored --nocapture)"]
fn inbound_mail_through_the_listener_into_xmpp() {
    let n = env_usize("EMAIL_BENCH_N", 2000);
    let conns_list = env_list("EMAIL_BENCH_CONNS", "1 4");
    let users = env_usize("EMAIL_BENCH_USERS", 1);
    let rounds = env_usize("EMAIL_BENCH_ROUNDS", 1);
    let timeout = Duration::from_secs(env_usize("EMAIL_BENCH_TIMEOUT", 600) as u64);
    assert!(n >= 1 && users >= 1 && rounds >= 1 && n <= 999_999);
    assert!(conns_list.iter().all(|&k| (1..=64).contains(&k)));
    let deadline = Instant::now() + timeout;
    let mut run = Run::start();

    let dir = workdir("bench-email-in");
    let (prosody, jids) = bench::prosody_with_users(dir.path(), (MAIL, SECRET), users);
    // The relay is not used by inbound mail; the null sink stands in.
    let relay = Sink::start();
    let smtp_port = free_port();
    let gateway = mail::start_gateway(
        dir.path(),
        &mail::config(
            &prosody,
            &relay.addr(),
            smtp_port,
            // Every load connection comes from 127.0.0.1 (EMAIL_BENCH_CONNS up to 64).
            "  max_recipients: 20\n  max_connections_per_ip: 64\n",
        ),
    );
    let agents: Vec<Agent> = jids
        .iter()
        .map(|jid| mail::user(dir.path(), &prosody, jid))
        .collect();
    for (u, agent) in agents.iter().enumerate() {
        let answer = register(agent, &alias(u), &format!("User {}", u + 1));
        assert_eq!(
            answer.attr("type"),
            Some("result"),
            "{}",
            String::from(&answer)
        );
    }
    let mut groups = procs::xmpp_groups(&gateway, &prosody);
    groups.push(("rig", vec![std::process::id().to_string()]));
    assert_eq!(groups[2].1.len(), users, "one agent process per user");
    let procs = Procs::new(groups, &[]);
    let details = || bench::tail(gateway.log_path(), 40);
    let stop = AtomicBool::new(false);
    let mut foreign = BTreeSet::new();

    // Warm-up: one mail per user (opens the users' sessions in the gateway).
    let warm = inbound_mails("W", users, users, MAIL);
    let sent = send_all(smtp_port, &warm, 1, &stop);
    assert_eq!(
        sent.accepted,
        users,
        "warm-up refused: {:?}\n{}",
        sent.refused,
        details()
    );
    let arrivals = count_arrivals(&agents, "W", users, deadline, Duration::ZERO, &stop);
    check_arrivals("W", users, &arrivals, &details);

    // Per K: rates accepted, delivered, gateway ms/mail, null sink, aiosmtpd.
    let mut summary: BTreeMap<usize, [Vec<f64>; 5]> = BTreeMap::new();
    for round in 1..=rounds {
        for &k in &conns_list {
            assert!(
                Instant::now() < deadline,
                "out of time (EMAIL_BENCH_TIMEOUT)"
            );
            // Reference 1: the generator against the null sink.
            let sink = Sink::start();
            let sink_secs = generator_secs(sink.port, n, users, k, &format!("S{round}k{k}"), &stop);
            assert_eq!(sink.count(), n);
            drop(sink);

            // The gateway.
            let tag = format!("G{round}k{k}");
            let mails = inbound_mails(&tag, n, users, MAIL);
            foreign.extend(procs.foreign(EMAIL_RIVALS, BUILDERS));
            let before = procs.snapshot();
            let start = Instant::now();
            let linger = Duration::from_millis(500);
            let (sent, arrivals) = thread::scope(|scope| {
                let counter =
                    scope.spawn(|| count_arrivals(&agents, &tag, n, deadline, linger, &stop));
                let sent = send_all(smtp_port, &mails, k, &stop);
                if sent.accepted != n {
                    stop.store(true, Ordering::Relaxed);
                }
                (sent, counter.join().expect("the counting threads"))
            });
            let after = procs.snapshot();
            foreign.extend(procs.foreign(EMAIL_RIVALS, BUILDERS));
            assert_eq!(
                sent.accepted,
                n,
                "refused: {:?}\n{}",
                &sent.refused[..sent.refused.len().min(10)],
                details()
            );
            check_arrivals(&tag, n, &arrivals, &details);
            let accepted = (sent.last_answer.unwrap() - start).as_secs_f64();
            let delivered = arrivals.complete_at.unwrap() - start;
            // CPU over the whole phase (the 500 ms linger included, idle).
            let gateway_ms = procs.secs("gateway", &before, &after) * 1000.0 / n as f64;
            run.report(format!(
                "round {round} K={k}: {n} mails accepted (250) in {accepted:.3} s = {:.0} mails/s; all delivered \
                 to XMPP in {:.3} s = {:.0} mails/s end to end; gateway CPU {gateway_ms:.2} ms/mail; CPU: {}",
                n as f64 / accepted,
                delivered.as_secs_f64(),
                n as f64 / delivered.as_secs_f64(),
                procs.describe(&before, &after, delivered)
            ));

            // Reference 2: the generator against aiosmtpd (a real SMTP server, in Python).
            let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
            let tag = format!("A{round}k{k}");
            let capture_secs = generator_secs(capture.port(), n, users, k, &tag, &stop);
            assert_eq!(capture.mails().len(), n);
            drop(capture);
            run.report(format!(
                "round {round} K={k} references: the same generator to a null SMTP sink {:.0} mails/s \
                 ({sink_secs:.3} s), to aiosmtpd (the capture; no PIPELINING offered, so one command at a time) {:.0} mails/s ({capture_secs:.3} s)",
                n as f64 / sink_secs,
                n as f64 / capture_secs
            ));
            let rates = [
                n as f64 / accepted,
                n as f64 / delivered.as_secs_f64(),
                gateway_ms,
                n as f64 / sink_secs,
                n as f64 / capture_secs,
            ];
            let entry = summary.entry(k).or_default();
            for (values, rate) in entry.iter_mut().zip(rates) {
                values.push(rate);
            }
        }
    }
    let of = if rounds > 1 {
        format!(" (medians of {rounds} rounds)")
    } else {
        String::new()
    };
    for (k, [acc, del, cpu, sink, cap]) in summary {
        run.report(format!(
            "K={k}{of}: accepted {:.0} mails/s, delivered end to end {:.0} mails/s, gateway {:.2} ms CPU/mail; \
             generator alone (null sink) {:.0} mails/s, aiosmtpd {:.0} mails/s",
            median(acc),
            median(del),
            median(cpu),
            median(sink),
            median(cap)
        ));
    }
    run.note_foreign("gateways, Prosodys or agents", &foreign);
    let params = format!("N: {n}; K: {conns_list:?}; users: {users}; rounds: {rounds}");
    let title = "# Email throughput, issue 5: inbound mail (tests/bench_email.rs)";
    run.write("email", title, &[params], &[]);
    drop(agents);
}
