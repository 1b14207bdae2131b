//! Stored before acknowledged, delivered exactly once: SMS webhooks (a Twilio-shaped
//! endpoint and a real Kannel) and inbound mail taken while the XMPP server is down, the
//! gateway SIGKILLed, everything brought back; replayed signed webhooks; a store that
//! fails answers 5xx/4xx, not 2xx/250.

mod common;

use common::kannel::Kannel;
use common::sms::{ALICE_NUMBER, AUTH_TOKEN, KANNEL_SECRET, PHONE, SMS};
use common::{body, free_port, http_get, send_mail, workdir, Agent, FakeTwilio, Gateway, Prosody};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);
const SMS_SECRET: &str = "sms-secret";
const MAIL: &str = "mail.localhost";
const MAIL_SECRET: &str = "mail-secret";

fn prosody(dir: &Path) -> Prosody {
    Prosody::start(
        dir,
        &[(SMS, SMS_SECRET), (MAIL, MAIL_SECRET)],
        &[("alice", "localhost", "pw")],
    )
}

/// Ports the gateway listens on, kept across its restarts.
struct Ports {
    http: u16,
    smtp: u16,
}

/// SMS with `provider` (a YAML flow mapping) and, when `mail`, the email transport too.
fn config(prosody: &Prosody, ports: &Ports, provider: &str, mail: bool) -> String {
    let mut yaml = format!(
        r#"
xmpp:
  server: "127.0.0.1:{}"
  allow: ["localhost"]
  keepalive: 5s
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:{http}"
  public_url: "http://127.0.0.1:{http}"
sms:
  domain: {SMS}
  secret: "${{SMS_SECRET}}"
  provider: {provider}
  numbers: {{"{ALICE_NUMBER}": "alice@localhost"}}
  request_timeout: 5s
"#,
        prosody.component_port(),
        http = ports.http,
    );
    if mail {
        yaml.push_str(&format!(
            r#"email:
  domain: {MAIL}
  secret: "${{MAIL_SECRET}}"
  address_domain: {MAIL}
  smtp: {{relay: "127.0.0.1:{}", security: none, timeout: 5s}}
  listen: "127.0.0.1:{}"
  auth: {{trusted_relays: [{{ip: 127.0.0.1}}]}}
"#,
            free_port(),
            ports.smtp
        ));
    }
    yaml
}

fn start(dir: &Path, config: &str, mail: bool) -> Gateway {
    let gw = Gateway::start_with_env(
        dir,
        config,
        &[("SMS_SECRET", SMS_SECRET), ("MAIL_SECRET", MAIL_SECRET)],
    );
    gw.wait_for_log("Component link up", T);
    if mail {
        gw.wait_for_log("SMTP listening", T);
    }
    gw
}

/// Alice logged in, before the gateway is (back) up.
fn connect_alice(dir: &Path, prosody: &Prosody) -> Agent {
    Agent::connect(dir, "alice@localhost", "pw", prosody.c2s_port(), true)
}

/// Alice logged in, once the SMS transport answers her.
fn alice(dir: &Path, prosody: &Prosody) -> Agent {
    let agent = connect_alice(dir, prosody);
    agent.wait_for_service(SMS, T);
    agent
}

fn register_mail_alias(agent: &Agent) {
    agent.wait_for_service(MAIL, T);
    let id = agent.new_id();
    let answer = agent.iq(
        &format!(
            "<iq type='set' id='{id}' to='{MAIL}'><query xmlns='jabber:iq:register'>\
             <username>alice</username><nick>Alice</nick></query></iq>"
        ),
        &id,
        T,
    );
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
}

fn phone() -> String {
    format!("{PHONE}@{SMS}")
}

fn is_text(s: &minidom::Element, text: &str) -> bool {
    s.name() == "message" && body(s) == text
}

/// Expects `text` once: it arrives, and no second copy follows within `quiet`.
fn expect_once(agent: &Agent, text: &str, quiet: Duration) -> minidom::Element {
    let got = agent.expect(T, &format!("{text:?}"), |s| is_text(s, text));
    agent.expect_none(quiet, |s| is_text(s, text));
    got
}

/// The value of the metric line starting with `prefix` (`name{domain="…"}`).
fn metric(port: u16, prefix: &str) -> Option<u64> {
    let (code, text) = http_get(port, "/metrics");
    assert_eq!(code, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

/// Waits until the metric reaches `value`.
fn wait_metric(port: u16, prefix: &str, value: u64) {
    let deadline = Instant::now() + T;
    loop {
        let now = metric(port, prefix);
        if now == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{prefix} stayed {now:?}, not {value}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn waiting(domain: &str) -> String {
    format!("switchboard_inbound_events{{domain=\"{domain}\"}}")
}

fn mail_from_carol(subject: &str, id: &str, text: &str) -> String {
    format!("From: carol@example.com\r\nTo: alice@{MAIL}\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.com>\r\n\r\n{text}\r\n")
}

#[test]
fn webhooks_and_mail_taken_while_the_server_is_down_survive_sigkill_once_each() {
    let dir = workdir("hostile-durable");
    let mut prosody = prosody(dir.path());
    let fake = FakeTwilio::start(common::sms::ACCOUNT_SID, AUTH_TOKEN);
    let ports = Ports {
        http: free_port(),
        smtp: free_port(),
    };
    let provider = common::sms::twilio(&fake.api_base());
    let yaml = config(&prosody, &ports, &provider, true);
    let mut gw = start(dir.path(), &yaml, true);
    let user = alice(dir.path(), &prosody);
    register_mail_alias(&user);
    let hook = format!("http://127.0.0.1:{}/sms/twilio", ports.http);

    // (b) A webhook delivered while all is up carries a stanza id of its stored row; the
    // same signed request again (a replay, or Twilio retrying) is answered 200 and
    // delivers nothing new.
    let (code, answer) = fake.send_inbound_sid(&hook, "SMreplay0001", PHONE, ALICE_NUMBER, "first");
    assert_eq!(code, 200, "{answer}");
    let got = expect_once(&user, "first", Duration::from_millis(100));
    assert_eq!(got.attr("from"), Some(phone().as_str()));
    assert!(
        got.attr("id").is_some_and(|id| id.starts_with("sb-in-")),
        "{}",
        String::from(&got)
    );
    for _ in 0..3 {
        let (code, answer) =
            fake.send_inbound_sid(&hook, "SMreplay0001", PHONE, ALICE_NUMBER, "first");
        assert_eq!(code, 200, "{answer}");
    }
    user.expect_none(Duration::from_secs(2), |s| is_text(s, "first"));
    let dup = format!("switchboard_inbound_duplicates_total{{domain=\"{SMS}\"}}");
    assert_eq!(metric(ports.http, &dup), Some(3));

    // (a) The XMPP server goes away: what arrives now is answered only once stored.
    drop(user);
    prosody.stop();
    let started = Instant::now();
    let (code, answer) =
        fake.send_inbound_sid(&hook, "SMdown000001", PHONE, ALICE_NUMBER, "while down");
    let webhook_took = started.elapsed();
    assert_eq!(code, 200, "stored, so answered: {answer}");
    let sent = send_mail(
        ports.smtp,
        "carol@example.com",
        &format!("alice@{MAIL}"),
        &mail_from_carol("away", "m-down-1", "Still there?"),
    );
    assert!(sent.ok, "250 once stored: {}", sent.transcript);
    // Both wait in the store (the link is down), then the gateway crashes.
    wait_metric(ports.http, &waiting(SMS), 1);
    wait_metric(ports.http, &waiting(MAIL), 1);
    println!("webhook answered in {webhook_took:?} while the XMPP server was down");
    gw.kill9();
    drop(gw);

    // Everything back: each arrives exactly once, with the id minted when it was stored.
    prosody.restart();
    let user = connect_alice(dir.path(), &prosody);
    let gw = start(dir.path(), &yaml, true);
    let sms = expect_once(&user, "while down", Duration::from_secs(3));
    assert_eq!(sms.attr("from"), Some(phone().as_str()));
    let mail = expect_once(&user, "Still there?", Duration::from_secs(1));
    assert_eq!(
        mail.attr("from"),
        Some(format!("carol%example.com@{MAIL}").as_str())
    );
    wait_metric(ports.http, &waiting(SMS), 0);
    wait_metric(ports.http, &waiting(MAIL), 0);
    // The keys outlive the crash: Twilio retrying the webhook, or the mail sent again,
    // delivers nothing new.
    let (code, _) = fake.send_inbound_sid(&hook, "SMdown000001", PHONE, ALICE_NUMBER, "while down");
    assert_eq!(code, 200);
    let again = send_mail(
        ports.smtp,
        "carol@example.com",
        &format!("alice@{MAIL}"),
        &mail_from_carol("away", "m-down-1", "Still there?"),
    );
    assert!(again.ok, "{}", again.transcript);
    user.expect_none(Duration::from_secs(3), |s| {
        is_text(s, "while down") || is_text(s, "Still there?")
    });
    let mail_dup = format!("switchboard_inbound_duplicates_total{{domain=\"{MAIL}\"}}");
    assert_eq!(metric(ports.http, &mail_dup), Some(1));
    drop(gw);
}

#[test]
fn a_kannel_sms_taken_while_the_server_is_down_survives_sigkill_once() {
    let dir = workdir("hostile-durable-kannel");
    let mut prosody = prosody(dir.path());
    let ports = Ports {
        http: free_port(),
        smtp: 0,
    };
    let mo_url = format!(
        "http://127.0.0.1:{}/sms/kannel?secret={KANNEL_SECRET}",
        ports.http
    );
    let kannel = Kannel::start(dir.path(), &mo_url);
    let provider = common::sms::kannel(&kannel.sendsms_url());
    let yaml = config(&prosody, &ports, &provider, false);
    let mut gw = start(dir.path(), &yaml, false);
    let user = alice(dir.path(), &prosody);
    drop(user);
    // The XMPP server crashes this time.
    prosody.kill9();
    // smsbox retries an MO until it gets 200 or 202: this one is answered once stored.
    kannel.send_mo(PHONE, ALICE_NUMBER, "kannel while down");
    wait_metric(ports.http, &waiting(SMS), 1);
    let stored = format!("switchboard_inbound_stored_total{{domain=\"{SMS}\"}}");
    assert_eq!(metric(ports.http, &stored), Some(1));
    gw.kill9();
    drop(gw);
    prosody.restart();
    let user = connect_alice(dir.path(), &prosody);
    let _gw = start(dir.path(), &yaml, false);
    let got = expect_once(&user, "kannel while down", Duration::from_secs(3));
    assert_eq!(got.attr("from"), Some(phone().as_str()));
    wait_metric(ports.http, &waiting(SMS), 0);
    // smsbox sending one MO twice (its id, %I, is the same): delivered once.
    let path = format!(
        "/sms/kannel?secret={KANNEL_SECRET}&from=%2B15551234567&to=%2B15550001111&text=twice&charset=UTF-8&coding=0&id=0b5e3c7a-1f2d-4e5f-8a9b-0c1d2e3f4a5b"
    );
    for _ in 0..2 {
        let (code, answer) = http_get(ports.http, &path);
        assert_eq!(code, 200, "{answer}");
    }
    expect_once(&user, "twice", Duration::from_secs(2));
}

/// Holds SQLite's write lock on `db` (as another writer would, or a full disk makes every
/// write fail) until dropped.
struct WriteLock(Child);

impl WriteLock {
    fn take(db: &Path) -> WriteLock {
        let script = "import sqlite3, sys\n\
                      c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                      c.execute('BEGIN EXCLUSIVE')\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n";
        let mut child = Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (with its sqlite3 module)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        WriteLock(child)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.0.stdin.take() {
            let _ = stdin.write_all(b"");
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn while_the_store_cannot_write_webhooks_get_503_and_mail_451_and_nothing_is_lost() {
    let dir = workdir("hostile-durable-store");
    let prosody = prosody(dir.path());
    let fake = FakeTwilio::start(common::sms::ACCOUNT_SID, AUTH_TOKEN);
    let ports = Ports {
        http: free_port(),
        smtp: free_port(),
    };
    let provider = common::sms::twilio(&fake.api_base());
    let yaml = config(&prosody, &ports, &provider, true);
    let _gw = start(dir.path(), &yaml, true);
    let user = alice(dir.path(), &prosody);
    register_mail_alias(&user);
    let hook = format!("http://127.0.0.1:{}/sms/twilio", ports.http);

    let lock = WriteLock::take(&dir.path().join("switchboard.db"));
    let (code, answer) =
        fake.send_inbound_sid(&hook, "SMlocked0001", PHONE, ALICE_NUMBER, "retry me");
    assert_eq!(code, 503, "not stored, so not 2xx: {answer}");
    let sent = send_mail(
        ports.smtp,
        "carol@example.com",
        &format!("alice@{MAIL}"),
        &mail_from_carol("locked", "m-locked-1", "and me"),
    );
    assert!(!sent.ok, "{}", sent.transcript);
    assert_eq!(sent.code, 451, "{}", sent.transcript);
    user.expect_none(Duration::from_secs(1), |s| {
        is_text(s, "retry me") || is_text(s, "and me")
    });
    drop(lock);

    // The provider and the mail client try again: each arrives once.
    let (code, answer) =
        fake.send_inbound_sid(&hook, "SMlocked0001", PHONE, ALICE_NUMBER, "retry me");
    assert_eq!(code, 200, "{answer}");
    let sent = send_mail(
        ports.smtp,
        "carol@example.com",
        &format!("alice@{MAIL}"),
        &mail_from_carol("locked", "m-locked-1", "and me"),
    );
    assert!(sent.ok, "{}", sent.transcript);
    expect_once(&user, "retry me", Duration::from_millis(500));
    expect_once(&user, "and me", Duration::from_secs(2));
    let failures = |domain: &str| {
        metric(
            ports.http,
            &format!("switchboard_inbound_store_failures_total{{domain=\"{domain}\"}}"),
        )
    };
    assert_eq!(failures(SMS), Some(1));
    assert_eq!(failures(MAIL), Some(1));
}
