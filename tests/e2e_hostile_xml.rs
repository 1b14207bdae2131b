//! Hostile text against the real servers (issue 11, point 1): control characters that XML
//! cannot carry, sent from IRC (InspIRCd), mail (the gateway's SMTP listener) and SMS (a
//! real Kannel and its fake SMSC), arrive cleaned at an XMPP user (slixmpp on Prosody);
//! every link stays up, nothing is dropped, and what is sent afterwards arrives. Then the
//! failure mode: a stanza that cannot be written, put on a component link to the real
//! Prosody, is dropped and counted while the link stays up.

mod common;

use common::kannel::Kannel;
use common::smtp::send_mail;
use common::{body, free_port, http_get, workdir, Agent, Gateway, Inspircd, IrcClient, Prosody};
use common::{NS_CLIENT, READY_TIMEOUT};
use minidom::Element;
use std::time::Duration;

const IRC: &str = "irc.localhost";
const SMS: &str = "sms.localhost";
const MAIL: &str = "mail.localhost";
const T: Duration = Duration::from_secs(15);
const ALICE_NUMBER: &str = "+15550001111";
const PHONE: &str = "+4917000000";
const KANNEL_SECRET: &str = "kannel-hook-secret";
const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";

fn child_text(s: &Element, name: &str) -> Option<String> {
    s.get_child(name, NS_CLIENT).map(Element::text)
}

fn has_forbidden(text: &str) -> bool {
    text.chars().any(|c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
    })
}

/// The whole stanza, checked for what XML cannot carry (the agent's parser would have
/// refused it, but a text cleaned to nothing must not pass either).
fn clean(s: &Element) -> bool {
    !has_forbidden(&String::from(s))
}

struct Rig {
    dir: tempfile::TempDir,
    prosody: Prosody,
    ircd: Inspircd,
    kannel: Kannel,
    gw: Gateway,
    http: u16,
    smtp: u16,
}

/// Prosody with the three components, InspIRCd, Kannel, and one gateway serving IRC, SMS
/// and mail (relay: a port nothing listens on; nothing is sent out here).
fn rig() -> Rig {
    let dir = workdir("hostile-xml");
    let prosody = Prosody::start(
        dir.path(),
        &[
            (IRC, "irc-secret"),
            (SMS, "sms-secret"),
            (MAIL, "mail-secret"),
        ],
        &[("alice", "localhost", "pw")],
    );
    let ircd = Inspircd::start(dir.path());
    let http = free_port();
    let smtp = free_port();
    let kannel = Kannel::start(
        dir.path(),
        &format!("http://127.0.0.1:{http}/sms/kannel?secret={KANNEL_SECRET}"),
    );
    let config = format!(
        r#"
xmpp:
  server: "127.0.0.1:{component}"
  allow: ["localhost"]
  keepalive: 5s
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:{http}"
  public_url: "http://127.0.0.1:{http}"
irc:
  domain: {IRC}
  secret: irc-secret
  quit_grace: 1s
  networks:
    "127.0.0.1": {{port: {irc_port}, tls: false, throttle: false}}
sms:
  domain: {SMS}
  secret: sms-secret
  provider: {{kind: kannel, sendsms_url: "{sendsms}", username: gw, password: gwpass, webhook_secret: {KANNEL_SECRET}}}
  numbers: {{"{ALICE_NUMBER}": "alice@localhost"}}
  request_timeout: 5s
email:
  domain: {MAIL}
  secret: mail-secret
  address_domain: {MAIL}
  smtp: {{relay: "127.0.0.1:{closed}", security: none, timeout: 5s}}
  listen: "127.0.0.1:{smtp}"
  max_message_bytes: 20000
"#,
        component = prosody.component_port(),
        irc_port = ircd.port(),
        sendsms = kannel.sendsms_url(),
        closed = free_port(),
    );
    let gw = Gateway::start(dir.path(), &config);
    gw.wait_for_log("SMTP listening", T);
    Rig {
        dir,
        prosody,
        ircd,
        kannel,
        gw,
        http,
        smtp,
    }
}

impl Rig {
    fn alice(&self) -> Agent {
        let alice = Agent::connect(
            self.dir.path(),
            "alice@localhost",
            "pw",
            self.prosody.c2s_port(),
            true,
        );
        for service in [IRC, SMS, MAIL] {
            alice.wait_for_service(service, T);
        }
        alice
    }

    /// /healthz is 200 with every transport up, no link was lost or dropped a stanza,
    /// and each came up once.
    fn assert_links_held(&self) {
        let (code, text) = http_get(self.http, "/healthz");
        assert_eq!(code, 200, "{text}");
        for domain in [IRC, SMS, MAIL] {
            assert!(text.contains(&format!("{domain} up")), "{text}");
        }
        let (_, metrics) = http_get(self.http, "/metrics");
        for domain in [IRC, SMS, MAIL] {
            let line = format!("switchboard_stanzas_unserialisable_total{{domain=\"{domain}\"}} 0");
            assert!(
                metrics.lines().any(|l| l == line),
                "cleaned at the builders, not dropped at the link: {line}\n{metrics}"
            );
        }
        let log = self.gw.log();
        assert!(!log.contains("Component link lost"), "{log}");
        assert_eq!(log.matches("Component link up").count(), 3, "{log}");
    }
}

#[test]
fn control_characters_from_irc_mail_and_sms_arrive_cleaned_and_the_links_stay_up() {
    let rig = rig();
    let alice = rig.alice();
    let room = format!("#chan%127.0.0.1@{IRC}");
    let occupant = |nick: &str| format!("{room}/{nick}");

    // IRC: mal opens the channel (and is its operator), alice joins through the gateway.
    let mal = IrcClient::connect(rig.ircd.port(), "mal");
    mal.join("#chan");
    let eve = IrcClient::connect(rig.ircd.port(), "eve");
    eve.join("#chan");
    alice.send(&format!(
        "<presence to='{room}/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
    alice.expect(T, "the subject after joining", |s| {
        s.attr("from").is_some_and(|f| f.starts_with(&room))
            && s.get_child("subject", NS_CLIENT).is_some()
    });
    mal.expect(T, "alice's JOIN", |l| {
        l.command == "JOIN" && l.is_from("alice")
    });

    mal.privmsg("#chan", "ring\x07bell");
    let got = alice.expect(T, "mal's message in the channel", |s| {
        s.attr("from") == Some(occupant("mal").as_str()) && !body(s).is_empty()
    });
    assert_eq!(body(&got), "ringbell");

    mal.privmsg("alice", "psst\x07\x1b[1m!");
    let pm = alice.expect(T, "mal's private message", |s| {
        s.attr("from") == Some(format!("mal%127.0.0.1@{IRC}").as_str())
    });
    assert_eq!(body(&pm), "psst[1m!");

    mal.send("TOPIC #chan :new\x07 topic\x01");
    let topic = alice.expect(T, "the new topic", |s| {
        child_text(s, "subject").is_some_and(|t| !t.is_empty())
    });
    assert_eq!(child_text(&topic, "subject").as_deref(), Some("new topic"));

    eve.send("PART #chan :see\x07 you");
    let part = alice.expect(T, "eve leaving", |s| {
        s.attr("from") == Some(occupant("eve").as_str()) && s.attr("type") == Some("unavailable")
    });
    let status = child_text(&part, "status").unwrap_or_default();
    assert!(status.contains("see you"), "{}", String::from(&part));

    mal.send("QUIT :gone\x07 away");
    let quit = alice.expect(T, "mal quitting", |s| {
        s.attr("from") == Some(occupant("mal").as_str()) && s.attr("type") == Some("unavailable")
    });
    let status = child_text(&quit, "status").unwrap_or_default();
    assert!(status.contains("gone away"), "{}", String::from(&quit));
    assert!(quit.get_child("x", NS_MUC_USER).is_some());
    for s in [&got, &pm, &topic, &part, &quit] {
        assert!(clean(s), "{}", String::from(s));
    }

    // Mail: a form feed in the subject and the body, through the SMTP listener.
    let id = alice.new_id();
    let registered = alice.iq(
        &format!(
            "<iq type='set' id='{id}' to='{MAIL}'><query xmlns='jabber:iq:register'>\
             <username>alice</username><nick>Alice</nick></query></iq>"
        ),
        &id,
        T,
    );
    assert_eq!(
        registered.attr("type"),
        Some("result"),
        "{}",
        String::from(&registered)
    );
    let bob = format!("bob%example.net@{MAIL}");
    let sent = send_mail(
        rig.smtp,
        "bob@example.net",
        "alice@mail.localhost",
        "From: Bob <bob@example.net>\r\nTo: alice@mail.localhost\r\nSubject: page\x0cone\r\n\
         Message-ID: <h1@example.net>\r\n\r\nhi\x0cthere\x07\r\n",
    );
    assert!(sent.ok, "{}", sent.transcript);
    let mail = alice.expect(T, "bob's mail", |s| {
        s.name() == "message" && s.attr("from") == Some(bob.as_str())
    });
    assert_eq!(body(&mail), "hi\nthere");
    // (A subject is one line: the page break's line feed becomes a space.)
    assert_eq!(child_text(&mail, "subject").as_deref(), Some("page one"));
    assert!(clean(&mail), "{}", String::from(&mail));

    // SMS through Kannel: UCS-2 carrying BEL, and a 7-bit text with a page break (what
    // Kannel hands over for GSM-7's ESC 0x0A).
    let phone = format!("{PHONE}@{SMS}");
    rig.kannel
        .send_mo_ucs2(PHONE, ALICE_NUMBER, "ring\u{7}bell ✓");
    let sms = alice.expect(T, "the UCS-2 text", |s| {
        s.attr("from") == Some(phone.as_str()) && !body(s).is_empty()
    });
    assert_eq!(body(&sms), "ringbell ✓");
    rig.kannel
        .send_mo_line(&format!("{PHONE} {ALICE_NUMBER} text page\x0cbreak"));
    let paged = alice.expect(T, "the text with a page break", |s| {
        s.attr("from") == Some(phone.as_str()) && !body(s).is_empty()
    });
    assert_eq!(body(&paged), "page\nbreak");

    // Nothing was lost on the way, and what comes next arrives as usual.
    rig.assert_links_held();
    let carol = IrcClient::connect(rig.ircd.port(), "carol");
    carol.privmsg("alice", "all normal");
    alice.expect(T, "carol's normal message", |s| body(s) == "all normal");
    rig.kannel.send_mo(PHONE, ALICE_NUMBER, "still here");
    alice.expect(T, "a normal SMS", |s| body(s) == "still here");
    let sent = send_mail(
        rig.smtp,
        "bob@example.net",
        "alice@mail.localhost",
        "From: Bob <bob@example.net>\r\nTo: alice@mail.localhost\r\nSubject: plain\r\n\r\nplain mail\r\n",
    );
    assert!(sent.ok, "{}", sent.transcript);
    alice.expect(T, "a normal mail", |s| body(s) == "plain mail");
    rig.assert_links_held();
    for text in [
        "bell",
        "psst",
        "there",
        "all normal",
        "still here",
        "plain mail",
    ] {
        assert!(!rig.gw.log().contains(text), "no body in the log: {text:?}");
    }
}

/// The link's net for what escaped the builders, against the real Prosody: a message and
/// an iq result that XML cannot carry are never written (alice gets an error for the iq
/// she sent), are counted, and the link goes on without reconnecting.
#[test]
fn a_stanza_that_cannot_be_written_is_dropped_counted_and_the_link_stays_up() {
    use std::sync::atomic::Ordering::Relaxed;
    use switchboard::link::{self, LinkConfig, LinkState};
    use xmpp_parsers::disco::{DiscoInfoResult, Identity};
    use xmpp_parsers::iq::Iq;
    use xmpp_parsers::message::Message;
    use xmpp_parsers::stanza::Stanza;

    const DOMAIN: &str = "raw.localhost";
    let dir = workdir("hostile-xml-link");
    let prosody = Prosody::start(
        dir.path(),
        &[(DOMAIN, "raw-secret")],
        &[("alice", "localhost", "pw")],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _enter = rt.enter();
    let (inbound, mut from_server) = tokio::sync::mpsc::channel(16);
    let (link, _task) = link::spawn(
        LinkConfig {
            server: prosody.component_addr(),
            domain: DOMAIN.into(),
            secret: serde_yaml_ng::from_str("raw-secret").unwrap(),
            keepalive: Duration::from_secs(30),
            queue: 16,
        },
        inbound,
        tokio_util::sync::CancellationToken::new(),
    );
    assert!(
        rt.block_on(link.wait_up(READY_TIMEOUT)),
        "{:?}",
        link.state()
    );
    let alice = Agent::connect(
        dir.path(),
        "alice@localhost",
        "pw",
        prosody.c2s_port(),
        true,
    );
    let bot = || format!("bot@{DOMAIN}").parse().unwrap();

    // A message XML cannot carry, then alice asks something and the answer cannot be
    // written either.
    let mut poisoned = Message::chat(Some("alice@localhost".parse().unwrap()))
        .with_body("".into(), "ring\u{7}bell".into());
    poisoned.from = Some(bot());
    link.send(poisoned.into()).unwrap();
    alice.send(&format!(
        "<iq type='get' id='q1' to='bot@{DOMAIN}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
    ));
    let asked = rt
        .block_on(async { tokio::time::timeout(T, from_server.recv()).await })
        .expect("alice's iq reaches the component")
        .expect("the link is open");
    let Stanza::Iq(Iq::Get { id, from, .. }) = asked else {
        panic!("not alice's iq: {asked:?}");
    };
    let mut answer = Iq::from_result(
        id,
        Some(DiscoInfoResult {
            node: None,
            identities: vec![Identity::new("client", "bot", "en", "bot\u{ffff}")],
            features: Default::default(),
            extensions: vec![],
        }),
    );
    if let Iq::Result { from: f, to, .. } = &mut answer {
        *f = Some(bot());
        *to = from;
    }
    link.send(answer.into()).unwrap();
    let error = alice.expect(T, "an error instead of the answer", |s| {
        s.name() == "iq" && s.attr("id") == Some("q1")
    });
    assert_eq!(
        error.attr("type"),
        Some("error"),
        "{}",
        String::from(&error)
    );
    assert_eq!(
        common::error_condition(&error).as_deref(),
        Some("internal-server-error")
    );

    // What follows goes through on the same connection.
    let mut fine = Message::chat(Some("alice@localhost".parse().unwrap()))
        .with_body("".into(), "after the poison".into());
    fine.from = Some(bot());
    link.send(fine.into()).unwrap();
    alice.expect(T, "the next message", |s| body(s) == "after the poison");
    alice.expect_none(Duration::from_millis(300), |s| body(s).contains("bell"));
    assert_eq!(link.stats().unserialisable.load(Relaxed), 2);
    assert_eq!(link.stats().connects.load(Relaxed), 1, "no reconnect");
    assert_eq!(link.state(), LinkState::Up);
    assert!(
        !prosody.log().contains("ring"),
        "nothing half-written reached Prosody"
    );
}
