//! Hostile mail against the real gateway (real Prosody, a slixmpp user, swaks and raw
//! sockets into the SMTP listener): mails built to cost quadratic time, while `/healthz`
//! must keep answering within a second; the listener's caps per IP address, on commands
//! without mail, on guessed recipients and on a session's life (hostile.md H2, L1, L2).

mod common;

use common::mail::*;
use common::mail_hostile::{http_port, metric, HealthProbe};
use common::smtp::{send_mail, send_mail_with, smtp_session, CaptureOptions, SmtpCapture};
use common::{body, free_port, workdir};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const ALIAS: &str = "alice.h@mail.localhost";
const EVIL: &str = "a@evil.example";

fn blank_lines_mail(subject: &str, lines: usize) -> String {
    format!(
        "From: {EVIL}\r\nTo: {ALIAS}\r\nSubject: {subject}\r\n\r\n{}x\r\n",
        "\r\n".repeat(lines)
    )
}

fn ampersand_mail(subject: &str) -> String {
    format!(
        "From: {EVIL}\r\nTo: {ALIAS}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{}",
        format!("{}\r\n", "&".repeat(998)).repeat(1000)
    )
}

#[test]
fn quadratic_mails_cost_linear_time_while_healthz_answers() {
    let dir = workdir("hostile-mail-load");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let config = config(&prosody, &capture.addr(), smtp, "")
        .replace("max_message_bytes: 20000", "max_message_bytes: 4000000");
    let http = http_port(&config);
    let _gw = start_gateway(dir.path(), &config);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice.h", "Alice").attr("type"),
        Some("result")
    );
    let evil = contact(EVIL);
    let arrived = |subject: &str| {
        alice.expect(Duration::from_secs(60), subject, |s| {
            s.name() == "message"
                && s.attr("from") == Some(evil.as_str())
                && common::mail::subject(s) == subject
        })
    };

    // One 2 MB mail of blank lines, alone: the time from DATA to the user.
    let probe = HealthProbe::start(http);
    let started = Instant::now();
    let sent = send_mail(smtp, EVIL, ALIAS, &blank_lines_mail("blank", 1_000_000));
    assert!(sent.ok, "{}", sent.text);
    assert_eq!(body(&arrived("blank")), "x");
    let alone = started.elapsed();

    // Two of each kind at once, on parallel connections, and two more for an unsubscribe
    // address (which anyone may use: no alias needed), which are taken and end nothing.
    let started = Instant::now();
    let strangers: Vec<_> = [blank_lines_mail("u", 1_000_000), ampersand_mail("u")]
        .into_iter()
        .map(|raw| {
            std::thread::spawn(move || send_mail(smtp, EVIL, "unsubscribe+0@mail.localhost", &raw))
        })
        .collect();
    let senders: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let (subject, raw) = match i {
                    0 | 1 => (
                        format!("blank {i}"),
                        blank_lines_mail(&format!("blank {i}"), 1_000_000),
                    ),
                    _ => (format!("amp {i}"), ampersand_mail(&format!("amp {i}"))),
                };
                (subject, send_mail(smtp, EVIL, ALIAS, &raw))
            })
        })
        .collect();
    for sender in senders {
        let (subject, sent) = sender.join().unwrap();
        assert!(sent.ok, "{subject}: {} {}", sent.code, sent.text);
        let got = body(&arrived(&subject));
        if subject.starts_with("blank") {
            assert_eq!(got, "x");
        } else {
            assert!(
                got.starts_with("&&&&") && got.ends_with(" […]"),
                "{}",
                &got[..50]
            );
        }
    }
    for stranger in strangers {
        let sent = stranger.join().unwrap();
        assert!(sent.ok, "{} {}", sent.code, sent.text);
    }
    let parallel = started.elapsed();
    let (worst, answers, bad) = probe.finish();
    eprintln!(
        "FIGURES: 2 MB blank-line mail alone: {alone:?}; 6 hostile mails in parallel: \
         {parallel:?}; /healthz worst answer {worst:?} over {answers} answers"
    );
    assert!(bad.is_empty(), "/healthz failed: {bad:?}");
    assert!(worst < Duration::from_secs(1), "/healthz took {worst:?}");

    // Over the size limit: read to its end and refused with a clear code, nothing stored.
    let too_big = send_mail(smtp, EVIL, ALIAS, &blank_lines_mail("too big", 2_100_000));
    assert_eq!(too_big.code, 552, "{}", too_big.transcript);
    let after = send_mail(
        smtp,
        EVIL,
        ALIAS,
        "From: a@evil.example\r\nSubject: after\r\n\r\nhi\r\n",
    );
    assert!(after.ok);
    assert_eq!(body(&arrived("after")), "hi", "the refused mail came first");
}

/// Reads one reply line (enough for the single-line replies here).
fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 => line.trim_end().to_string(),
        _ => String::new(),
    }
}

fn connect(smtp: u16) -> (BufReader<TcpStream>, TcpStream) {
    let tcp = TcpStream::connect(("127.0.0.1", smtp)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    (BufReader::new(tcp.try_clone().unwrap()), tcp)
}

#[test]
fn the_listener_caps_addresses_idle_commands_guesses_and_lifetime() {
    let dir = workdir("hostile-mail-caps");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let extra = "  max_connections_per_ip: 3\n  max_session: 10s\n";
    let config = config(&prosody, &capture.addr(), smtp, extra);
    let http = http_port(&config);
    let _gw = start_gateway(dir.path(), &config);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice.h", "Alice").attr("type"),
        Some("result")
    );

    // Three connections from 127.0.0.1 are its share; the fourth gets 421.
    let mut held: Vec<_> = (0..3).map(|_| connect(smtp)).collect();
    for (reader, _) in &mut held {
        assert!(reply(reader).starts_with("220 "));
    }
    let (mut fourth, _tcp) = connect(smtp);
    let refused = reply(&mut fourth);
    assert!(
        refused.starts_with("421 ") && refused.contains("from your address"),
        "{refused}"
    );
    assert_eq!(reply(&mut fourth), "", "closed after the 421");
    assert_eq!(
        metric(http, "switchboard_email_smtp_refused_per_ip_total"),
        1
    );
    // Another address is still served, and its mail is delivered.
    let other = send_mail_with(
        smtp,
        "b@elsewhere.example",
        ALIAS,
        "From: b@elsewhere.example\r\nSubject: from .2\r\n\r\nhello\r\n",
        &["--local-interface", "127.0.0.2"],
    );
    assert!(other.ok, "{}", other.transcript);
    alice.expect(T, "the mail from 127.0.0.2", |s| {
        common::mail::subject(s) == "from .2"
    });
    for (_, tcp) in &held {
        tcp.shutdown(std::net::Shutdown::Both).unwrap();
    }
    drop(held);
    // The listener sees them go (an event, not a pause): a new connection is greeted.
    let deadline = Instant::now() + T;
    while !reply(&mut connect(smtp).0).starts_with("220") {
        assert!(
            Instant::now() < deadline,
            "the address's slots never came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // NOOPs cannot keep a session: after 20 commands without mail, 421.
    let mut lines = vec!["EHLO client.test"];
    lines.extend(["NOOP"; 25]);
    let replies = smtp_session(smtp, &lines);
    assert_eq!(replies.len(), 22, "{replies:?}");
    assert!(
        replies[21].starts_with("421") && replies[21].contains("without mail"),
        "{replies:?}"
    );
    assert_eq!(metric(http, "switchboard_email_smtp_closed_idle_total"), 1);

    // Guessing aliases: each 550 comes a second late and counts as an error; the tenth
    // ends the connection.
    let guesses: Vec<String> = (0..12)
        .map(|i| format!("RCPT TO:<guess{i}@mail.localhost>"))
        .collect();
    let mut lines = vec!["EHLO client.test", "MAIL FROM:<a@evil.example>"];
    lines.extend(guesses.iter().map(String::as_str));
    let started = Instant::now();
    let replies = smtp_session(smtp, &lines);
    let took = started.elapsed();
    assert_eq!(replies.len(), 13, "{replies:?}");
    assert!(
        replies[3..12].iter().all(|r| r.starts_with("550")),
        "{replies:?}"
    );
    assert!(replies[12].starts_with("421"), "{replies:?}");
    assert!(took >= Duration::from_secs(9), "{took:?}");
    assert_eq!(
        metric(http, "switchboard_email_smtp_closed_errors_total"),
        1
    );
    assert_eq!(
        metric(http, "switchboard_email_smtp_rcpt_refused_total"),
        10
    );

    // A client that keeps the session busy (a NOOP every second, within the idle limit
    // only because the lifetime comes first) is closed at max_session.
    let (mut reader, mut tcp) = connect(smtp);
    let started = Instant::now();
    assert!(reply(&mut reader).starts_with("220"));
    let end = loop {
        tcp.write_all(b"NOOP\r\n").unwrap();
        let r = reply(&mut reader);
        if !r.starts_with("250") {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never closed");
        std::thread::sleep(Duration::from_secs(1));
    };
    let lived = started.elapsed();
    assert!(
        end.starts_with("421") && end.contains("Session too long"),
        "{end}"
    );
    assert!(
        lived >= Duration::from_secs(9) && lived < Duration::from_secs(15),
        "{lived:?}"
    );
    assert_eq!(
        metric(http, "switchboard_email_smtp_closed_lifetime_total"),
        1
    );
}
