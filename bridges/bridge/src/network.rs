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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A login the bridge already knows (from [`crate::Connector::open_session`]).
    Login(LoginId),
    /// The owner of an address, as the operator or an admin named them (a bare JID, as
    /// the core normalised it). The core opens a session for them if needed.
    Owner(String),
}

/// One event for a user, with a way to tell the bridge it was taken.
#[derive(Debug)]
pub struct Delivery {
    /// Who it is for.
    pub to: Recipient,
    /// What happened.
    pub event: RemoteEvent,
    /// Answered once the core has queued the result for the user (or refused it).
    pub done: oneshot::Sender<Result<(), BridgeError>>,
}

/// The core no longer takes events (shutting down).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the gateway is shutting down")]
pub struct InboxClosed;

/// Where network-wide traffic (not tied to an open session) goes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Delivery>,
}

impl Inbox {
    /// An inbox feeding `tx` (called by the core).
    pub fn new(tx: mpsc::Sender<Delivery>) -> Self {
        Self { tx }
    }

    /// Hands one event to the core and waits until it is queued for the user. An `Err`
    /// from the core says why it was refused: transient while the XMPP server is not
    /// connected (keep the event and try again), permanent for an unknown or refused
    /// owner. The outer error says the core is gone.
    pub async fn deliver(
        &self,
        to: Recipient,
        event: RemoteEvent,
    ) -> Result<Result<(), BridgeError>, InboxClosed> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Delivery { to, event, done })
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
