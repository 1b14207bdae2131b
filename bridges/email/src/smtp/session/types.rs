//! What a session is told and tells: its configuration, states, verdicts, envelopes and
//! the steps it asks of the driver.

use super::super::reply::Reply;
use std::net::SocketAddr;
use thiserror::Error;

/// What the session needs to know about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our host name, in the banner and replies (trusted: from the configuration).
    pub hostname: String,
    /// Largest message taken, in octets (advertised as `SIZE`).
    pub max_message_bytes: u64,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Whether STARTTLS can be offered (a certificate is configured).
    pub tls_available: bool,
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connected (or just switched to TLS); EHLO/HELO expected.
    Fresh,
    /// Greeted, no transaction.
    Greeted,
    /// MAIL taken, no recipient yet.
    Mail,
    /// At least one recipient taken.
    Rcpt,
    /// DATA answered 354: the message is being read.
    Data,
}

/// The answer of a recipient check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptVerdict {
    /// The recipient is ours: `250`.
    Accept,
    /// No such recipient: `550` with this text.
    Reject(String),
    /// Cannot tell now (storage down): `451` with this text.
    TempFail(String),
}

/// Why a message was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliverError {
    /// Try again later: `451`.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Never: `554`.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// The envelope of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path; empty for the null sender (bounces).
    pub mail_from: String,
    /// The accepted recipients, in order, without duplicates.
    pub rcpt_to: Vec<String>,
    /// The client's address.
    pub peer: SocketAddr,
    /// What the client said in EHLO/HELO (printable ASCII, bounded).
    pub helo: String,
    /// Whether the message came over TLS.
    pub tls: bool,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this reply, then read the next command.
    Reply(Reply),
    /// Ask the handler about this recipient, then call [`Session::recipient_checked`](super::Session::recipient_checked).
    CheckRecipient(String),
    /// Send this `354`, then read the message and call [`Session::data_received`](super::Session::data_received).
    StartData(Reply),
    /// Store the message durably, then call [`Session::delivered`](super::Session::delivered) and send its reply.
    Deliver(Envelope, Vec<u8>),
    /// Send this `220`, drop any input already buffered, run the TLS handshake, then call
    /// [`Session::tls_started`](super::Session::tls_started).
    StartTls(Reply),
    /// Send this reply and close the connection.
    Close(Reply),
}

/// Which limit ended a session (for the listener's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`MAX_ERRORS`](super::super::MAX_ERRORS) protocol errors or refused recipients.
    Errors,
    /// [`MAX_IDLE_COMMANDS`](super::super::MAX_IDLE_COMMANDS) commands in a row that moved no mail (NOOP, RSET, …).
    Idle,
}
