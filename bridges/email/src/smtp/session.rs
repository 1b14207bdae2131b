//! The SMTP state machine, without I/O: commands in, [`Step`]s out.
//!
//! States go Fresh → Greeted (EHLO/HELO) → Mail (MAIL) → Rcpt (an accepted RCPT) → Data
//! (DATA answered 354). Out of order commands get `503`. The driver does what a step asks
//! and reports back: [`Step::CheckRecipient`] → [`Session::recipient_checked`],
//! [`Step::StartData`] → read with a [`DataReader`](super::DataReader) →
//! [`Session::data_received`] → [`Step::Deliver`] → [`Session::delivered`],
//! [`Step::StartTls`] → handshake → [`Session::tls_started`].

use super::command::Command;
use super::data::DataOutcome;
use super::reply::{excerpt, Reply, MAX_REPLY_TEXT};
use super::{MAX_ERRORS, MAX_IDLE_COMMANDS};
use std::net::SocketAddr;

mod types;

pub use types::{DeliverError, Envelope, Limit, RcptVerdict, SessionConfig, State, Step};

/// One SMTP session (one connection).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    peer: SocketAddr,
    state: State,
    helo: Option<String>,
    tls: bool,
    mail_from: String,
    rcpt_to: Vec<String>,
    pending_rcpt: Option<String>,
    errors: u32,
    /// Commands since the last message that moved nothing forward.
    idle: u32,
    limit: Option<Limit>,
}

impl Session {
    /// A new session for a client at `peer`.
    pub fn new(config: SessionConfig, peer: SocketAddr) -> Self {
        Session {
            config,
            peer,
            state: State::Fresh,
            helo: None,
            tls: false,
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            pending_rcpt: None,
            errors: 0,
            idle: 0,
            limit: None,
        }
    }

    /// The `220` banner.
    pub fn greeting(&self) -> Reply {
        Reply::new(220, format!("{} ESMTP Switchboard", self.config.hostname))
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The limit that closed the session, if one did.
    pub fn limit_hit(&self) -> Option<Limit> {
        self.limit
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The `421` for a client that went quiet too long.
    pub fn timeout(&self) -> Reply {
        Reply::new(
            421,
            format!("{} Timeout, closing connection", self.config.hostname),
        )
    }

    /// The `421` for a server going down.
    pub fn shutting_down(&self) -> Reply {
        Reply::new(
            421,
            format!(
                "{} Service shutting down, try again later",
                self.config.hostname
            ),
        )
    }

    /// One command line as received (CRLF removed).
    /// A line that does not parse gets its [`ParseError`](super::ParseError) code.
    pub fn line(&mut self, line: &[u8]) -> Step {
        match Command::parse(line) {
            Ok(command) => self.command(command),
            Err(e) => self.error(e.code(), e.to_string()),
        }
    }

    /// A command line longer than [`MAX_COMMAND_LINE`](super::MAX_COMMAND_LINE) (all of
    /// it was dropped).
    pub fn line_too_long(&mut self) -> Step {
        self.error(500, "Line too long")
    }

    /// One parsed command.
    pub fn command(&mut self, command: Command) -> Step {
        use State::*;
        // Commands that move no mail forward: a client that only sends these (a NOOP
        // every few minutes, RSET loops, EHLO again and again) is closed after a while.
        if matches!(
            command,
            Command::Noop | Command::Rset | Command::Vrfy | Command::Ehlo(_) | Command::Helo(_)
        ) {
            if let Some(close) = self.idle_command() {
                return close;
            }
        }
        match (command, self.state) {
            (_, Data) => self.error(503, "Bad sequence of commands: message data expected"),
            (Command::Ehlo(domain), _) => {
                self.greet(domain);
                let mut lines = vec![
                    format!("{} Hello", self.config.hostname),
                    "PIPELINING".to_string(),
                    format!("SIZE {}", self.config.max_message_bytes),
                    "8BITMIME".to_string(),
                ];
                if self.config.tls_available && !self.tls {
                    lines.push("STARTTLS".to_string());
                }
                Step::Reply(Reply::multi(250, lines))
            }
            (Command::Helo(domain), _) => {
                self.greet(domain);
                Step::Reply(Reply::new(250, self.config.hostname.clone()))
            }
            (Command::Quit, _) => Step::Close(Reply::new(
                221,
                format!("{} closing connection", self.config.hostname),
            )),
            (Command::Noop, _) => ok(),
            (Command::Vrfy, _) => Step::Reply(Reply::new(
                252,
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            (Command::Rset, _) => {
                self.reset();
                ok()
            }
            (Command::Unknown(verb), _) => match verb.as_str() {
                "EXPN" | "HELP" | "TURN" | "ETRN" | "AUTH" | "BDAT" | "ATRN" => {
                    self.error(502, "Command not implemented")
                }
                _ => self.error(500, "Syntax error, command unrecognized"),
            },
            (Command::StartTls, _) if !self.config.tls_available => {
                self.error(502, "Command not implemented")
            }
            (Command::StartTls, _) if self.tls => self.error(503, "TLS already active"),
            (Command::StartTls, Greeted) => Step::StartTls(Reply::new(220, "Ready to start TLS")),
            (Command::StartTls, Fresh) => self.error(503, "Send EHLO first"),
            (Command::StartTls, _) => self.error(503, "Not during a mail transaction"),
            (_, Fresh) => self.error(503, "Bad sequence of commands: send EHLO/HELO first"),
            (Command::MailFrom { path, size }, Greeted) => {
                if size.is_some_and(|s| s > self.config.max_message_bytes) {
                    if let Some(close) = self.idle_command() {
                        return close;
                    }
                    return Step::Reply(Reply::new(
                        552,
                        "Message size exceeds fixed maximum message size",
                    ));
                }
                self.mail_from = path;
                self.state = Mail;
                ok()
            }
            (Command::MailFrom { .. }, _) => {
                self.error(503, "Bad sequence of commands: nested MAIL")
            }
            (Command::RcptTo(_), Greeted) => {
                self.error(503, "Bad sequence of commands: need MAIL first")
            }
            (Command::RcptTo(rcpt), _) => {
                // A recipient given again, or one too many, moves nothing forward either.
                if self.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(&rcpt)) {
                    return self.idle_command().unwrap_or_else(ok);
                }
                if self.rcpt_to.len() >= self.config.max_recipients {
                    return self
                        .idle_command()
                        .unwrap_or_else(|| Step::Reply(Reply::new(452, "Too many recipients")));
                }
                self.pending_rcpt = Some(rcpt.clone());
                Step::CheckRecipient(rcpt)
            }
            (Command::Data, Greeted) => {
                self.error(503, "Bad sequence of commands: need MAIL first")
            }
            (Command::Data, Mail) => self.error(503, "Bad sequence of commands: need RCPT first"),
            (Command::Data, _) => {
                self.state = Data;
                Step::StartData(Reply::new(354, "End data with <CR><LF>.<CR><LF>"))
            }
        }
    }

    /// The handler's answer for the recipient of the last [`Step::CheckRecipient`]. A
    /// refused recipient counts as an error (guessing addresses ends the connection).
    pub fn recipient_checked(&mut self, verdict: RcptVerdict) -> Step {
        let Some(rcpt) = self.pending_rcpt.take() else {
            return Step::Reply(Reply::new(503, "Bad sequence of commands"));
        };
        match verdict {
            RcptVerdict::Accept => {
                self.rcpt_to.push(rcpt);
                self.state = State::Rcpt;
                Step::Reply(Reply::new(250, "OK"))
            }
            RcptVerdict::Reject(text) => self.error(550, bounded(&text, "No such user here")),
            RcptVerdict::TempFail(text) => {
                Step::Reply(Reply::new(451, bounded(&text, "Try again later")))
            }
        }
    }

    /// The result of the DATA phase: a message to deliver, or the refusal to send.
    pub fn data_received(&mut self, outcome: DataOutcome) -> Step {
        if self.state != State::Data {
            return self.error(503, "Bad sequence of commands");
        }
        match outcome {
            DataOutcome::Message(message) => {
                let envelope = Envelope {
                    mail_from: std::mem::take(&mut self.mail_from),
                    rcpt_to: std::mem::take(&mut self.rcpt_to),
                    peer: self.peer,
                    helo: self.helo.clone().unwrap_or_default(),
                    tls: self.tls,
                };
                self.reset();
                self.idle = 0;
                Step::Deliver(envelope, message)
            }
            DataOutcome::TooBig { .. } => {
                self.reset();
                Step::Reply(Reply::new(552, "Too much mail data"))
            }
            DataOutcome::LineTooLong => {
                self.reset();
                Step::Reply(Reply::new(500, "Line too long"))
            }
        }
    }

    /// The handler's answer for the message of the last [`Step::Deliver`].
    pub fn delivered(&mut self, result: Result<String, DeliverError>) -> Reply {
        match result {
            Ok(id) => Reply::new(250, format!("OK queued as {}", excerpt(id.as_bytes(), 64))),
            Err(DeliverError::Transient(text)) => {
                Reply::new(451, bounded(&text, "Try again later"))
            }
            Err(DeliverError::Permanent(text)) => {
                Reply::new(554, bounded(&text, "Transaction failed"))
            }
        }
    }

    /// The TLS handshake succeeded: everything known before is forgotten (RFC 3207 §4.2),
    /// the client must EHLO again.
    pub fn tls_started(&mut self) {
        self.reset();
        self.state = State::Fresh;
        self.helo = None;
        self.tls = true;
    }

    fn greet(&mut self, domain: String) {
        self.reset();
        self.helo = Some(domain);
        self.state = State::Greeted;
    }

    /// Ends any transaction.
    fn reset(&mut self) {
        self.mail_from.clear();
        self.rcpt_to.clear();
        self.pending_rcpt = None;
        self.state = if self.helo.is_some() {
            State::Greeted
        } else {
            State::Fresh
        };
    }

    /// Counts a command that moved no mail forward: `None`, or the `421` that ends the
    /// session once there were more than [`MAX_IDLE_COMMANDS`] since the last message.
    fn idle_command(&mut self) -> Option<Step> {
        self.idle += 1;
        if self.idle <= MAX_IDLE_COMMANDS {
            return None;
        }
        self.limit = Some(Limit::Idle);
        Some(Step::Close(Reply::new(
            421,
            format!(
                "{} Too many commands without mail, closing connection",
                self.config.hostname
            ),
        )))
    }

    /// A protocol error: its reply, or `421` and the end once there were too many.
    fn error(&mut self, code: u16, text: impl Into<String>) -> Step {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.limit = Some(Limit::Errors);
            return Step::Close(Reply::new(
                421,
                format!(
                    "{} Too many errors, closing connection",
                    self.config.hostname
                ),
            ));
        }
        Step::Reply(Reply::new(code, text))
    }
}

fn ok() -> Step {
    Step::Reply(Reply::new(250, "OK"))
}

/// A handler's text, bounded and printable, or `default` when there is none.
fn bounded(text: &str, default: &str) -> String {
    if text.trim().is_empty() {
        default.to_string()
    } else {
        excerpt(text.as_bytes(), MAX_REPLY_TEXT)
    }
}
