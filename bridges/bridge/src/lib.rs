//! The neutral model that every Switchboard bridge speaks.
//!
//! A bridge (IRC, SMS, email, …) knows its own protocol and this crate, nothing of XMPP.
//! The gateway core (the root crate) translates between XMPP stanzas and these types.
//!
//! * [`Connector`] — one per transport: describes the network, validates registrations,
//!   parses and formats addresses, opens sessions.
//! * [`Session`] — one per registered user: runs the foreign connection, takes commands,
//!   reports what happens as [`RemoteEvent`]s through an [`EventSink`].
//!
//! Connection health is data ([`SessionState`] events), never a return value.

pub mod calendar;
mod command;
pub mod config;
mod content;
mod error;
mod event;
mod fair;
mod form;
mod group;
mod ids;
mod memory;
mod network;
mod sink;
mod traits;
mod watch;

pub use command::{Availability, OutgoingMessage, PresenceUpdate, Sent};
pub use content::{Attachment, MessageContent, TextKind};
pub use error::BridgeError;
pub use event::{
    Envelope, GroupSnapshot, IncomingMessage, LeaveReason, MembershipChange, RemoteEvent, Sender,
    SessionState,
};
pub use fair::{event_queues, EventQueues, EventReceiver};
pub use form::{
    CommandForm, CommandReply, FieldKind, FormField, FormValues, LoginData, RegistrationForm,
    ReplyField,
};
pub use group::{GroupListing, JoinRequest, Occupant, Rank};
pub use ids::{Chat, GroupId, LoginId, MessageId, TxnId, UserId};
pub use memory::MemoryStore;
pub use network::{
    Accepted, BridgeStore, Counter, Delivery, Inbound, Inbox, InboxClosed, Network, NetworkHealth,
    Recipient, StoreFailed, OWNER_KEY,
};
pub use sink::{EventSink, SinkClosed};
pub use traits::{Capabilities, Connector, NetworkInfo, Session};
pub use watch::{MissedMessage, NoWatcher, Observation, ReadAccess, RoomMessage, Watcher};

/// Re-exported so that bridges and the core agree on one cancellation type.
pub use tokio_util::sync::CancellationToken;

/// Re-exported so that bridges and the core agree on one HTTP router type.
pub use axum;
