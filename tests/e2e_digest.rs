//! End-to-end digests: a real Prosody with a MUC service, slixmpp users, the gateway
//! following a room as an occupant, a real aiosmtpd capturing the digest mails, and swaks /
//! raw SMTP for unsubscribe mails.

mod common;

use common::mail::*;
use common::smtp::{send_mail, CaptureOptions, CapturedMail, SmtpCapture};
use common::twilio::http_request;
use common::{body, command_note, escape_xml, free_port, run_command, workdir, Agent};
use minidom::Element;
use std::time::Duration;

const ROOM: &str = "lounge@conference.localhost";
use common::NS_COMMANDS;

/// Digest settings for tests: periods of seconds, missed messages after one second.
const DIGEST: &str = "  digest: {min_interval: 1s, missed_after: 1s}\n";

fn join(agent: &Agent, nick: &str) {
    common::join_room(agent, ROOM, nick);
}

fn say(agent: &Agent, text: &str, id: &str) {
    agent.send(&format!(
        "<message type='groupchat' to='{ROOM}' id='{id}'><body>{}</body></message>",
        escape_xml(text)
    ));
}

/// Waits until the gateway's occupant (nick `digest`) is in the room, as `agent` sees it.
fn expect_gateway_joined(agent: &Agent) {
    agent.expect(T, "the gateway joining the room", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&format!("{ROOM}/digest"))
            && s.attr("type").is_none()
    });
}

fn expect_gateway_left(agent: &Agent) {
    agent.expect(T, "the gateway leaving the room", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&format!("{ROOM}/digest"))
            && s.attr("type") == Some("unavailable")
    });
}

fn subscribe(agent: &Agent, source: &str, address: &str, every: &str) -> Element {
    run_command(
        agent,
        MAIL,
        "digest-subscribe",
        &[("source", source), ("address", address), ("every", every)],
    )
}

fn field_value(answer: &Element, var: &str) -> Option<String> {
    let command = answer.get_child("command", NS_COMMANDS)?;
    let form = command.get_child("x", "jabber:x:data")?;
    form.children()
        .find(|f| f.name() == "field" && f.attr("var") == Some(var))
        .and_then(|f| f.get_child("value", "jabber:x:data"))
        .map(Element::text)
}

/// Subscribes, reads the code from the mailed verification, confirms it; returns the id.
fn subscribe_verified(
    agent: &Agent,
    capture: &SmtpCapture,
    source: &str,
    address: &str,
    every: &str,
) -> String {
    let answer = subscribe(agent, source, address, every);
    let note = command_note(&answer);
    assert!(
        note.contains("verification code was mailed"),
        "{}",
        String::from(&answer)
    );
    let id = field_value(&answer, "id").expect("the subscription id");
    let mail = capture.expect_mail(T);
    assert_eq!(mail.rcpt_tos, vec![address.to_string()]);
    let text = mail.text().unwrap_or_default().to_string();
    let code = text
        .lines()
        .find_map(|l| l.strip_prefix("Verification code: "))
        .unwrap_or_else(|| panic!("no code in {text}"))
        .trim()
        .to_string();
    let answer = run_command(agent, MAIL, "digest-verify", &[("code", &code)]);
    assert!(
        command_note(&answer).starts_with("Confirmed."),
        "{}",
        String::from(&answer)
    );
    id
}

/// (mailto address, https URL) from a digest's List-Unsubscribe.
fn unsubscribe_targets(mail: &CapturedMail) -> (String, String) {
    let header: String = mail
        .header("List-Unsubscribe")
        .expect("List-Unsubscribe")
        .split_whitespace()
        .collect();
    let mut targets = header.split(',').map(|t| {
        t.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    });
    let mailto = targets.next().unwrap();
    let url = targets.next().unwrap();
    (
        mailto
            .strip_prefix("mailto:")
            .expect("mailto first")
            .to_string(),
        url,
    )
}

fn digest_for(capture: &SmtpCapture, address: &str, timeout: Duration) -> CapturedMail {
    let mail = capture.expect_mail(timeout);
    assert_eq!(mail.rcpt_tos, vec![address.to_string()], "{}", mail.raw);
    mail
}

/// bob@example.net mails alice's alias through the gateway's listener.
fn bob_mails_alice(smtp: u16, subject: &str, text: &str) {
    let raw = format!("From: bob@example.net\r\nSubject: {subject}\r\n\r\n{text}\r\n");
    let sent = send_mail(smtp, "bob@example.net", "alice@mail.localhost", &raw);
    assert!(sent.ok, "{}", sent.transcript);
}

fn start(
    dir: &std::path::Path,
    prosody: &common::Prosody,
    capture: &SmtpCapture,
    smtp: u16,
) -> common::Gateway {
    start_gateway(dir, &config(prosody, &capture.addr(), smtp, DIGEST))
}

#[test]
fn a_busy_room_arrives_as_one_digest_and_both_unsubscribe_ways_stop_it() {
    let dir = workdir("digest-room");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let gw = start(dir.path(), &prosody, &capture, smtp);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let bob = user(dir.path(), &prosody, "bob@localhost");
    join(&bob, "bob");
    // Only those the room vouches for may take its digest (see e2e_hostile_muc).
    join(&alice, "alice");
    vouch(&alice, &gw, ROOM);
    vouch(&bob, &gw, ROOM);

    // Refusals come back as XMPP errors with the reason.
    let bad = subscribe(&alice, ROOM, "alice@example.net", "1");
    assert_eq!(
        common::error_condition(&bad).as_deref(),
        Some("not-acceptable")
    );
    assert!(
        common::error_text(&bad).contains("not an interval"),
        "{}",
        String::from(&bad)
    );
    let bad = subscribe(&alice, "lounge", "alice@example.net", "8s");
    assert!(
        common::error_text(&bad).contains("give a room JID"),
        "{}",
        String::from(&bad)
    );
    let bad = subscribe(&alice, ROOM, "not an address", "8s");
    assert_eq!(
        common::error_condition(&bad).as_deref(),
        Some("jid-malformed")
    );
    let wrong = run_command(&alice, MAIL, "digest-verify", &[("code", "000000")]);
    assert_eq!(
        common::error_condition(&wrong).as_deref(),
        Some("item-not-found")
    );
    capture.expect_no_mail(Duration::from_millis(200));

    // Two subscribers; the gateway joins once.
    let alice_id = subscribe_verified(&alice, &capture, ROOM, "alice@example.net", "8s");
    expect_gateway_joined(&bob);
    let carol_id = subscribe_verified(&bob, &capture, ROOM, "carol@example.net", "8s");
    let list = command_note(&run_command(&alice, MAIL, "digest-list", &[]));
    assert!(
        list.contains(&format!(
            "{alice_id}: {ROOM} to alice@example.net, every 8s (active"
        )),
        "{list}"
    );
    assert!(!list.contains(&carol_id), "only alice's own: {list}");

    // 20 messages in one period: one mail each, with all 20, escaped in HTML.
    for n in 0..20 {
        let text = if n == 7 {
            "<b>not bold</b> & more".to_string()
        } else {
            format!("hello {n}")
        };
        say(&bob, &text, &format!("g{n}"));
    }
    let mut digests = vec![
        capture.expect_mail(Duration::from_secs(20)),
        capture.expect_mail(Duration::from_secs(20)),
    ];
    digests.sort_by(|a, b| a.rcpt_tos.cmp(&b.rcpt_tos));
    assert_eq!(digests[0].rcpt_tos, vec!["alice@example.net".to_string()]);
    assert_eq!(digests[1].rcpt_tos, vec!["carol@example.net".to_string()]);
    for mail in &digests {
        let subject = mail.decoded_header("Subject").unwrap();
        assert!(
            subject.contains(&format!("20 new messages in {ROOM}")),
            "{subject}"
        );
        let text = mail.text().unwrap();
        for n in (0..20).filter(|n| *n != 7) {
            assert!(
                text.contains(&format!("hello {n}\n")),
                "hello {n} in {text}"
            );
        }
        assert!(
            text.contains("20 messages from 1 people")
                || text.contains("20 messages from 1 person"),
            "{text}"
        );
        let html = mail.part("text/html").unwrap();
        assert!(
            html.contains("&lt;b&gt;not bold&lt;/b&gt; &amp; more") && !html.contains("<b>not"),
            "{html}"
        );
        assert!(html.contains(&format!("xmpp:{ROOM}?join")), "{html}");
        assert_eq!(
            mail.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    }
    // The next period has nothing to say: nothing is sent.
    capture.expect_no_mail(Duration::from_secs(10));

    // Carol unsubscribes by mail; the GET of alice's link only asks, its POST ends it.
    let (carol_mailto, _) = unsubscribe_targets(&digests[1]);
    assert!(
        carol_mailto.starts_with("unsubscribe+") && carol_mailto.ends_with("@mail.localhost"),
        "{carol_mailto}"
    );
    let sent = send_mail(
        smtp,
        "carol@example.net",
        &carol_mailto,
        "From: carol@example.net\r\nSubject: unsubscribe\r\n\r\nstop\r\n",
    );
    assert!(sent.ok, "{}", sent.transcript);
    let (_, alice_url) = unsubscribe_targets(&digests[0]);
    let (status, page) = http_request("GET", &alice_url, &[], b"");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form method=\"post\""), "{page}");
    let list = command_note(&run_command(&alice, MAIL, "digest-list", &[]));
    assert!(list.contains(&alice_id), "a GET ends nothing: {list}");
    let (status, page) = http_request(
        "POST",
        &alice_url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(status, 200, "{page}");
    let (status, _) = http_request("POST", &alice_url, &[], b"List-Unsubscribe=One-Click");
    assert_eq!(status, 404, "a second click finds nothing");
    // No subscriber left: the gateway leaves the room, and nothing more is mailed.
    expect_gateway_left(&bob);
    say(&bob, "anyone?", "late");
    capture.expect_no_mail(Duration::from_secs(10));
    assert_eq!(
        command_note(&run_command(&alice, MAIL, "digest-list", &[])),
        "You have no digests."
    );
    assert_eq!(
        command_note(&run_command(&bob, MAIL, "digest-list", &[])),
        "You have no digests."
    );
}

#[test]
fn a_restart_in_the_middle_of_a_period_loses_nothing() {
    let dir = workdir("digest-restart");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let mut gw = start(dir.path(), &prosody, &capture, smtp);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let bob = user(dir.path(), &prosody, "bob@localhost");
    join(&bob, "bob");
    join(&alice, "alice");
    vouch(&alice, &gw, ROOM);
    subscribe_verified(&alice, &capture, ROOM, "alice@example.net", "20s");
    expect_gateway_joined(&bob);
    for n in 0..8 {
        say(&bob, &format!("before {n}"), &format!("b{n}"));
    }
    // Give the gateway a moment to collect, then stop it mid-period.
    std::thread::sleep(Duration::from_millis(500));
    assert!(gw.sigterm_and_wait(T).is_some_and(|s| s.success()));
    expect_gateway_left(&bob);
    // Said while the gateway is away: the room keeps it in its history.
    for n in 0..6 {
        say(&bob, &format!("away {n}"), &format!("w{n}"));
    }
    let _gw = start(dir.path(), &prosody, &capture, smtp);
    expect_gateway_joined(&bob);
    for n in 0..6 {
        say(&bob, &format!("after {n}"), &format!("a{n}"));
    }
    let mail = digest_for(&capture, "alice@example.net", Duration::from_secs(40));
    let subject = mail.decoded_header("Subject").unwrap();
    assert!(
        subject.contains(&format!("20 new messages in {ROOM}")),
        "{subject}\n{}",
        mail.text().unwrap()
    );
    let text = mail.text().unwrap();
    for prefix in ["before", "away", "after"] {
        assert!(
            text.contains(&format!("{prefix} 0\n")),
            "{prefix} in {text}"
        );
    }
    // Each message once.
    assert_eq!(text.matches("before 7\n").count(), 1, "{text}");
}

#[test]
fn messages_missed_while_offline_are_mailed_unless_the_user_comes_back() {
    let dir = workdir("digest-missed");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    // Missed after 3 s: long enough for alice to come back in the last part.
    let digest = "  digest: {min_interval: 1s, missed_after: 3s}\n";
    let _gw = start_gateway(dir.path(), &config(&prosody, &capture.addr(), smtp, digest));
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice", "Alice").attr("type"),
        Some("result")
    );
    // The transport asks for alice's presence at registration; she shares it (as a client
    // asks its user to): that is how the gateway knows when she is away.
    alice.expect(T, "the transport's subscription request", |s| {
        s.name() == "presence"
            && s.attr("type") == Some("subscribe")
            && s.attr("from") == Some(MAIL)
    });
    alice.send("<presence to='mail.localhost' type='subscribed'/>");
    subscribe_verified(&alice, &capture, "missed", "alice@example.net", "2s");
    // Online: a mail to alice reaches her in XMPP and is not mailed back.
    bob_mails_alice(smtp, "one", "while you are here");
    alice.expect(T, "the mail as chat", |s| {
        s.name() == "message" && body(s).contains("while you are here")
    });
    capture.expect_no_mail(Duration::from_secs(4));
    alice.quit();
    std::thread::sleep(Duration::from_millis(500));
    bob_mails_alice(smtp, "two", "while you are away");
    let mail = digest_for(&capture, "alice@example.net", Duration::from_secs(15));
    let text = mail.text().unwrap();
    assert!(
        text.contains("Missed messages") && text.contains("while you are away"),
        "{text}"
    );
    assert!(text.contains("bob%example.net@mail.localhost"), "{text}");
    assert!(!text.contains("while you are here"), "{text}");
    capture.expect_no_mail(Duration::from_secs(4));

    // Missed, but alice is back before missed_after: her client has it; nothing is mailed.
    bob_mails_alice(smtp, "three", "brief absence");
    let _alice = user(dir.path(), &prosody, "alice@localhost");
    capture.expect_no_mail(Duration::from_secs(7));
}

#[test]
fn an_irc_channel_is_followed_through_the_irc_transport() {
    const IRC: &str = "irc.localhost";
    let dir = workdir("digest-irc");
    let prosody = common::Prosody::start(
        dir.path(),
        &[(MAIL, SECRET), (IRC, "irc-secret")],
        &[("alice", "localhost", "pw")],
    );
    let ircd = common::Inspircd::start(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let irc = format!(
        "irc:\n  domain: {IRC}\n  secret: irc-secret\n  quit_grace: 1s\n  networks:\n    \"127.0.0.1\": {{port: {}, tls: false, throttle: false}}\n",
        ircd.port()
    );
    let _gw = start_gateway(
        dir.path(),
        &config(&prosody, &capture.addr(), smtp, &format!("{DIGEST}{irc}")),
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let dave = common::IrcClient::connect(ircd.port(), "dave");
    dave.join("#news");

    let channel = format!("#news%127.0.0.1@{IRC}");
    // Only those in the channel through the gateway may take its digest.
    alice.wait_for_service(IRC, T);
    common::join_room(&alice, &channel, "alice");
    subscribe_verified(&alice, &capture, &channel, "alice@example.net", "6s");
    // The gateway's own IRC connection joins with the digest nick.
    dave.expect(T, "the digest nick joining", |l| {
        l.command == "JOIN" && l.is_from("digest")
    });
    for n in 0..3 {
        dave.privmsg("#news", &format!("headline {n}"));
    }
    let mail = digest_for(&capture, "alice@example.net", Duration::from_secs(20));
    let subject = mail.decoded_header("Subject").unwrap();
    assert!(
        subject.contains(&format!("3 new messages in {channel}")),
        "{subject}"
    );
    let text = mail.text().unwrap();
    assert!(
        text.contains("dave (3)") && text.contains("headline 2"),
        "{text}"
    );
}
