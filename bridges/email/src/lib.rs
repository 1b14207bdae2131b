//! Protocol-level groundwork for the Switchboard email bridge (issue 5).
//!
//! Pure functions and types, no I/O:
//!
//! - [`address`]: mail addresses as JID local parts (`bob%example.net` ↔
//!   `bob@example.net`) and user aliases, checked with strict limits.
//! - [`header`]: text that goes into a header (display names, subjects) made safe: no
//!   CR/LF or other control characters can ever add a header; subjects derived from text.
//! - [`reply`]: the new part of a reply: quoted lines, the attribution line above them and
//!   the signature removed.
//! - [`html`]: escaping for digests.
//!
//! The SMTP relay (lettre), the inbound listener, digests and the bridge `Session` come
//! later and build on these modules. Like every bridge crate, this one knows nothing of XMPP.

pub mod address;
pub mod compose;
pub mod config;
mod connector;
pub mod digest;
pub mod digests;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod heavy;
pub mod html;
pub mod inbound;
mod listener;
mod relay;
pub mod reply;
pub mod schedule;
mod session;
mod shared;
pub mod smtp;
pub mod verify;

pub use connector::EmailConnector;
pub use error::AddressError;
