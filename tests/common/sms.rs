//! The SMS transport set up end to end: Prosody with the `sms.localhost` component, the
//! gateway with a Twilio-shaped endpoint or a real Kannel behind it, and users.

#[allow(unused_imports)]
pub use super::body;
use super::{escape_xml, Agent, Gateway, Prosody, NS_CLIENT};
use minidom::Element;
use std::path::Path;
use std::time::Duration;

pub const SMS: &str = "sms.localhost";
pub const SECRET: &str = "sms-secret";
pub const T: Duration = Duration::from_secs(15);
#[allow(unused_imports)]
pub use super::NS_COMMANDS;
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const AUTH_TOKEN: &str = "twilio-test-token";
pub const KANNEL_SECRET: &str = "kannel-hook-secret";
/// alice's number (from the config); bob has none until an admin assigns one.
pub const ALICE_NUMBER: &str = "+15550001111";
pub const PHONE: &str = "+15551234567";

/// Prosody with the SMS component and alice, bob, admin (allowed) and mallory (not).
pub fn prosody(dir: &Path) -> Prosody {
    Prosody::start(
        dir,
        &[(SMS, SECRET)],
        &[
            ("alice", "localhost", "pw"),
            ("bob", "localhost", "pw"),
            ("admin", "localhost", "pw"),
            ("mallory", "other.localhost", "pw"),
        ],
    )
}

/// The gateway's config with `provider` (a YAML flow mapping); alice owns ALICE_NUMBER.
pub fn config(prosody: &Prosody, http_port: u16, provider: &str, extra: &str) -> String {
    let numbers = format!("\"{ALICE_NUMBER}\": \"alice@localhost\"");
    config_with_numbers(prosody, http_port, provider, &numbers, extra)
}

/// The same with `numbers`, the inside of the `sms.numbers` flow mapping.
pub fn config_with_numbers(
    prosody: &Prosody,
    http_port: u16,
    provider: &str,
    numbers: &str,
    extra: &str,
) -> String {
    format!(
        r#"
xmpp:
  server: "127.0.0.1:{}"
  allow: ["localhost"]
  admins: ["admin@localhost"]
  keepalive: 5s
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:{http_port}"
  public_url: "http://127.0.0.1:{http_port}"
sms:
  domain: {SMS}
  secret: "${{SMS_SECRET}}"
  provider: {provider}
  numbers: {{{numbers}}}
  request_timeout: 5s
{extra}"#,
        prosody.component_port()
    )
}

/// A Twilio provider at `api_base`.
pub fn twilio(api_base: &str) -> String {
    format!("{{kind: twilio, account_sid: {ACCOUNT_SID}, auth_token: {AUTH_TOKEN}, api_base: \"{api_base}\"}}")
}

/// A Kannel provider at `sendsms_url`.
pub fn kannel(sendsms_url: &str) -> String {
    format!("{{kind: kannel, sendsms_url: \"{sendsms_url}\", username: gw, password: gwpass, webhook_secret: {KANNEL_SECRET}}}")
}

pub fn start_gateway(dir: &Path, config: &str) -> Gateway {
    let gw = Gateway::start_with_env(dir, config, &[("SMS_SECRET", SECRET)]);
    gw.wait_for_log("Component link up", T);
    gw
}

pub fn user(dir: &Path, prosody: &Prosody, jid: &str) -> Agent {
    let agent = Agent::connect(dir, jid, "pw", prosody.c2s_port(), true);
    agent.wait_for_service(SMS, T);
    agent
}

pub fn contact(number: &str) -> String {
    format!("{number}@{SMS}")
}

/// A chat message asking for a receipt.
pub fn text(agent: &Agent, to: &str, body: &str, id: &str) {
    agent.send(&format!(
        "<message type='chat' id='{id}' to='{to}'><body>{}</body><request xmlns='urn:xmpp:receipts'/></message>",
        escape_xml(body)
    ));
}

/// The error answered to the message with `id`: (condition, text).
pub fn expect_error(agent: &Agent, id: &str) -> (String, String) {
    super::expect_message_error(agent, id, T)
}

/// Expects a chat message from `from` with `text` as its body.
pub fn expect_text(agent: &Agent, from: &str, text: &str) -> Element {
    agent.expect(T, &format!("{text:?} from {from}"), |s| {
        s.name() == "message"
            && s.attr("from") == Some(from)
            && s.attr("type") == Some("chat")
            && body(s) == text
    })
}

/// Runs an admin command on the SMS transport with its form values; returns the final
/// answer.
pub fn admin_command(admin: &Agent, node: &str, fields: &[(&str, &str)]) -> Element {
    super::run_command(admin, SMS, node, fields)
}

/// The value of one metric line (`name{domain="sms.localhost"}`) on `/metrics`.
pub fn metric(http_port: u16, name: &str) -> u64 {
    let (_, text) = super::http_get(http_port, "/metrics");
    let prefix = format!("{name}{{domain=\"{SMS}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Polls `cond` until it holds; panics after `timeout`.
pub fn wait_until(timeout: Duration, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The transport's presence whose status contains `needle`, as `agent` gets it after
/// telling the transport it is online: (show, status).
pub fn transport_presence(agent: &Agent, needle: &str) -> (Option<String>, String) {
    agent.send(&format!("<presence to='{SMS}'/>"));
    let status_of = |p: &Element| {
        p.get_child("status", NS_CLIENT)
            .map(Element::text)
            .unwrap_or_default()
    };
    let p = agent.expect(
        T,
        &format!("the transport's presence with {needle:?}"),
        |s| {
            s.name() == "presence"
                && s.attr("from") == Some(SMS)
                && s.attr("type").is_none()
                && status_of(s).contains(needle)
        },
    );
    let show = p.get_child("show", NS_CLIENT).map(Element::text);
    (show, status_of(&p))
}
