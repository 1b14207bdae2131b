//! Storage: registrations, per-user settings and the durable outbox.
//!
//! [`Store`] is the seam: SQLite ([`sqlite::SqliteStore`]) is the embedded default;
//! PostgreSQL will come through the same trait.

pub mod archive;
mod bridge_kv;
mod migrations;
pub mod seal;
pub mod sqlite;

pub use bridge_kv::BridgeKv;

use crate::error::Error as StoreError;
use async_trait::async_trait;
use futures::future::BoxFuture;
use std::time::Duration;
use switchboard_bridge::{
    Accepted, Inbound, LoginData, LoginId, OutgoingMessage, Recipient, RemoteEvent, TxnId,
};

/// One user's registration with one transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// Opaque id minted when the user first registered; stable across re-registration.
    pub login: LoginId,
    /// The transport's domain.
    pub transport: String,
    /// The user's bare JID.
    pub jid: String,
    /// What the bridge keeps of the registration.
    pub data: LoginData,
}

/// Row id of an outbox entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxId(pub i64);

/// A message taken from a user, not yet taken by the foreign network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxEntry {
    /// The transport's domain.
    pub transport: String,
    /// Whose session sends it.
    pub login: LoginId,
    /// The full JID that sent it (errors and receipts go back there).
    pub sender: String,
    /// The JID it was sent to (errors and receipts come from there).
    pub recipient: String,
    /// The stanza id the client chose, echoed in errors and receipts (never a key).
    pub stanza_id: Option<String>,
    /// The sender asked for an XEP-0184 receipt.
    pub wants_receipt: bool,
    /// What to send.
    pub message: OutgoingMessage,
}

/// An outbox entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Row id.
    pub id: OutboxId,
    /// The entry.
    pub entry: NewOutboxEntry,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// Where an XEP-0184 receipt goes once the foreign side reports delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptTarget {
    /// The full JID that sent the message.
    pub sender: String,
    /// The JID it was sent to (the receipt comes from there).
    pub recipient: String,
    /// The id of the user's message.
    pub stanza_id: String,
}

/// Row id of a stored inbound event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundId(pub i64);

/// An event from a bridge for a user, stored before the bridge was answered, waiting to
/// be handed to the XMPP server.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredInbound {
    /// Row id (the order of arrival on its transport).
    pub id: InboundId,
    /// Who it is for.
    pub to: Recipient,
    /// What happened.
    pub event: RemoteEvent,
    /// The stanza id minted when it was stored: a redelivery after a crash carries the
    /// same id.
    pub stanza_id: String,
    /// Delivery attempts that failed transiently.
    pub attempts: u32,
}

/// Storage operations. Every write is durable when the call returns.
#[async_trait]
pub trait Store: archive::ArchiveStore + Send + Sync + 'static {
    /// The registration of `jid` with `transport`, if any.
    async fn registration(
        &self,
        transport: &str,
        jid: &str,
    ) -> Result<Option<Registration>, StoreError>;
    /// Registers or updates; keeps the login id of an earlier registration.
    async fn put_registration(
        &self,
        transport: &str,
        jid: &str,
        data: &LoginData,
    ) -> Result<Registration, StoreError>;
    /// Removes a registration and everything of the user's on that transport (settings,
    /// queued messages). Returns what was removed.
    async fn delete_registration(
        &self,
        transport: &str,
        jid: &str,
    ) -> Result<Option<Registration>, StoreError>;
    /// All registrations with a transport.
    async fn registrations(&self, transport: &str) -> Result<Vec<Registration>, StoreError>;

    /// A per-user setting.
    async fn setting(&self, login: &LoginId, key: &str) -> Result<Option<String>, StoreError>;
    /// A user's settings whose key starts with `prefix`, as (key, value).
    async fn settings(
        &self,
        login: &LoginId,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Sets a per-user setting.
    async fn put_setting(&self, login: &LoginId, key: &str, value: &str) -> Result<(), StoreError>;

    /// Takes (removes and returns) the receipt awaited for a message, if any.
    async fn receipt_take(&self, txn: &TxnId) -> Result<Option<ReceiptTarget>, StoreError>;

    /// Stores a message before it is acknowledged; when it wants a receipt (and has a
    /// stanza id), the receipt target is stored with it. The write is queued when the call
    /// returns: whatever is asked of the store after it comes after it, and the future only
    /// waits for the commit (a caller may take the next message before this one is on
    /// disk, in order).
    fn outbox_push(
        &self,
        entry: &NewOutboxEntry,
    ) -> BoxFuture<'static, Result<OutboxId, StoreError>>;
    /// A login's waiting messages, oldest first, at most `limit`.
    async fn outbox_pending(
        &self,
        login: &LoginId,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Number of a login's waiting messages.
    async fn outbox_len(&self, login: &LoginId) -> Result<u64, StoreError>;
    /// Number of waiting messages on a transport.
    async fn outbox_total(&self, transport: &str) -> Result<u64, StoreError>;
    /// Records a failed attempt.
    async fn outbox_attempted(&self, id: OutboxId) -> Result<(), StoreError>;
    /// Removes a delivered (or finally failed) message; queued when the call returns, as
    /// [`Store::outbox_push`]: a later read of the outbox no longer sees it.
    fn outbox_remove(&self, id: OutboxId) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Stores events from a bridge in one transaction (all or none). An item whose
    /// `once` key was stored on this transport less than `keep` ago is not stored again
    /// ([`Accepted::Duplicate`]); keys older than `keep` are forgotten.
    async fn inbound_push(
        &self,
        transport: &str,
        items: &[Inbound],
        keep: Duration,
    ) -> Result<Vec<Accepted>, StoreError>;
    /// A transport's waiting events, oldest first, at most `limit`. Rows that no longer
    /// decode are removed (logged).
    async fn inbound_pending(
        &self,
        transport: &str,
        limit: usize,
    ) -> Result<Vec<StoredInbound>, StoreError>;
    /// Records a failed attempt.
    async fn inbound_attempted(&self, id: InboundId) -> Result<(), StoreError>;
    /// Removes events handed to the XMPP server (or refused for good).
    async fn inbound_remove(&self, ids: &[InboundId]) -> Result<(), StoreError>;
    /// Number of waiting events on a transport.
    async fn inbound_total(&self, transport: &str) -> Result<u64, StoreError>;
}

/// A fresh transaction id for a message taken from a user.
pub fn new_txn() -> TxnId {
    TxnId::new(format!("t{:032x}", rand::random::<u128>()))
}
