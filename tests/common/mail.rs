//! The email transport set up end to end: Prosody with the `mail.localhost` component, the
//! gateway relaying to a real aiosmtpd capture and listening for SMTP itself, and users.

#[allow(unused_imports)]
pub use super::body;
use super::{escape_xml, Agent, Gateway, Prosody, NS_CLIENT};
use minidom::Element;
use std::path::Path;
use std::time::Duration;

pub const MAIL: &str = "mail.localhost";
pub const SECRET: &str = "mail-secret";
pub const T: Duration = Duration::from_secs(15);
pub const NS_REGISTER: &str = "jabber:iq:register";

/// Prosody with the mail component and alice, bob (allowed) and mallory (not).
pub fn prosody(dir: &Path) -> Prosody {
    Prosody::start(
        dir,
        &[(MAIL, SECRET)],
        &[
            ("alice", "localhost", "pw"),
            ("bob", "localhost", "pw"),
            ("mallory", "other.localhost", "pw"),
        ],
    )
}

/// The gateway's config: mail relayed to `relay`, SMTP in on `smtp_port`.
pub fn config(prosody: &Prosody, relay: &str, smtp_port: u16, extra: &str) -> String {
    let smtp = format!(r#"{{relay: "{relay}", security: none, timeout: 5s}}"#);
    config_with_smtp(prosody, &smtp, smtp_port, extra)
}

/// Like `config`, with the whole `email.smtp` value (YAML flow mapping) given. `extra`:
/// more `email` keys, each line indented by two spaces. HTTP (digest unsubscribe links)
/// listens on a free port; digest mails carry its URL. Unless `extra` sets `auth`, mail
/// from 127.0.0.1 counts as verified (a trusted relay): the tests' senders are on loopback
/// and have no DNS of their own (tests/e2e_hostile_mail.rs checks senders for real).
pub fn config_with_smtp(prosody: &Prosody, smtp: &str, smtp_port: u16, extra: &str) -> String {
    let auth = if extra.lines().any(|l| l.starts_with("  auth:")) {
        ""
    } else {
        "  auth: {trusted_relays: [{ip: 127.0.0.1}]}\n"
    };
    format!(
        r#"
xmpp:
  server: "127.0.0.1:{}"
  allow: ["localhost"]
  keepalive: 5s
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:{}"
email:
  domain: {MAIL}
  secret: "${{MAIL_SECRET}}"
  address_domain: {MAIL}
  smtp: {smtp}
  listen: "127.0.0.1:{smtp_port}"
  max_message_bytes: 20000
{auth}{extra}"#,
        prosody.component_port(),
        super::free_port()
    )
}

pub fn start_gateway(dir: &Path, config: &str) -> Gateway {
    let gw = Gateway::start_with_env(dir, config, &[("MAIL_SECRET", SECRET)]);
    gw.wait_for_log("Component link up", T);
    gw.wait_for_log("SMTP listening", T);
    gw
}

pub fn user(dir: &Path, prosody: &Prosody, jid: &str) -> Agent {
    let agent = Agent::connect(dir, jid, "pw", prosody.c2s_port(), true);
    agent.wait_for_service(MAIL, T);
    agent
}

/// Registers `alias` (and a name) with the mail transport; returns the answer.
pub fn register(agent: &Agent, alias: &str, name: &str) -> Element {
    let id = agent.new_id();
    agent.iq(
        &format!(
            "<iq type='set' id='{id}' to='{MAIL}'><query xmlns='{NS_REGISTER}'>\
             <username>{}</username><nick>{}</nick></query></iq>",
            escape_xml(alias),
            escape_xml(name)
        ),
        &id,
        T,
    )
}

/// The JID of a mail address (`bob%example.net@mail.localhost`).
pub fn contact(address: &str) -> String {
    format!("{}@{MAIL}", address.replace('@', "%"))
}

pub fn subject(stanza: &Element) -> String {
    stanza
        .get_child("subject", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

/// The error answered to the message with `id`: (condition, text).
pub fn expect_error(agent: &Agent, id: &str) -> (String, String) {
    super::expect_message_error(agent, id, T)
}

/// A header of a raw mail (as the benchmarks' null SMTP sink keeps it), unfolded and
/// decoded by mail-parser.
pub fn mail_header(raw: &str, name: &str) -> Option<String> {
    let mail = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    mail.header(name).and_then(|v| match v {
        mail_parser::HeaderValue::Text(t) => Some(t.to_string()),
        _ => mail.header_raw(name).map(|r| r.trim().to_string()),
    })
}

/// The text part of a raw mail, transfer- and charset-decoded by mail-parser.
pub fn mail_text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// Shows the gateway that `agent`, in the MUC room `room` already, may take digests of it:
/// asks for one (refused with a code), then invites the mail transport from inside the room
/// with the code as the reason (a XEP-0045 mediated invitation, which the room relays).
/// Waits until the gateway has it.
#[allow(dead_code)]
pub fn vouch(agent: &Agent, gw: &Gateway, room: &str) {
    let refused = super::run_command(
        agent,
        MAIL,
        "digest-subscribe",
        &[
            ("source", room),
            ("address", "nobody@example.net"),
            ("every", "1h"),
        ],
    );
    let why = super::error_text(&refused);
    let code = why
        .split("with the reason ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no code in {}", String::from(&refused)))
        .to_string();
    agent.send(&format!(
        "<message to='{room}'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='{MAIL}'><reason>{code}</reason></invite></x></message>"
    ));
    let bare = agent
        .jid()
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let deadline = std::time::Instant::now() + T;
    while !gw.log().lines().any(|l| {
        l.contains("A room vouched for a subscriber") && l.contains(room) && l.contains(&bare)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not get {bare}'s invitation through {room}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
