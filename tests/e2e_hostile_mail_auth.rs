//! Forged senders against the real gateway (hostile.md M3): a real DNS server (Unbound on
//! loopback) publishes a DKIM key, SPF and DMARC records; mail signed with that key
//! arrives as its sender, a forged From (`CEO <ceo@example.org>`, no or a broken
//! signature) is refused or delivered marked, as configured, and never continues a thread.

mod common;

use common::dns::Dns;
use common::mail::*;
use common::mail_hostile::{http_port, metric, DkimKey};
use common::smtp::{send_mail, CaptureOptions, SmtpCapture};
use common::{body, free_port, workdir, Agent};
use std::path::Path;

const ALIAS: &str = "alice.v@mail.localhost";

/// The test domains: signed.test signs (its SPF allows only 192.0.2.1, so only DKIM can
/// vouch for mail from loopback), spf.test sends from 127.0.0.1 (SPF). Nothing else
/// exists (example.org is NXDOMAIN).
fn dns(dir: &Path, key: &DkimKey) -> Dns {
    Dns::start(
        dir,
        &[
            key.record(),
            "signed.test. TXT \"v=spf1 ip4:192.0.2.1 -all\"".into(),
            "_dmarc.signed.test. TXT \"v=DMARC1; p=reject\"".into(),
            "spf.test. TXT \"v=spf1 ip4:127.0.0.1 -all\"".into(),
            "_dmarc.spf.test. TXT \"v=DMARC1; p=quarantine\"".into(),
        ],
    )
}

fn signed_mail(key: &DkimKey) -> String {
    key.sign(&format!(
        "From: Boss <boss@signed.test>\r\nTo: {ALIAS}\r\nSubject: Numbers\r\n\
         Message-ID: <s1@signed.test>\r\n\r\nQuarterly numbers attached.\r\n"
    ))
}

const FORGED: &str = "From: CEO <ceo@example.org>\r\nTo: alice.v@mail.localhost\r\n\
    Subject: Urgent\r\nMessage-ID: <f1@example.org>\r\n\r\nwire money\r\n";

struct Rig {
    _dir: tempfile::TempDir,
    _dns: Dns,
    _prosody: common::Prosody,
    capture: SmtpCapture,
    gw: common::Gateway,
    smtp: u16,
    http: u16,
    alice: Agent,
    key: DkimKey,
}

fn rig(name: &str, unverified: &str) -> Rig {
    rig_with(name, unverified, "")
}

/// `auth_extra`: more `email.auth` keys (flow mapping entries, with a leading comma).
fn rig_with(name: &str, unverified: &str, auth_extra: &str) -> Rig {
    let dir = workdir(name);
    let key = DkimKey::new("signed.test", "sb");
    let dns = dns(dir.path(), &key);
    let prosody = prosody(dir.path());
    let capture = SmtpCapture::start(dir.path(), CaptureOptions::default());
    let smtp = free_port();
    let extra = format!(
        "  auth: {{unverified: {unverified}, dns: \"{}\", timeout: 5s{auth_extra}}}\n",
        dns.addr()
    );
    let config = config(&prosody, &capture.addr(), smtp, &extra);
    let http = http_port(&config);
    let gw = start_gateway(dir.path(), &config);
    let alice = user(dir.path(), &prosody, "alice@localhost");
    assert_eq!(
        register(&alice, "alice.v", "Alice").attr("type"),
        Some("result")
    );
    Rig {
        _dir: dir,
        _dns: dns,
        _prosody: prosody,
        capture,
        gw,
        smtp,
        http,
        alice,
        key,
    }
}

impl Rig {
    fn received(&self, from: &str, subject: &str) -> String {
        let jid = contact(from);
        let got = self.alice.expect(T, subject, |s| {
            s.name() == "message"
                && s.attr("from") == Some(jid.as_str())
                && common::mail::subject(s) == subject
        });
        body(&got)
    }
}

#[test]
fn marked_mode_delivers_forgeries_marked_and_they_never_thread() {
    let rig = rig("mail-auth-mark", "mark");
    let send = |from: &str, raw: &str| {
        let sent = send_mail(rig.smtp, from, ALIAS, raw);
        assert!(sent.ok, "{}\n{}", sent.transcript, rig.gw.log());
    };
    // Signed by the From domain (DMARC, DKIM aligned): shown as it is.
    send("boss@signed.test", &signed_mail(&rig.key));
    assert_eq!(
        rig.received("boss@signed.test", "Numbers"),
        "Quarterly numbers attached."
    );
    // SPF of the From domain, under its DMARC record: verified too.
    send(
        "news@spf.test",
        "From: news@spf.test\r\nSubject: Letter\r\n\r\nHello from spf.test\r\n",
    );
    assert_eq!(
        rig.received("news@spf.test", "Letter"),
        "Hello from spf.test"
    );

    // A From nobody vouches for, the same one under a domain that signs, and a signed mail
    // changed after signing: all delivered, marked.
    send("ceo@example.org", FORGED);
    assert_eq!(
        rig.received("ceo@example.org", "Urgent"),
        "[unverified sender] wire money"
    );
    let unsigned = "From: Boss <boss@signed.test>\r\nSubject: Pay now\r\n\r\nwire it\r\n";
    send("boss@signed.test", unsigned);
    assert_eq!(
        rig.received("boss@signed.test", "Pay now"),
        "[unverified sender] wire it"
    );
    let tampered = signed_mail(&rig.key)
        .replace("Quarterly numbers attached.", "Wire 1M to account 42.")
        .replace("Message-ID: <s1@", "Message-ID: <s2@");
    send("boss@signed.test", &tampered);
    assert_eq!(
        rig.received("boss@signed.test", "Numbers"),
        "[unverified sender] Wire 1M to account 42."
    );
    assert_eq!(
        metric(rig.http, "switchboard_email_unverified_marked_total"),
        3
    );

    // Alice answers: the forged mail set no thread (no Re: Urgent, no In-Reply-To), while
    // the verified one continues its own (the tampered copy did not move it either).
    let chat = |to: &str, text: &str| {
        rig.alice.send(&format!(
            "<message type='chat' to='{}'><body>{text}</body></message>",
            contact(to)
        ))
    };
    chat("ceo@example.org", "Who is this?");
    let answer = rig.capture.expect_mail(T);
    assert_eq!(answer.rcpt_tos, vec!["ceo@example.org".to_string()]);
    assert_eq!(
        answer.decoded_header("Subject").as_deref(),
        Some("Who is this?")
    );
    assert!(answer.header("In-Reply-To").is_none(), "{}", answer.raw);
    chat("boss@signed.test", "Thanks");
    let answer = rig.capture.expect_mail(T);
    assert_eq!(
        answer.decoded_header("Subject").as_deref(),
        Some("Re: Numbers")
    );
    assert_eq!(answer.header("In-Reply-To"), Some("<s1@signed.test>"));
}

#[test]
fn refuse_mode_refuses_forgeries_at_data_and_stores_nothing() {
    let rig = rig("mail-auth-refuse", "refuse");
    for (from, raw) in [
        ("ceo@example.org", FORGED.to_string()),
        (
            "boss@signed.test",
            signed_mail(&rig.key).replace("Quarterly", "Yearly"),
        ),
    ] {
        let sent = send_mail(rig.smtp, from, ALIAS, &raw);
        assert_eq!(sent.code, 554, "{}", sent.transcript);
        assert!(
            sent.text.contains("5.7.1 Sender not verified"),
            "{}",
            sent.text
        );
    }
    assert_eq!(
        metric(rig.http, "switchboard_email_unverified_refused_total"),
        2
    );
    // The signed mail sent after them is the first that reaches alice.
    let sent = send_mail(rig.smtp, "boss@signed.test", ALIAS, &signed_mail(&rig.key));
    assert!(sent.ok, "{}", sent.transcript);
    let first = rig.alice.expect(T, "a message", |s| {
        s.name() == "message" && !body(s).is_empty()
    });
    assert_eq!(
        first.attr("from"),
        Some(contact("boss@signed.test").as_str())
    );
    assert_eq!(body(&first), "Quarterly numbers attached.");
}

#[test]
fn a_trusted_relay_vouches_through_its_authentication_results_only() {
    let relay = ", trusted_relays: [{ip: 127.0.0.1, authserv_id: mx.relay.test}]";
    let rig = rig_with("mail-auth-relay", "refuse", relay);
    let vouched = format!(
        "Authentication-Results: mx.relay.test; dkim=pass header.d=example.org;\r\n \
         dmarc=pass (p=reject) header.from=example.org\r\n{FORGED}"
    );
    // From the relay's address: its results decide (example.org has no DNS here at all).
    let sent = send_mail(rig.smtp, "ceo@example.org", ALIAS, &vouched);
    assert!(sent.ok, "{}\n{}", sent.transcript, rig.gw.log());
    assert_eq!(rig.received("ceo@example.org", "Urgent"), "wire money");
    // The same header from another address is a forgery like any other.
    let sent = common::smtp::send_mail_with(
        rig.smtp,
        "ceo@example.org",
        ALIAS,
        &vouched,
        &["--local-interface", "127.0.0.2"],
    );
    assert_eq!(sent.code, 554, "{}", sent.transcript);
    // From the relay, results that do not pass, or of another authserv-id, vouch for nothing.
    for header in [
        "Authentication-Results: mx.relay.test; dmarc=fail header.from=example.org\r\n",
        "Authentication-Results: other.test; dmarc=pass header.from=example.org\r\n",
    ] {
        let sent = send_mail(
            rig.smtp,
            "ceo@example.org",
            ALIAS,
            &format!("{header}{FORGED}"),
        );
        assert_eq!(sent.code, 554, "{header}: {}", sent.transcript);
    }
    // Mail the relay has no results for is still checked by the gateway itself.
    let sent = send_mail(rig.smtp, "boss@signed.test", ALIAS, &signed_mail(&rig.key));
    assert!(sent.ok, "{}", sent.transcript);
    assert_eq!(
        rig.received("boss@signed.test", "Numbers"),
        "Quarterly numbers attached."
    );
    assert_eq!(
        metric(rig.http, "switchboard_email_unverified_refused_total"),
        3
    );
}
