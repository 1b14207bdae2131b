//! Protocol-level groundwork for the Switchboard SMS bridge (issue 4).
//!
//! This crate holds only pure functions and types, with no I/O:
//!
//! - [`number`]: E.164 normalisation of phone numbers and the JID local-part form
//!   (`+15551234567` in `+15551234567@sms.example.org`).
//! - [`encoding`]: choice between GSM-7 and UCS-2 for a message and the number of SMS
//!   segments it needs, used for `sms.max_segments` and for Kannel's `coding`.
//! - [`signature`]: Twilio webhook validation (`X-Twilio-Signature`, HMAC-SHA1).
//!
//! The providers, the inbound HTTP routes and the bridge `Session` come later and build on
//! these modules. Like every bridge crate, this one knows nothing of XMPP.

pub mod encoding;
pub mod error;
pub mod number;
pub mod signature;

pub use error::NumberError;
