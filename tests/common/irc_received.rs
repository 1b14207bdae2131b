//! What a test IRC client receives: the reader thread (it parses every line and answers the
//! server's `PING`s) and the backlog of lines that no `expect` has taken yet.

use super::irc_line::IrcLine;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub(super) struct ClientState {
    pub(super) lines: Receiver<IrcLine>,
    /// Received lines that no `expect` has taken yet, oldest first.
    pub(super) backlog: VecDeque<IrcLine>,
    /// Every line received (and sent, marked `>>`), for failure messages.
    pub(super) history: Vec<String>,
    /// The server closed the connection: nothing more will arrive.
    pub(super) closed: bool,
}

/// Starts the thread that reads `stream` line by line, answers each `PING` on `pong_writer`
/// and hands every line over (PINGs included), until the connection ends.
pub(super) fn spawn_reader(
    stream: TcpStream,
    pong_writer: Arc<Mutex<TcpStream>>,
) -> Receiver<IrcLine> {
    let (sender, lines) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
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
    lines
}

/// Takes the oldest line that matches `pred`, from the backlog or else from what arrives
/// within `timeout`; lines that do not match stay in the backlog.
pub(super) fn take_match(
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
pub(super) fn receive_one(state: &mut ClientState, deadline: Instant) -> bool {
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
