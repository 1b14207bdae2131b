//! A raw IRC client for tests: one TCP connection, lines in and out, nothing hidden except
//! the answers to the server's PINGs.

use super::*;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Numerics with which a server refuses a JOIN; the channel is their second parameter.
const JOIN_ERRORS: &[&str] = &[
    "403", "405", "437", "471", "473", "474", "475", "476", "477", "489",
];
/// Numerics with which a server refuses a registration.
const REGISTRATION_ERRORS: &[&str] = &["432", "433", "436", "437", "451", "465", "ERROR"];

/// One line from the server, parsed by hand:
/// `[@tags] [:prefix] COMMAND param... [:trailing]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrcLine {
    /// The line as received, without its `\r\n`.
    pub raw: String,
    /// The message tags without the leading `@` (`time=...;msgid=...`), or empty.
    pub tags: String,
    /// The whole prefix without its `:` (`nick!user@host` or a server name).
    pub prefix: Option<String>,
    /// The nick of a `nick!user@host` (or plain `nick`) prefix; `None` for a server prefix.
    pub prefix_nick: Option<String>,
    /// `PRIVMSG`, `JOIN`, `001`, … (upper-cased).
    pub command: String,
    /// The parameters; the trailing one (after ` :`) is the last.
    pub params: Vec<String>,
}

impl IrcLine {
    pub fn parse(raw: &str) -> IrcLine {
        let mut rest = raw;
        let mut tags = String::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (t, r) = after.split_once(' ').unwrap_or((after, ""));
            tags = t.to_owned();
            rest = r.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (p, r) = after.split_once(' ').unwrap_or((after, ""));
            prefix = Some(p.to_owned());
            rest = r.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (param, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_owned());
            rest = r;
        }
        let prefix_nick = prefix.as_deref().and_then(|p| {
            let nick = p.split(['!', '@']).next().unwrap_or(p);
            // Nicks cannot contain dots; server names (irc.test) do.
            let is_server = nick.len() == p.len() && p.contains('.');
            (!is_server && !nick.is_empty()).then(|| nick.to_owned())
        });
        IrcLine {
            raw: raw.to_owned(),
            tags,
            prefix,
            prefix_nick,
            command: command.to_ascii_uppercase(),
            params,
        }
    }

    /// The `n`th parameter (0-based), if present.
    pub fn param(&self, n: usize) -> Option<&str> {
        self.params.get(n).map(String::as_str)
    }

    /// The last parameter (the trailing one, when there is one).
    pub fn last(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }

    /// The value of message tag `key` (unescaped); `Some("")` for a tag without a value.
    pub fn tag(&self, key: &str) -> Option<String> {
        self.tags.split(';').find_map(|tag| {
            let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
            (k == key).then(|| unescape_tag_value(v))
        })
    }

    /// Sent by `nick` (IRC case-insensitively).
    pub fn is_from(&self, nick: &str) -> bool {
        self.prefix_nick.as_deref().is_some_and(|n| irc_eq(n, nick))
    }

    /// The text of a PRIVMSG (`None` for any other command).
    pub fn privmsg_text(&self) -> Option<&str> {
        (self.command == "PRIVMSG" && self.params.len() >= 2).then(|| self.params[1].as_str())
    }

    /// A PRIVMSG or NOTICE from `from` to `target` (channel or nick) whose text is `text`.
    pub fn is_message(&self, from: &str, target: &str, text: &str) -> bool {
        matches!(self.command.as_str(), "PRIVMSG" | "NOTICE")
            && self.is_from(from)
            && self.param(0).is_some_and(|t| irc_eq(t, target))
            && self.param(1) == Some(text)
    }
}

/// IRC name comparison under the `rfc1459` casemapping InspIRCd announces:
/// ASCII case plus `[]\~` = `{}|^`.
pub fn irc_eq(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        }
    }
    a.chars().map(fold).eq(b.chars().map(fold))
}

fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

struct ClientState {
    lines: Receiver<IrcLine>,
    /// Received lines that no `expect` has taken yet, oldest first.
    backlog: VecDeque<IrcLine>,
    /// Every line received (and sent, marked `>>`), for failure messages.
    history: Vec<String>,
    /// The server closed the connection: nothing more will arrive.
    closed: bool,
}

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
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim_end_matches(['\r', '\n']);
                if text.is_empty() {
                    continue;
                }
                let line = IrcLine::parse(text);
                if line.command == "PING" {
                    let token = line.last().unwrap_or_default();
                    let mut w = pong_writer.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = write!(w, "PONG :{token}\r\n").and_then(|()| w.flush());
                }
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
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

fn take_match(
    state: &mut ClientState,
    timeout: Duration,
    pred: &dyn Fn(&IrcLine) -> bool,
) -> Option<IrcLine> {
    if let Some(position) = state.backlog.iter().position(pred) {
        return state.backlog.remove(position);
    }
    let deadline = Instant::now() + timeout;
    loop {
        if !receive_one(state, deadline) {
            return None;
        }
        // The new line is the last one in the backlog.
        if state.backlog.back().is_some_and(pred) {
            return state.backlog.pop_back();
        }
    }
}

/// Moves one received line into the backlog. `false` once `deadline` has passed (with
/// nothing received) or the connection has ended.
fn receive_one(state: &mut ClientState, deadline: Instant) -> bool {
    if state.closed {
        return false;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let received = if left.is_zero() {
        state.lines.try_recv().map_err(|e| match e {
            mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
            mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        })
    } else {
        state.lines.recv_timeout(left)
    };
    match received {
        Ok(line) => {
            state.history.push(line.raw.clone());
            state.backlog.push_back(line);
            true
        }
        Err(RecvTimeoutError::Timeout) => false,
        Err(RecvTimeoutError::Disconnected) => {
            state.closed = true;
            false
        }
    }
}

impl Drop for IrcClient {
    fn drop(&mut self) {
        // Ends the reader thread too.
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.shutdown(Shutdown::Both);
    }
}
