//! A raw IRC client for tests: one TCP connection, lines in and out, nothing hidden except
//! the answers to the server's PINGs.

use super::irc_received::{receive_one, spawn_reader, take_match, ClientState};
use super::*;
use std::collections::VecDeque;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use super::irc_line::{irc_eq, IrcLine};

/// Numerics with which a server refuses a JOIN; the channel is their second parameter.
const JOIN_ERRORS: &[&str] = &[
    "403", "405", "437", "471", "473", "474", "475", "476", "477", "489",
];
/// Numerics with which a server refuses a registration.
const REGISTRATION_ERRORS: &[&str] = &["432", "433", "436", "437", "451", "465", "ERROR"];

/// A raw IRC connection to 127.0.0.1. A reader thread parses every line, answers `PING`
/// itself and queues everything (PINGs included) for `expect`.
pub struct IrcClient {
    nick: String,
    port: u16,
    writer: Arc<Mutex<TcpStream>>,
    state: Mutex<ClientState>,
    /// Lines this client sent, shared with `state.history` when reported.
    sent: Mutex<Vec<(usize, String)>>,
}

impl IrcClient {
    /// Connects, registers as `nick` (`NICK`, `USER`) and waits (20 s at most) for `001`.
    /// InspIRCd 3 answers a registration only after about a second (1.00 s measured, however
    /// busy the connection): connect many clients from parallel threads (`IrcClient` is
    /// `Send + Sync`; 200 at once registered within 1.1 s).
    pub fn connect(port: u16, nick: &str) -> IrcClient {
        let client = IrcClient::connect_raw(port, nick);
        client.register(nick);
        client
    }

    /// Like `connect`, but first asks for the IRCv3 capabilities `caps` (`CAP LS 302`,
    /// `CAP REQ`, `CAP END`); panics if the server does not acknowledge all of them.
    pub fn connect_with_caps(port: u16, nick: &str, caps: &[&str]) -> IrcClient {
        let client = IrcClient::connect_raw(port, nick);
        client.send("CAP LS 302");
        client.send(&format!("CAP REQ :{}", caps.join(" ")));
        let answer = client.expect(READY_TIMEOUT, "CAP ACK or NAK", |l| {
            l.command == "CAP" && matches!(l.param(1), Some("ACK" | "NAK"))
        });
        if answer.param(1) != Some("ACK") {
            panic!(
                "{}",
                client.report(
                    &client.state(),
                    &format!("the server refused the capabilities {caps:?}")
                )
            );
        }
        client.send("CAP END");
        client.register(nick);
        client
    }

    /// Only connects: the test registers (or not) by itself. `label` names the client in
    /// failure messages and is what `nick()` returns.
    pub fn connect_raw(port: u16, label: &str) -> IrcClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("{label}: cannot connect to 127.0.0.1:{port}: {e}"));
        stream.set_nodelay(true).ok();
        let reader = stream.try_clone().expect("clone the IRC socket");
        let writer = Arc::new(Mutex::new(stream));
        let pong_writer = Arc::clone(&writer);
        let lines = spawn_reader(reader, pong_writer);
        IrcClient {
            nick: label.to_owned(),
            port,
            writer,
            state: Mutex::new(ClientState {
                lines,
                backlog: VecDeque::new(),
                history: Vec::new(),
                closed: false,
            }),
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Sends `NICK nick` and `USER` and waits for `001` (panics on a refusal such as `433`).
    pub fn register(&self, nick: &str) {
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :Test user {nick}"));
        let line = self.expect(READY_TIMEOUT, "001 (registration)", |l| {
            l.command == "001" || REGISTRATION_ERRORS.contains(&l.command.as_str())
        });
        if line.command != "001" {
            panic!(
                "{}",
                self.report(
                    &self.state(),
                    &format!("registration refused: {}", line.raw)
                )
            );
        }
    }

    fn state(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nick given to `connect` (or the label given to `connect_raw`).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends one line; `\r\n` is appended.
    pub fn send(&self, line: &str) {
        assert!(
            !line.contains(['\r', '\n']),
            "one IRC line at a time, without CR/LF: {line:?}"
        );
        // What has arrived so far comes before this line in failure reports.
        let position = {
            let mut state = self.state();
            while receive_one(&mut state, Instant::now()) {}
            state.history.len()
        };
        let result = {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            write!(w, "{line}\r\n").and_then(|()| w.flush())
        };
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((position, line.to_owned()));
        if let Err(e) = result {
            panic!(
                "{}",
                self.report(&self.state(), &format!("cannot send {line:?}: {e}"))
            );
        }
    }

    /// Sends one line of raw bytes (not UTF-8, say: an old client's code page); `\r\n`
    /// is appended.
    pub fn send_bytes(&self, line: &[u8]) {
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "one IRC line at a time, without CR/LF"
        );
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = w.write_all(line).and_then(|()| w.write_all(b"\r\n")) {
            panic!("cannot send {} raw bytes: {e}", line.len());
        }
    }

    /// Sends `PRIVMSG target :text`.
    pub fn privmsg(&self, target: &str, text: &str) {
        self.send(&format!("PRIVMSG {target} :{text}"));
    }

    /// Joins `chan` and waits for the end of its NAMES list (`366`); panics on a refusal
    /// (`471`, `473`, `474`, `475`, …). Returns the members as listed, with their prefixes
    /// (`@alice`, `bob`). Takes its own `JOIN`, the `353`s and the `366` from the backlog.
    pub fn join(&self, chan: &str) -> Vec<String> {
        self.send(&format!("JOIN {chan}"));
        let end = self.expect(READY_TIMEOUT, &format!("366 for {chan}"), |l| {
            let for_chan = l.param(1).is_some_and(|c| irc_eq(c, chan));
            for_chan && (l.command == "366" || JOIN_ERRORS.contains(&l.command.as_str()))
        });
        if end.command != "366" {
            panic!(
                "{}",
                self.report(&self.state(), &format!("JOIN {chan} refused: {}", end.raw))
            );
        }
        let _ = self.try_expect(Duration::ZERO, |l| {
            l.command == "JOIN"
                && l.is_from(&self.nick)
                && l.param(0).is_some_and(|c| irc_eq(c, chan))
        });
        self.take_names(chan)
    }

    /// Sends `NAMES chan` and returns the members as listed (`@alice`, `bob`).
    pub fn names(&self, chan: &str) -> Vec<String> {
        self.send(&format!("NAMES {chan}"));
        self.expect(READY_TIMEOUT, &format!("366 for {chan}"), |l| {
            l.command == "366" && l.param(1).is_some_and(|c| irc_eq(c, chan))
        });
        self.take_names(chan)
    }

    /// Takes every `353` for `chan` from the backlog (they precede the `366` just taken).
    fn take_names(&self, chan: &str) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(line) = self.try_expect(Duration::ZERO, |l| {
            l.command == "353" && l.param(2).is_some_and(|c| irc_eq(c, chan))
        }) {
            names.extend(
                line.last()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned),
            );
        }
        names
    }

    /// Waits for the first received line (oldest first, including ones that earlier calls
    /// passed over) that matches `pred`, and takes it. Lines that do not match stay for later
    /// calls. Panics after `timeout` naming `what` and listing everything received.
    pub fn expect(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&IrcLine) -> bool,
    ) -> IrcLine {
        let mut state = self.state();
        match take_match(&mut state, timeout, &pred) {
            Some(line) => line,
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
        pred: impl Fn(&IrcLine) -> bool,
    ) -> Option<IrcLine> {
        let mut state = self.state();
        take_match(&mut state, timeout, &pred)
    }

    /// `expect` for a numeric (or any command) by name, e.g. `"433"`.
    pub fn expect_command(&self, timeout: Duration, command: &str) -> IrcLine {
        self.expect(timeout, command, |l| l.command == command)
    }

    /// Panics if a line matching `pred` has arrived or arrives within `duration`.
    pub fn expect_none(&self, duration: Duration, pred: impl Fn(&IrcLine) -> bool) {
        let mut state = self.state();
        if let Some(line) = take_match(&mut state, duration, &pred) {
            panic!(
                "{}",
                self.report(&state, &format!("unexpected line {}", line.raw))
            );
        }
    }

    /// Waits until the server has closed the connection (after its `ERROR`, if any).
    pub fn expect_disconnect(&self, timeout: Duration) {
        let mut state = self.state();
        let deadline = Instant::now() + timeout;
        while receive_one(&mut state, deadline) {}
        if !state.closed {
            panic!(
                "{}",
                self.report(&state, &format!("still connected after {timeout:?}"))
            );
        }
    }

    /// Whether the server has closed the connection (as far as received so far).
    pub fn is_closed(&self) -> bool {
        let mut state = self.state();
        while receive_one(&mut state, Instant::now()) {}
        state.closed
    }

    /// Everything received so far (and what was sent, marked `>>`), one line per entry.
    pub fn history(&self) -> Vec<String> {
        let mut state = self.state();
        while receive_one(&mut state, Instant::now()) {}
        self.merged_history(&state)
    }

    /// Sends `QUIT` and waits (5 s at most) for the server to close the connection.
    pub fn quit(self) {
        let sent = {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            write!(w, "QUIT :bye\r\n").and_then(|()| w.flush()).is_ok()
        };
        if sent {
            let mut state = self.state();
            let deadline = Instant::now() + Duration::from_secs(5);
            while receive_one(&mut state, deadline) {}
        }
        // Drop shuts the socket down.
    }

    fn merged_history(&self, state: &ClientState) -> Vec<String> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(state.history.len() + sent.len());
        let mut sent_iter = sent.iter().peekable();
        for (n, line) in state.history.iter().enumerate() {
            while let Some((_, s)) = sent_iter.next_if(|(position, _)| *position <= n) {
                out.push(format!(">> {s}"));
            }
            out.push(line.clone());
        }
        out.extend(sent_iter.map(|(_, s)| format!(">> {s}")));
        out
    }

    fn report(&self, state: &ClientState, problem: &str) -> String {
        const SHOWN: usize = 300;
        let history = self.merged_history(state);
        let skipped = history.len().saturating_sub(SHOWN);
        let mut text = format!(
            "IRC client {} (127.0.0.1:{}): {problem}\nsent (>>) and received",
            self.nick, self.port
        );
        if skipped > 0 {
            text.push_str(&format!(" (the first {skipped} left out)"));
        }
        text.push_str(":\n");
        for (n, line) in history.iter().enumerate().skip(skipped) {
            text.push_str(&format!("  {}. {line}\n", n + 1));
        }
        if state.closed {
            text.push_str("(the server has closed the connection)\n");
        }
        text
    }
}

impl Drop for IrcClient {
    fn drop(&mut self) {
        // Ends the reader thread too.
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.shutdown(Shutdown::Both);
    }
}
