//! The Switchboard SMS bridge: phone numbers as contacts, through a Twilio-compatible
//! API or Kannel.
//!
//! - [`SmsConnector`]: the transport (addresses, admin commands to assign numbers,
//!   webhooks mounted on the gateway's HTTP listener).
//! - [`session`]: checks before a message is stored (number assigned, length, limits)
//!   and the provider call.
//! - [`provider`]: Twilio and Kannel behind one trait.
//! - [`webhook`]: inbound texts and delivery reports, authenticated.
//! - Pure modules: [`number`] (E.164), [`encoding`] (GSM-7/UCS-2 segments),
//!   [`signature`] (Twilio signatures), [`limits`], [`numbers`].
//!
//! Like every bridge crate, this one knows nothing of XMPP.

pub mod config;
mod connector;
pub mod encoding;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod number;
pub mod numbers;
pub mod provider;
pub mod session;
mod shared;
pub mod signature;
pub mod webhook;

pub use config::{ProviderConfig, SmsConfig};
pub use connector::SmsConnector;
pub use error::{NumberError, SmsError};
