//! The real-server test rig shared by the integration tests (`mod common;`).
//!
//! Everything is synchronous and runs real processes on loopback:
//! - [`Prosody`]: a private Prosody 0.12 (config from `tests/support/prosody.cfg.lua.in`) on
//!   free ports, with XEP-0114 components and registered users;
//! - [`Gateway`]: the `switchboard` binary of this package, with a YAML config of the test's own;
//! - [`Agent`]: an XMPP user, `tests/support/xmpp_agent.py` (python3-slixmpp), driven over
//!   JSON lines on its stdin/stdout.
//!
//! Each test file uses a different subset of these helpers.
#![allow(dead_code)]

mod agent;
pub mod bench;
pub mod dns;
pub mod echo;
mod gateway;
pub mod inspircd;
pub mod irc_client;
pub mod irc_gateway;
mod irc_line;
mod irc_received;
pub mod kannel;
pub mod kannel_smsc;
pub mod mail;
pub mod mail_hostile;
pub mod mt_tally;
pub mod muc;
pub mod procs;
mod prosody;
pub mod sendsms_client;
pub mod sms;
pub mod sms_phases;
pub mod smtp;
mod smtp_client;
pub mod smtp_load;
pub mod smtp_sink;
pub mod twilio;
mod twilio_http;

// Each test crate uses some of these.
#[allow(unused_imports)]
pub use agent::Agent;
#[allow(unused_imports)]
pub use gateway::{http_get, run_switchboard, Gateway};
#[allow(unused_imports)]
pub use inspircd::Inspircd;
#[allow(unused_imports)]
pub use irc_client::{IrcClient, IrcLine};
#[allow(unused_imports)]
pub use kannel::{Kannel, Mt, MtMessage};
#[allow(unused_imports)]
pub use prosody::Prosody;
#[allow(unused_imports)]
pub use smtp::{send_mail, smtp_session, swaks, CaptureOptions, CapturedMail, SmtpCapture};
#[allow(unused_imports)]
pub use twilio::{FakeTwilio, TwilioMessage};

use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use minidom::Element;

/// How long a server or an agent may take to become ready before the test fails.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `Prosody::stop` waits after SIGTERM before it sends SIGKILL.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const POLL: Duration = Duration::from_millis(25);
pub(crate) const INSTALL_HINT: &str =
    "run scripts/install-deps.sh (installs prosody and python3-slixmpp)";

pub(crate) const PROSODY_TEMPLATE: &str = include_str!("../support/prosody.cfg.lua.in");
pub(crate) const AGENT_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/xmpp_agent.py");
/// Debian's interpreter: the python3 first on PATH may be one that cannot see python3-slixmpp.
pub(crate) const PYTHON: &str = "/usr/bin/python3";

pub const NS_CLIENT: &str = "jabber:client";
/// XEP-0050 ad-hoc commands.
pub const NS_COMMANDS: &str = "http://jabber.org/protocol/commands";
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A fresh temporary directory for one test, removed when dropped, unless
/// `SWITCHBOARD_KEEP_TEST_DIRS=1`: then it stays and its path is printed.
pub fn workdir(name: &str) -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("switchboard-{name}-"))
        .tempdir()
        .expect("create a temporary directory");
    if std::env::var("SWITCHBOARD_KEEP_TEST_DIRS").as_deref() == Ok("1") {
        dir.disable_cleanup(true);
        eprintln!("keeping test directory {}", dir.path().display());
    }
    dir
}

/// The defined condition of a stanza error (`forbidden`, `remote-server-timeout`, …), if `stanza`
/// is one.
pub fn error_condition(stanza: &Element) -> Option<String> {
    if stanza.attr("type") != Some("error") {
        return None;
    }
    let error = stanza.get_child("error", NS_CLIENT)?;
    error
        .children()
        .find(|child| child.ns() == NS_STANZAS && child.name() != "text")
        .map(|child| child.name().to_owned())
}

/// The body of a message stanza ("" when it has none).
pub fn body(stanza: &Element) -> String {
    stanza
        .get_child("body", NS_CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

/// The human text of an error stanza ("" when it has none).
pub fn error_text(stanza: &Element) -> String {
    stanza
        .get_child("error", NS_CLIENT)
        .and_then(|e| e.get_child("text", NS_STANZAS))
        .map(Element::text)
        .unwrap_or_default()
}

/// The error answered to the message `agent` sent with `id`: (condition, text).
pub fn expect_message_error(agent: &Agent, id: &str, timeout: Duration) -> (String, String) {
    let e = agent.expect(timeout, &format!("the error for {id}"), |s| {
        s.name() == "message" && s.attr("id") == Some(id) && s.attr("type") == Some("error")
    });
    (error_condition(&e).unwrap_or_default(), error_text(&e))
}

/// Escapes text for an XML attribute value or text node.
pub fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// Sends a signal by name (`TERM`, `KILL`, …) with the `kill` command. A process that has
/// already exited is not an error.
pub(crate) fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// How a server's start went.
pub(crate) enum Start {
    /// It logged that it is ready.
    Ready,
    /// It could not bind its port (taken meanwhile): try other ports.
    PortTaken,
}

/// Waits until `log` (what was written after `offset`) shows `ready`, or `port_taken`
/// (checked first: servers log it before their ready line). Panics, with `details` (log
/// tails), when the process exits or [`READY_TIMEOUT`] passes.
pub(crate) fn wait_started(
    child: &mut Child,
    log: &Path,
    offset: u64,
    ready: &str,
    port_taken: &str,
    what: &str,
    details: &dyn Fn() -> String,
) -> Start {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let text = read_from(log, offset);
        if text.contains(port_taken) {
            return Start::PortTaken;
        }
        if text.contains(ready) {
            return Start::Ready;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during startup ({status})\n{}", details());
        }
        if Instant::now() >= deadline {
            panic!(
                "{what} not ready after {READY_TIMEOUT:?} (no {ready:?} in its log)\n{}",
                details()
            );
        }
        thread::sleep(POLL);
    }
}

/// SIGTERM, then SIGKILL if the process has not exited within [`STOP_TIMEOUT`]. Nothing
/// when there is no process.
pub(crate) fn terminate(child: Option<Child>) {
    if let Some(mut child) = child {
        signal(child.id(), "TERM");
        if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
            kill_and_reap(&mut child);
        }
    }
}

/// Waits for `child` to exit, for at most `timeout`.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// SIGKILL and reap; harmless if the process has already exited.
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A log file opened for appending (child processes write their output to it).
pub(crate) fn append_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Two handles on one log file, for a child's stdout and stderr.
pub(crate) fn stdout_stderr_log(path: &Path) -> (File, File) {
    let file = append_log(path);
    let clone = file.try_clone().expect("duplicate a log file handle");
    (file, clone)
}

pub(crate) fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The part of a log file written after byte `offset`.
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The last `lines` lines of a log file, for failure messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    format!(
        "--- last {lines} lines of {} ---\n{tail}\n---",
        path.display()
    )
}

/// A Lua string literal.
pub(crate) fn lua_string(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

pub(crate) fn spawn_or_explain(command: &mut Command, what: &str) -> Child {
    command.spawn().unwrap_or_else(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            panic!("{what} is not installed ({e}): {INSTALL_HINT}");
        }
        panic!("cannot start {what}: {e}")
    })
}

/// Runs the ad-hoc command `node` on `to`: executes it, and when a form comes back, submits
/// `fields`. Returns the final answer (a result or an error).
pub fn run_command(agent: &Agent, to: &str, node: &str, fields: &[(&str, &str)]) -> Element {
    command(agent, to, node, fields, false)
}

/// Like [`run_command`], with `fields` submitted in the execute request already: one round
/// trip for a command that takes them there (the gateway's do), the form stage otherwise.
pub fn run_command_at_once(
    agent: &Agent,
    to: &str,
    node: &str,
    fields: &[(&str, &str)],
) -> Element {
    command(agent, to, node, fields, true)
}

fn command(agent: &Agent, to: &str, node: &str, fields: &[(&str, &str)], at_once: bool) -> Element {
    let values: String = fields
        .iter()
        .map(|(k, v)| format!("<field var='{k}'><value>{}</value></field>", escape_xml(v)))
        .collect();
    let form = format!("<x xmlns='jabber:x:data' type='submit'>{values}</x>");
    let first = if at_once { form.as_str() } else { "" };
    let id = agent.new_id();
    let first = agent.iq(
        &format!("<iq type='set' id='{id}' to='{to}'><command xmlns='{NS_COMMANDS}' node='{node}' action='execute'>{first}</command></iq>"),
        &id,
        Duration::from_secs(20),
    );
    let Some(sid) = first
        .get_child("command", NS_COMMANDS)
        .filter(|c| c.attr("status") == Some("executing"))
        .and_then(|c| c.attr("sessionid"))
    else {
        return first;
    };
    let id = agent.new_id();
    agent.iq(
        &format!("<iq type='set' id='{id}' to='{to}'><command xmlns='{NS_COMMANDS}' node='{node}' sessionid='{sid}'>{form}</command></iq>"),
        &id,
        Duration::from_secs(20),
    )
}

/// The `<note/>` of a command's answer.
pub fn command_note(answer: &Element) -> String {
    answer
        .get_child("command", NS_COMMANDS)
        .and_then(|c| c.get_child("note", NS_COMMANDS))
        .map(Element::text)
        .unwrap_or_default()
}

/// Joins the MUC room `room` as `nick` (no history) and waits for the room's answer.
pub fn join_room(agent: &Agent, room: &str, nick: &str) {
    agent.send(&format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    ));
    agent.expect(Duration::from_secs(20), "own presence in the room", |s| {
        s.name() == "presence"
            && s.attr("from") == Some(&format!("{room}/{nick}"))
            && s.attr("type").is_none()
    });
}
