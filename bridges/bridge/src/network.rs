//! What the core hands a connector when its transport starts: a way to reach users who
//! have no session yet (inbound webhooks, mail), a small durable key-value store, and the
//! shutdown signal.

use crate::{BridgeError, LoginId, RemoteEvent};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The key of [`crate::LoginData`] under which the core passes the owner of a session (a
/// bare JID, normalised by the core; bridges treat it as an opaque string).
pub const OWNER_KEY: &str = "owner";

/// Who an event from [`Inbox`] is for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Recipient {
    /// A login the bridge already knows (from [`crate::Connector::open_session`]).
    Login(LoginId),
    /// The owner of an address, as the operator or an admin named them (a bare JID, as
    /// the core normalised it). The core opens a session for them if needed.
    Owner(String),
}

/// One event handed to the core for a user.
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    /// Who it is for.
    pub to: Recipient,
    /// What happened.
    pub event: RemoteEvent,
    /// The foreign side's identity of this event (Twilio's `MessageSid`, a mail's
    /// Message-ID with its recipient): an event whose key the core took in the last days
    /// is not taken again ([`Accepted::Duplicate`]). `None`: no deduplication.
    pub once: Option<String>,
}

impl Inbound {
    /// An event without a deduplication key.
    pub fn new(to: Recipient, event: RemoteEvent) -> Self {
        Self {
            to,
            event,
            once: None,
        }
    }

    /// Sets the deduplication key.
    pub fn once(mut self, key: impl Into<String>) -> Self {
        self.once = Some(key.into());
        self
    }
}

/// How the core took one [`Inbound`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Stored durably; it reaches the user from storage, after a crash too.
    Stored,
    /// Its key was taken before: nothing new was stored (answer the sender as if stored).
    Duplicate,
}

/// Events for users, with a way to tell the bridge they were taken.
#[derive(Debug)]
pub struct Delivery {
    /// What is handed over, stored in one transaction (all or none).
    pub items: Vec<Inbound>,
    /// Answered once the core has stored every item durably (or refused them), one
    /// answer per item in order.
    pub done: oneshot::Sender<Result<Vec<Accepted>, BridgeError>>,
}

/// The core no longer takes events (shutting down).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the gateway is shutting down")]
pub struct InboxClosed;

/// Where network-wide traffic (not tied to an open session) goes. Cheap to clone.
///
/// What the core answers `Ok` for is in its durable store: the bridge may then tell the
/// foreign side it was taken (answer a webhook 2xx, a mail 250) and forget it.
#[derive(Clone, Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Delivery>,
}

impl Inbox {
    /// An inbox feeding `tx` (called by the core).
    pub fn new(tx: mpsc::Sender<Delivery>) -> Self {
        Self { tx }
    }

    /// Hands one event to the core and waits until it is stored. An `Err` from the core
    /// says why it was refused: transient when its store fails (keep the event, or have
    /// the foreign side retry), permanent for an unknown or refused owner. The outer
    /// error says the core is gone.
    pub async fn deliver(
        &self,
        to: Recipient,
        event: RemoteEvent,
    ) -> Result<Result<Accepted, BridgeError>, InboxClosed> {
        self.deliver_one(Inbound::new(to, event)).await
    }

    /// [`Inbox::deliver`] of one [`Inbound`] (with its deduplication key).
    pub async fn deliver_one(
        &self,
        item: Inbound,
    ) -> Result<Result<Accepted, BridgeError>, InboxClosed> {
        Ok(self
            .deliver_all(vec![item])
            .await?
            .map(|mut answers| answers.pop().unwrap_or(Accepted::Duplicate)))
    }

    /// Hands several events over in one transaction: all are stored, or none.
    pub async fn deliver_all(
        &self,
        items: Vec<Inbound>,
    ) -> Result<Result<Vec<Accepted>, BridgeError>, InboxClosed> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Delivery { items, done })
            .await
            .map_err(|_| InboxClosed)?;
        answer.await.map_err(|_| InboxClosed)
    }
}

/// A failure of the bridge store (the database is unreachable or full).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("bridge storage: {0}")]
pub struct StoreFailed(pub String);

impl From<StoreFailed> for BridgeError {
    fn from(e: StoreFailed) -> Self {
        BridgeError::Transient(e.0)
    }
}

/// A durable key-value store private to one transport. Every write is durable when the
/// call returns.
#[async_trait]
pub trait BridgeStore: Send + Sync + 'static {
    /// The value of `key`, unless absent or expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreFailed>;
    /// Sets `key`; with `ttl`, it is forgotten after that long.
    async fn put(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), StoreFailed>;
    /// Removes `key`; true when it was there.
    async fn delete(&self, key: &str) -> Result<bool, StoreFailed>;
    /// Every live (key, value) whose key starts with `prefix`, in key order.
    async fn scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreFailed>;
}

/// What a connector gets when its transport starts.
#[derive(Clone)]
pub struct Network {
    /// Events for users, by owner or login.
    pub inbox: Inbox,
    /// The transport's own durable key-value store.
    pub store: Arc<dyn BridgeStore>,
    /// Fires when the gateway stops.
    pub shutdown: CancellationToken,
    /// The gateway's public HTTP base URL (`http.public_url`), for callback URLs.
    pub public_url: Option<String>,
    /// Chats the gateway watches for the bridge; what it sees arrives at
    /// [`crate::Connector::observe`].
    pub watcher: Arc<dyn crate::Watcher>,
}

/// How a network as a whole is doing (a provider's API, a mail relay), shown in the
/// transport's presence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkHealth {
    /// True when the last contact worked.
    pub ok: bool,
    /// A short text for the status line ("twilio: ok", "kannel: HTTP 503").
    pub text: String,
    /// When this was learnt.
    pub since: SystemTime,
}

/// A counter a bridge exports on `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// Metric name (`switchboard_sms_unrouted_total`).
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Current value.
    pub value: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        BridgeError, Chat, GroupId, IncomingMessage, MessageContent, MessageId, Sender, TxnId,
        UserId,
    };
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn events_for_the_inbound_store_round_trip_through_json() {
        let events = [
            RemoteEvent::Message(IncomingMessage {
                id: Some(MessageId::new("SM1")),
                chat: Chat::Direct(UserId::new("+15550002222")),
                sender: Sender {
                    user: UserId::new("+15550002222"),
                    display_name: Some("Bob".into()),
                    is_self: false,
                },
                content: MessageContent::text("hi ✓"),
                txn: None,
                timestamp: Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            }),
            RemoteEvent::DeliveryFailed {
                chat: Chat::Direct(UserId::new("+1555")),
                txn: TxnId::new("t1"),
                reason: "undelivered".into(),
            },
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<RemoteEvent>(&json).unwrap(), event);
        }
        let to = Recipient::Owner("alice@example.org".into());
        let json = serde_json::to_string(&to).unwrap();
        assert_eq!(serde_json::from_str::<Recipient>(&json).unwrap(), to);
        // An event carrying a BridgeError is not network-wide and cannot be stored.
        let refused = RemoteEvent::GroupError {
            group: GroupId::new("#a"),
            error: BridgeError::Unsupported("x"),
        };
        assert!(serde_json::to_string(&refused).is_err());
    }
}
