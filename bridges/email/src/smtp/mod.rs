//! The inbound SMTP listener: a small ESMTP server (RFC 5321) with strict limits.
//!
//! The protocol is pure and tested without sockets; only [`server`] does I/O:
//!
//! - [`command`]: one command line → [`Command`] (strict paths, known parameters only).
//! - [`data`]: the DATA phase: `CRLF.CRLF` terminator, dot-unstuffing, size and line limits.
//! - [`session`]: the state machine (Fresh → Greeted → Mail → Rcpt → Data), which answers
//!   every command with a [`Reply`] or asks its driver for a recipient check, a delivery or
//!   a TLS handshake ([`Step`]).
//! - [`server`]: [`serve`], one tokio task per connection, connection cap, timeouts,
//!   STARTTLS, `421` on shutdown; [`SmtpHandler`] checks recipients and stores messages.
//! - [`settings`]: [`SmtpServerConfig`] (limits, timeouts) and the [`SmtpHandler`] trait.
//! - [`limits`]: connections per client IP address, and [`SmtpStats`] (limits hit).
//! - [`tls`]: a rustls server configuration from PEM files.
//!
//! Limits (see the constants): command lines of [`MAX_COMMAND_LINE`] octets, text lines of
//! [`MAX_DATA_LINE`] octets (both including CRLF, RFC 5321 §4.5.3.1), paths of
//! [`MAX_PATH`] octets, [`MAX_ERRORS`] protocol errors or refused recipients per
//! connection, [`MAX_IDLE_COMMANDS`] commands without mail; message size, recipients,
//! connections (in all and per client IP), timeouts and the session lifetime come from
//! [`SmtpServerConfig`].

pub mod command;
pub mod data;
pub mod limits;
pub mod reply;
pub mod server;
pub mod session;
pub mod settings;
pub mod tls;

#[cfg(test)]
mod command_tests;

#[cfg(test)]
mod session_tests;

#[cfg(test)]
mod server_tests;

#[cfg(test)]
mod limit_tests;

pub use command::{Command, ParseError};
pub use data::{DataOutcome, DataReader};
pub use limits::SmtpStats;
pub use reply::Reply;
pub use server::{serve, SmtpHandler, SmtpServerConfig, SHUTDOWN_GRACE};
pub use session::{
    DeliverError, Envelope, Limit, RcptVerdict, Session, SessionConfig, State, Step,
};
pub use tls::{load_tls_config, tls_config, TlsConfigError};

/// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;
/// Longest line of message text, CRLF included (RFC 5321 §4.5.3.1.6). A message with a
/// longer line is read to its end and refused with `500 Line too long`.
pub const MAX_DATA_LINE: usize = 1000;
/// Longest reverse- or forward-path without the angle brackets (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 254;
/// Protocol errors (500, 501, 502, 503, 555) and refused recipients (550) a connection
/// may have before it is closed with `421`.
pub const MAX_ERRORS: u32 = 10;
/// Commands that move no mail forward (NOOP, RSET, VRFY, EHLO/HELO) a connection may send
/// between two messages; one more is answered `421` and the connection closed.
pub const MAX_IDLE_COMMANDS: u32 = 20;
