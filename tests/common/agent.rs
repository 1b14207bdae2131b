//! An XMPP user: `tests/support/xmpp_agent.py` driven over JSON lines.

use super::*;
use minidom::Element;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// One line printed by the agent.
enum AgentLine {
    Stanza {
        raw: String,
        element: Element,
    },
    Event {
        name: String,
        detail: Option<String>,
    },
    /// Not valid agent output (a bug in the agent, or XML that minidom cannot parse).
    Garbage(String),
}

struct AgentState {
    stdin: ChildStdin,
    lines: Receiver<AgentLine>,
    /// Received stanzas that no `expect` has taken yet, oldest first.
    backlog: VecDeque<(String, Element)>,
    /// Events (other than the initial `ready`) not yet taken by `expect_event`.
    events: VecDeque<String>,
    /// Everything printed since `ready`, for failure messages.
    history: Vec<String>,
    /// The agent's stdout has ended: nothing more will arrive.
    closed: bool,
}

/// An XMPP user (`tests/support/xmpp_agent.py`) connected to Prosody's c2s port.
pub struct Agent {
    jid: String,
    child: Child,
    log: PathBuf,
    state: Mutex<AgentState>,
    next_id: AtomicU64,
}

impl Agent {
    /// Starts the agent as `jid` and waits (20 s at most) until its session has started.
    /// With `presence`, it has sent its initial available presence by then. Its own log
    /// (slixmpp at debug level) goes to `workdir/agent-<user>.log`.
    pub fn connect(
        workdir: &Path,
        jid: &str,
        password: &str,
        c2s_port: u16,
        presence: bool,
    ) -> Agent {
        let user = jid.split('@').next().unwrap_or(jid);
        let log = workdir.join(format!("agent-{user}.log"));
        let stderr = append_log(&log);
        let mut command = Command::new(PYTHON);
        command
            .arg(AGENT_SCRIPT)
            .args(["--jid", jid, "--password", password, "--host", "127.0.0.1"])
            .args(["--port", &c2s_port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if presence {
            command.arg("--presence");
        }
        let mut child = spawn_or_explain(&mut command, PYTHON);
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");

        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(parse_agent_line(&line)).is_err() {
                    break;
                }
            }
        });

        let agent = Agent {
            jid: jid.to_owned(),
            child,
            log,
            state: Mutex::new(AgentState {
                stdin,
                lines,
                backlog: VecDeque::new(),
                events: VecDeque::new(),
                history: Vec::new(),
                closed: false,
            }),
            next_id: AtomicU64::new(1),
        };
        agent.wait_ready();
        agent
    }

    fn wait_ready(&self) {
        let state = self.state();
        match state.lines.recv_timeout(READY_TIMEOUT) {
            Ok(AgentLine::Event { name, .. }) if name == "ready" => {}
            Ok(AgentLine::Event { name, detail }) => panic!(
                "agent {} could not connect: {name} {}\n{}",
                self.jid,
                detail.unwrap_or_default(),
                tail(&self.log, 30)
            ),
            // The agent prints nothing else before "ready".
            Ok(AgentLine::Stanza { raw, .. } | AgentLine::Garbage(raw)) => {
                panic!("agent {} printed {raw} before it was ready", self.jid)
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "agent {} not ready after {READY_TIMEOUT:?}\n{}",
                self.jid,
                tail(&self.log, 30)
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "agent {} exited before it was ready ({INSTALL_HINT}?)\n{}",
                self.jid,
                tail(&self.log, 30)
            ),
        }
    }

    /// The lock is only ever held by the test thread; a panic while holding it (a failed
    /// `expect`) must not hide the state from `Drop` or from later calls.
    fn state(&self) -> MutexGuard<'_, AgentState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn jid(&self) -> &str {
        &self.jid
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A stanza id unique within this agent.
    pub fn new_id(&self) -> String {
        let user = self.jid.split('@').next().unwrap_or("agent");
        format!("{user}-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Writes `xml` to the XMPP stream as it is (a stanza in the `jabber:client` namespace
    /// when it declares none).
    pub fn send(&self, xml: &str) {
        let line = serde_json::json!({ "send": xml }).to_string();
        let mut state = self.state();
        if let Err(e) = writeln!(state.stdin, "{line}").and_then(|()| state.stdin.flush()) {
            panic!(
                "agent {} is gone ({e}); cannot send {xml}\n{}",
                self.jid,
                tail(&self.log, 30)
            );
        }
    }

    /// Sends an iq carrying `id` and waits for the result or error with that id.
    pub fn iq(&self, xml_with_id: &str, id: &str, timeout: Duration) -> Element {
        self.send(xml_with_id);
        self.expect(
            timeout,
            &format!("an iq result or error with id {id:?}"),
            |stanza| {
                stanza.name() == "iq"
                    && stanza.attr("id") == Some(id)
                    && matches!(stanza.attr("type"), Some("result" | "error"))
            },
        )
    }

    /// Sends disco#info queries to `jid` until one gets a result (e.g. until a gateway
    /// transport is online) and returns it; panics after `timeout`.
    pub fn wait_for_service(&self, jid: &str, timeout: Duration) -> Element {
        let deadline = Instant::now() + timeout;
        let mut last_answer = None;
        while Instant::now() < deadline {
            let id = self.new_id();
            self.send(&format!(
                "<iq type='get' id='{}' to='{}'><query xmlns='{NS_DISCO_INFO}'/></iq>",
                escape_xml(&id),
                escape_xml(jid)
            ));
            let attempt =
                Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now()));
            let answer = self.try_expect(attempt, |stanza| {
                stanza.name() == "iq" && stanza.attr("id") == Some(id.as_str())
            });
            match answer {
                Some(stanza) if stanza.attr("type") == Some("result") => return stanza,
                Some(stanza) => {
                    last_answer = Some(String::from(&stanza));
                    thread::sleep(Duration::from_millis(200));
                }
                None => {}
            }
        }
        panic!(
            "{jid} did not answer disco#info from {} within {timeout:?}; last answer: {}",
            self.jid,
            last_answer.unwrap_or_else(|| "none".to_owned())
        )
    }

    /// Waits for the first received stanza (oldest first, including ones that earlier calls
    /// passed over) that matches `pred`, and takes it. Stanzas that do not match stay for
    /// later calls. Panics after `timeout` naming `what` and listing every stanza received.
    pub fn expect(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Element) -> bool,
    ) -> Element {
        let mut state = self.state();
        match self.take_match(&mut state, timeout, &pred) {
            Some(stanza) => stanza,
            None => panic!(
                "{}",
                self.report(&state, &format!("no {what} within {timeout:?}"))
            ),
        }
    }

    /// Like `expect`, but `None` on timeout.
    pub fn try_expect(
        &self,
        timeout: Duration,
        pred: impl Fn(&Element) -> bool,
    ) -> Option<Element> {
        let mut state = self.state();
        self.take_match(&mut state, timeout, &pred)
    }

    /// Panics if a stanza matching `pred` has arrived or arrives within `duration`.
    pub fn expect_none(&self, duration: Duration, pred: impl Fn(&Element) -> bool) {
        let mut state = self.state();
        if let Some(stanza) = self.take_match(&mut state, duration, &pred) {
            let message = format!("unexpected stanza {}", String::from(&stanza));
            panic!("{}", self.report(&state, &message));
        }
    }

    /// Waits for an agent event other than `ready` (`disconnected`, `error`).
    pub fn expect_event(&self, timeout: Duration, name: &str) {
        let mut state = self.state();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(position) = state.events.iter().position(|event| event == name) {
                state.events.remove(position);
                return;
            }
            if !self.receive_one(&mut state, deadline) {
                panic!(
                    "{}",
                    self.report(&state, &format!("no event {name:?} within {timeout:?}"))
                );
            }
        }
    }

    /// Closes the stream cleanly and waits (5 s at most) for the agent to exit.
    pub fn quit(mut self) {
        let sent = {
            let mut state = self.state();
            writeln!(state.stdin, "{}", serde_json::json!({ "quit": true }))
                .and_then(|()| state.stdin.flush())
                .is_ok()
        };
        if !sent || wait_timeout(&mut self.child, Duration::from_secs(5)).is_none() {
            kill_and_reap(&mut self.child);
        }
    }

    fn take_match(
        &self,
        state: &mut AgentState,
        timeout: Duration,
        pred: &dyn Fn(&Element) -> bool,
    ) -> Option<Element> {
        if let Some(position) = state.backlog.iter().position(|(_, stanza)| pred(stanza)) {
            return state.backlog.remove(position).map(|(_, stanza)| stanza);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let before = state.backlog.len();
            if !self.receive_one(state, deadline) {
                return None;
            }
            // A new stanza, if any, is the last one in the backlog.
            if state.backlog.len() > before && state.backlog.back().is_some_and(|(_, s)| pred(s)) {
                return state.backlog.pop_back().map(|(_, stanza)| stanza);
            }
        }
    }

    /// Reads one line from the agent into the backlog or the event queue. `false` once
    /// `deadline` has passed or the agent's output has ended.
    fn receive_one(&self, state: &mut AgentState, deadline: Instant) -> bool {
        if state.closed {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match state.lines.recv_timeout(left) {
            Ok(AgentLine::Stanza { raw, element }) => {
                state.history.push(raw.clone());
                state.backlog.push_back((raw, element));
                true
            }
            Ok(AgentLine::Event { name, detail }) => {
                state
                    .history
                    .push(format!("[event {name}] {}", detail.unwrap_or_default()));
                state.events.push_back(name);
                true
            }
            Ok(AgentLine::Garbage(line)) => {
                panic!(
                    "{}",
                    self.report(state, &format!("agent printed garbage: {line}"))
                )
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                state.closed = true;
                false
            }
        }
    }

    fn report(&self, state: &AgentState, problem: &str) -> String {
        const SHOWN: usize = 300;
        let skipped = state.history.len().saturating_sub(SHOWN);
        let mut text = format!("agent {}: {problem}\nreceived since ready", self.jid);
        if skipped > 0 {
            text.push_str(&format!(" (the first {skipped} left out)"));
        }
        text.push_str(":\n");
        for (n, line) in state.history.iter().enumerate().skip(skipped) {
            text.push_str(&format!("  {}. {line}\n", n + 1));
        }
        if state.closed {
            text.push_str("(the agent has exited)\n");
        }
        text.push_str(&format!(
            "agent log: {} (SWITCHBOARD_KEEP_TEST_DIRS=1 keeps it)",
            self.log.display()
        ));
        text
    }
}

fn parse_agent_line(line: &str) -> AgentLine {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return AgentLine::Garbage(line.to_owned());
    };
    if let Some(raw) = value.get("stanza").and_then(|v| v.as_str()) {
        return match raw.parse::<Element>() {
            Ok(element) => AgentLine::Stanza {
                raw: raw.to_owned(),
                element,
            },
            Err(e) => AgentLine::Garbage(format!("{e}: {raw}")),
        };
    }
    if let Some(name) = value.get("event").and_then(|v| v.as_str()) {
        return AgentLine::Event {
            name: name.to_owned(),
            detail: value
                .get("detail")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        };
    }
    AgentLine::Garbage(line.to_owned())
}

impl Drop for Agent {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}
