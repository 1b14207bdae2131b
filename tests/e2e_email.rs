//! End-to-end email: real Prosody, slixmpp users, the gateway, a real aiosmtpd capturing
//! what the gateway relays, and swaks sending mail into the gateway's SMTP listener.

mod common;

use common::mail::*;
use common::smtp::{send_mail, send_mail_with, smtp_session, CaptureOptions, SmtpCapture, TlsMode};
use common::{escape_xml, free_port, workdir};
use std::time::Duration;

fn chat(agent: &common::Agent, to: &str, subject: Option<&str>, text: &str, id: &str) {
    let subject = subject
        .map(|s| format!("<subject>{s}</subject>"))
        .unwrap_or_default();
    agent.send(&format!(
        "<message type='chat' id='{id}' to='{to}'>{subject}<body>{}</body></message>",
        escape_xml(text)
    ));
}

#[test]
fn direct_mail_both_ways_in_one_thread_with_refusals() {
    let dir = workdir("mail-direct");
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let postmaster = "  postmaster: \"Alice@Localhost\"\n";
    let _gw = start_gateway(
        dir.path(),
        &config(&prosody, &capture.addr(), smtp, postmaster),
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    let bob = user(dir.path(), &prosody, "bob@localhost");

    // Aliases: validated and unique.
    assert_eq!(
        register(&alice, "Alice.A", "Alice Ëxample").attr("type"),
        Some("result")
    );
    let taken = register(&bob, "alice.a", "Bob");
    assert_eq!(common::error_condition(&taken).as_deref(), Some("conflict"));
    let bad = register(&bob, "postmaster", "Bob");
    assert_eq!(
        common::error_condition(&bad).as_deref(),
        Some("not-acceptable")
    );

    // Out: From with the name, a derived subject, a Message-ID.
    let bob_mail = contact("bob@example.net");
    chat(&alice, &bob_mail, None, "Lunch today?\nAt five.", "m1");
    let first = capture.expect_mail(T);
    assert_eq!(first.mail_from, "alice.a@mail.localhost");
    assert_eq!(first.rcpt_tos, vec!["bob@example.net".to_string()]);
    let from = first.decoded_header("From").unwrap();
    assert!(
        from.contains("Alice Ëxample") && from.contains("<alice.a@mail.localhost>"),
        "{from}"
    );
    assert_eq!(
        first.decoded_header("Subject").as_deref(),
        Some("Lunch today?")
    );
    let first_id = first
        .header("Message-ID")
        .expect("a Message-ID")
        .to_string();
    assert!(first.header("In-Reply-To").is_none());
    assert!(first.body.contains("At five."), "{}", first.body);

    // A subject with CR/LF cannot add a header; the mail continues the thread.
    chat(
        &alice,
        &bob_mail,
        Some("Hi&#13;&#10;Bcc: victim@example.net"),
        "ok",
        "m2",
    );
    let second = capture.expect_mail(T);
    assert_eq!(second.rcpt_tos, vec!["bob@example.net".to_string()]);
    assert!(second.header("Bcc").is_none(), "{}", second.raw);
    assert_eq!(
        second.decoded_header("Subject").as_deref(),
        Some("Hi Bcc: victim@example.net")
    );
    assert_eq!(second.header("In-Reply-To"), Some(first_id.as_str()));
    assert!(second.header("References").unwrap().contains(&first_id));

    // In: a reply with a quote arrives as its new text, from the sender's JID.
    let reply = format!(
        "From: Bob <bob@example.net>\r\nTo: alice.a@mail.localhost\r\nSubject: Re: Lunch today?\r\n\
         Message-ID: <r1@example.net>\r\nIn-Reply-To: {first_id}\r\n\r\n\
         Five is fine.\r\n\r\nOn Mon, 23 Nov 2026, Alice wrote:\r\n> Lunch today?\r\n"
    );
    let sent = send_mail(smtp, "bob@example.net", "alice.a@mail.localhost", &reply);
    assert!(sent.ok, "{}", sent.transcript);
    let got = alice.expect(T, "bob's reply", |s| {
        s.name() == "message" && s.attr("from") == Some(bob_mail.as_str())
    });
    assert_eq!(body(&got), "Five is fine.");
    assert_eq!(subject(&got), "Re: Lunch today?");
    // Alice's answer threads under bob's message.
    chat(&alice, &bob_mail, None, "See you", "m3");
    let third = capture.expect_mail(T);
    assert_eq!(third.header("In-Reply-To"), Some("<r1@example.net>"));

    // Unknown alias: 550 at RCPT; too big: 552; nothing reaches anyone.
    let unknown = send_mail(
        smtp,
        "bob@example.net",
        "nobody@mail.localhost",
        "Subject: x\r\n\r\nx\r\n",
    );
    assert_eq!(unknown.code, 550, "{}", unknown.transcript);
    let other_domain = send_mail(
        smtp,
        "bob@example.net",
        "alice.a@example.org",
        "Subject: x\r\n\r\nx\r\n",
    );
    assert_eq!(other_domain.code, 550, "{}", other_domain.transcript);
    // postmaster (RFC 5321 §4.5.1) reaches the configured JID (registered), in any case.
    let to_postmaster = send_mail(
        smtp,
        "mx@example.net",
        "PostMaster@mail.localhost",
        "From: mx@example.net\r\nSubject: bounce storm\r\n\r\nplease look\r\n",
    );
    assert!(to_postmaster.ok, "{}", to_postmaster.transcript);
    alice.expect(T, "postmaster mail", |s| subject(s) == "bounce storm");
    let lines = format!("{}\r\n", "x".repeat(70)).repeat(430); // 30 KB in 72-byte lines
    let huge = format!("Subject: big\r\n\r\n{lines}");
    let big = send_mail(smtp, "bob@example.net", "alice.a@mail.localhost", &huge);
    assert_eq!(big.code, 552, "{}", big.transcript);
    alice.expect_none(Duration::from_secs(1), |s| {
        subject(s) == "big" || body(s) == "x"
    });

    // Bad addresses and unregistered users get clear errors.
    chat(&alice, &contact("bob"), None, "x", "m4");
    assert_eq!(expect_error(&alice, "m4").0, "jid-malformed");
    chat(&bob, &bob_mail, None, "x", "b1");
    assert_eq!(expect_error(&bob, "b1").0, "registration-required");

    // Raw SMTP: commands out of order are refused.
    let replies = smtp_session(
        smtp,
        &["EHLO test", "RCPT TO:<alice.a@mail.localhost>", "QUIT"],
    );
    assert!(replies.iter().any(|r| r.starts_with("503")), "{replies:?}");
}

#[test]
fn relay_failures_are_retried_or_returned_and_accepted_mail_waits_for_the_link() {
    let dir = workdir("mail-durable");
    let mut prosody = prosody(dir.path());
    let capture = SmtpCapture::start(
        dir.path(),
        CaptureOptions {
            reject_rcpt: vec!["gone@example.net".into()],
            ..CaptureOptions::default()
        },
    );
    let smtp = free_port();
    let gw = start_gateway(dir.path(), &config(&prosody, &capture.addr(), smtp, ""));
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice", "Alice").attr("type"),
        Some("result")
    );

    // 451 twice, then accepted: sent exactly once.
    capture.fail_next(2, 451);
    chat(
        &alice,
        &contact("bob@example.net"),
        None,
        "third time",
        "m1",
    );
    let mail = capture.expect_mail(Duration::from_secs(20));
    assert!(mail.body.contains("third time"));
    capture.expect_no_mail(Duration::from_secs(2));

    // 550 from the relay: an error with its reason.
    chat(&alice, &contact("gone@example.net"), None, "hello?", "m2");
    let (condition, why) = expect_error(&alice, "m2");
    assert_eq!(condition, "not-acceptable");
    assert!(why.contains("550"), "{why}");

    // Mail accepted while the XMPP server is down waits in the gateway's store, across a
    // crash, and is delivered once the server is back.
    drop(alice);
    prosody.stop();
    let sent = send_mail(
        smtp,
        "carol@example.com",
        "alice@mail.localhost",
        "From: carol@example.com\r\nSubject: while away\r\n\r\nStill there?\r\n",
    );
    assert!(sent.ok, "{}", sent.transcript);
    let mut gw = gw;
    gw.kill9();
    drop(gw);
    prosody.restart();
    let alice = common::Agent::connect(
        dir.path(),
        "alice@localhost",
        "pw",
        prosody.c2s_port(),
        true,
    );
    let _gw = start_gateway(dir.path(), &config(&prosody, &capture.addr(), smtp, ""));
    let got = alice.expect(T, "carol's mail", |s| {
        s.name() == "message" && body(s) == "Still there?"
    });
    assert_eq!(
        got.attr("from"),
        Some(contact("carol@example.com").as_str())
    );
    assert_eq!(subject(&got), "while away");
}

#[test]
fn tls_both_ways_with_relay_login_and_a_refused_password() {
    let dir = workdir("mail-tls");
    let prosody = prosody(dir.path());
    // The relay wants STARTTLS before MAIL, and a login; its certificate is signed by a
    // private CA that only `ca_file` makes trusted.
    let capture = SmtpCapture::start(
        dir.path(),
        CaptureOptions {
            auth: Some(("gw".into(), "pw".into())),
            tls: TlsMode::StarttlsRequired,
            ..CaptureOptions::default()
        },
    );
    let relay = |password: &str| {
        format!(
            r#"{{relay: "{}", security: starttls, username: gw, password: "{password}", ca_file: "{}", timeout: 5s}}"#,
            capture.addr(),
            capture.ca_path().display()
        )
    };
    // Our listener offers STARTTLS with the capture's certificate (localhost, 127.0.0.1).
    let listener_tls = format!(
        "  tls: {{cert: \"{}\", key: \"{}\"}}\n",
        capture.dir().join("cert.pem").display(),
        capture.dir().join("key.pem").display()
    );
    let smtp = free_port();
    let gw = start_gateway(
        dir.path(),
        &config_with_smtp(&prosody, &relay("pw"), smtp, &listener_tls),
    );
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice", "Alice").attr("type"),
        Some("result")
    );

    // Out: STARTTLS (the private CA trusted), then AUTH as gw.
    let bob_mail = contact("bob@example.net");
    chat(&alice, &bob_mail, None, "Over TLS", "m1");
    let mail = capture.expect_mail(T);
    assert!(mail.tls.is_some(), "{mail:#?}");
    assert_eq!(mail.auth_user.as_deref(), Some("gw"));
    assert_eq!(mail.rcpt_tos, vec!["bob@example.net".to_string()]);
    assert!(mail.body.contains("Over TLS"), "{}", mail.body);

    // In: EHLO offers STARTTLS; swaks takes it and the mail reaches alice.
    let replies = smtp_session(smtp, &["EHLO client.test", "QUIT"]);
    assert!(
        replies.get(1).is_some_and(|r| r.contains("STARTTLS")),
        "{replies:?}"
    );
    let sent = send_mail_with(
        smtp,
        "bob@example.net",
        "alice@mail.localhost",
        "From: Bob <bob@example.net>\r\nSubject: sealed\r\n\r\nSent over TLS.\r\n",
        &["--tls"],
    );
    assert!(sent.ok, "{}", sent.transcript);
    assert!(
        sent.transcript.contains("TLS started"),
        "{}",
        sent.transcript
    );
    let got = alice.expect(T, "bob's mail over TLS", |s| {
        s.name() == "message" && s.attr("from") == Some(bob_mail.as_str())
    });
    assert_eq!(body(&got), "Sent over TLS.");
    assert_eq!(subject(&got), "sealed");

    // A password the relay refuses (535) is permanent for lettre: the user's message
    // comes back at once with the relay's reason, and nothing is sent.
    drop(gw);
    let gw = start_gateway(
        dir.path(),
        &config_with_smtp(&prosody, &relay("wrong-pw"), smtp, &listener_tls),
    );
    chat(&alice, &bob_mail, None, "Refused", "m2");
    let (condition, why) = expect_error(&alice, "m2");
    assert_eq!(condition, "not-acceptable");
    assert!(why.contains("535"), "{why}");
    assert!(!why.contains("wrong-pw"), "{why}");
    capture.expect_no_mail(Duration::from_secs(1));

    // Implicit TLS (port-465 style) trusts `ca_file` too.
    let implicit = SmtpCapture::start(
        dir.path(),
        CaptureOptions {
            tls: TlsMode::Implicit,
            ..CaptureOptions::default()
        },
    );
    let smtp_config = format!(
        r#"{{relay: "{}", security: tls, ca_file: "{}", timeout: 5s}}"#,
        implicit.addr(),
        implicit.ca_path().display()
    );
    drop(gw);
    let _gw = start_gateway(
        dir.path(),
        &config_with_smtp(&prosody, &smtp_config, smtp, &listener_tls),
    );
    chat(&alice, &bob_mail, None, "Wrapped", "m3");
    let mail = implicit.expect_mail(T);
    assert!(mail.tls.is_some(), "{mail:#?}");
    assert!(mail.body.contains("Wrapped"), "{}", mail.body);
}
