//! The echo transport set up end to end: a Prosody with its component, the gateway, users,
//! and the stanzas tests send and expect.

#[allow(unused_imports)]
pub use super::body;
use super::{escape_xml, Agent, Gateway, Prosody};
use minidom::Element;
use std::path::Path;
use std::time::Duration;

pub const ECHO: &str = "echo.localhost";
pub const SECRET: &str = "echo-secret";
pub const T: Duration = Duration::from_secs(10);
pub const NS_REGISTER: &str = "jabber:iq:register";
#[allow(unused_imports)]
pub use super::NS_COMMANDS;

/// A Prosody with the echo component and three users: alice and admin (allowed), mallory
/// on a domain the gateway does not allow.
pub fn prosody(dir: &Path) -> Prosody {
    Prosody::start(
        dir,
        &[(ECHO, SECRET)],
        &[
            ("alice", "localhost", "pw"),
            ("admin", "localhost", "pw"),
            ("mallory", "other.localhost", "pw"),
        ],
    )
}

pub fn config(prosody: &Prosody, http_port: u16) -> String {
    format!(
        r#"
xmpp:
  server: "127.0.0.1:{}"
  allow: ["localhost"]
  admins: ["admin@localhost"]
  keepalive: 2s
storage: "sqlite://switchboard.db"
http:
  listen: "127.0.0.1:{http_port}"
echo:
  domain: {ECHO}
  secret: "${{ECHO_SECRET}}"
"#,
        prosody.component_port()
    )
}

pub fn start_gateway(dir: &Path, prosody: &Prosody, http_port: u16) -> Gateway {
    Gateway::start_with_env(dir, &config(prosody, http_port), &[("ECHO_SECRET", SECRET)])
}

/// Polls `GET /healthz` until it answers `status`.
pub fn wait_health(port: u16, status: u16) -> String {
    let deadline = std::time::Instant::now() + T;
    loop {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            drop(stream);
            let (code, body) = super::http_get(port, "/healthz");
            if code == status {
                return body;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/healthz never answered {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn user(dir: &Path, prosody: &Prosody, jid: &str) -> Agent {
    Agent::connect(dir, jid, "pw", prosody.c2s_port(), true)
}

pub fn is_from(stanza: &Element, name: &str, from: &str) -> bool {
    stanza.name() == name
        && stanza
            .attr("from")
            .is_some_and(|f| f == from || f.starts_with(&format!("{from}/")))
}

pub fn register(agent: &Agent, name: &str) -> Element {
    let id = agent.new_id();
    agent.iq(
        &format!("<iq type='set' id='{id}' to='{ECHO}'><query xmlns='{NS_REGISTER}'><username>{name}</username></query></iq>"),
        &id,
        T,
    )
}

pub fn chat(agent: &Agent, to: &str, text: &str, id: &str) {
    agent.send(&format!(
        "<message type='chat' id='{id}' to='{to}'><body>{}</body><request xmlns='urn:xmpp:receipts'/></message>",
        escape_xml(text)
    ));
}

pub fn expect_echo(agent: &Agent, from: &str, text: &str) -> Element {
    agent.expect(T, &format!("the echo of {text:?} from {from}"), |s| {
        is_from(s, "message", from) && s.attr("type") == Some("chat") && body(s) == text
    })
}

/// Runs the admin `status` command as `admin` and returns its note.
pub fn status_note(admin: &Agent) -> String {
    let id = admin.new_id();
    let status = admin.iq(
        &format!("<iq type='set' id='{id}' to='{ECHO}'><command xmlns='{NS_COMMANDS}' node='status' action='execute'/></iq>"),
        &id,
        T,
    );
    let command = status
        .get_child("command", NS_COMMANDS)
        .expect("a command result");
    assert_eq!(
        command.attr("status"),
        Some("completed"),
        "{}",
        String::from(&status)
    );
    command
        .get_child("note", NS_COMMANDS)
        .map(Element::text)
        .unwrap_or_default()
}
