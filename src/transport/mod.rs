//! One transport: a component domain served by one bridge.
//!
//! It reads stanzas from its link, checks access, and turns them into bridge calls; it
//! turns bridge events into stanzas. Foreign sessions live here, independent of the link,
//! so they survive a link restart.

mod adhoc;
mod bridge_commands;
mod events;
pub(crate) mod fuzzing;
mod iq;
mod messages;
mod muc;
mod muc_events;
mod network;
mod outbox;
mod presence;
mod sessions;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod watch_tests;

use crate::access::Access;
use crate::link::{LinkHandle, QueueFull};
use crate::store::Store;
use crate::watch::{Hub, Observations, TransportWatch};
use crate::xmpp::errors;
use crate::xmpp::presence::Health;
use sessions::Sessions;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use switchboard_bridge::{Connector, Delivery, Envelope, Inbox};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// Events waiting from all sessions of one transport.
const EVENT_QUEUE: usize = 1024;
/// Network-wide events waiting (inbound SMS, mail) before their sender is slowed down.
const INBOX_QUEUE: usize = 256;

/// A running transport.
pub struct Transport {
    domain: String,
    me: Jid,
    connector: Arc<dyn Connector>,
    store: Arc<dyn Store>,
    link: LinkHandle,
    access: Access,
    user_queue: u64,
    sessions: Mutex<Sessions>,
    rooms: Mutex<muc::Rooms>,
    /// What the bridge watches (followed rooms, missed messages).
    watch: Arc<TransportWatch>,
    events_tx: mpsc::Sender<Envelope>,
    inbox: Inbox,
    session_shutdown: CancellationToken,
    tasks: TaskTracker,
    started: Instant,
}

/// What the bridge sends a transport: events of its sessions, and network-wide
/// deliveries (inbound SMS, mail) for users who may have no session yet.
pub struct BridgeInputs {
    events: mpsc::Receiver<Envelope>,
    deliveries: mpsc::Receiver<Delivery>,
    observations: Observations,
}

/// What a transport needs to run.
pub struct TransportParts {
    /// The component domain.
    pub domain: String,
    /// The bridge.
    pub connector: Arc<dyn Connector>,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The link toward the XMPP server.
    pub link: LinkHandle,
    /// Access rules.
    pub access: Access,
    /// Per-user bound on waiting messages.
    pub user_queue: u64,
    /// The gateway-wide watching state (presence book, who watches whom), shared by every
    /// transport.
    pub hub: Arc<Hub>,
}

impl Transport {
    /// Builds a transport; `run` starts it.
    pub fn new(parts: TransportParts) -> (Arc<Self>, BridgeInputs) {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (inbox_tx, deliveries) = mpsc::channel(INBOX_QUEUE);
        let me = Jid::new(&parts.domain).expect("the configured domain is a valid JID");
        let (watch, observations) =
            TransportWatch::new(parts.hub, &parts.domain, parts.link.clone());
        let t = Arc::new(Transport {
            domain: parts.domain,
            me,
            connector: parts.connector,
            store: parts.store,
            link: parts.link,
            access: parts.access,
            user_queue: parts.user_queue,
            sessions: Mutex::new(Sessions::default()),
            rooms: Mutex::new(muc::Rooms::default()),
            watch,
            events_tx,
            inbox: Inbox::new(inbox_tx),
            session_shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            started: Instant::now(),
        });
        (
            t,
            BridgeInputs {
                events,
                deliveries,
                observations,
            },
        )
    }

    /// The component domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The bridge's counters, for `/metrics`.
    pub fn counters(&self) -> Vec<switchboard_bridge::Counter> {
        self.connector.counters()
    }

    /// The link toward the XMPP server.
    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// Runs until `shutdown`: restores sessions, then serves stanzas and events. On
    /// shutdown, tells users the transport is going away, closes every foreign session
    /// and waits for them (bounded by `grace`).
    pub async fn run(
        self: Arc<Self>,
        mut inbound: mpsc::Receiver<Stanza>,
        inputs: BridgeInputs,
        shutdown: CancellationToken,
        grace: std::time::Duration,
    ) {
        let BridgeInputs {
            mut events,
            mut deliveries,
            observations,
        } = inputs;
        tokio::spawn(crate::watch::deliver(
            observations,
            self.connector.clone(),
            self.domain.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(self.watch.clone().follow_link(shutdown.clone()));
        self.restore_sessions().await;
        loop {
            tokio::select! {
                Some(stanza) = inbound.recv() => self.handle_stanza(stanza).await,
                Some(envelope) = events.recv() => self.handle_event(envelope).await,
                Some(delivery) = deliveries.recv() => self.handle_delivery(delivery).await,
                _ = shutdown.cancelled() => break,
            }
        }
        self.watch.leave_rooms();
        self.announce_unavailable().await;
        self.session_shutdown.cancel();
        self.tasks.close();
        // Sessions still reporting while they close: keep turning their events into
        // stanzas so nothing they said is lost.
        let drained = async {
            loop {
                tokio::select! {
                    _ = self.tasks.wait() => break,
                    Some(envelope) = events.recv() => self.handle_event(envelope).await,
                }
            }
        };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!(domain = %self.domain, "Sessions did not close in time");
        }
        tracing::info!(domain = %self.domain, "Transport stopped");
    }

    /// Dispatches one stanza from the server.
    async fn handle_stanza(self: &Arc<Self>, stanza: Stanza) {
        // Followed rooms speak to the transport itself and are not users: taken first
        // (their MUC service is usually not in xmpp.allow).
        let Some(stanza) = self.watch.intercept(stanza).await else {
            return;
        };
        let Some(from) = sender(&stanza) else {
            tracing::debug!("Dropping a stanza without from");
            return;
        };
        if !self.access.allowed(&from) {
            tracing::info!(domain = %self.domain, from = %from, "Refusing a sender that is not allowed");
            self.reply_error(
                &stanza,
                ErrorType::Cancel,
                DefinedCondition::Forbidden,
                "this gateway is not open to your server or account",
            );
            return;
        }
        match stanza {
            Stanza::Iq(iq) => self.handle_iq(from, iq).await,
            Stanza::Message(m) => self.handle_message(from, m).await,
            Stanza::Presence(p) => self.handle_presence(from, p).await,
        }
    }

    /// Sends a reply to a user; a full queue loses it with a warning (the user's server
    /// answers their client with a timeout).
    fn reply(&self, stanza: impl Into<Stanza>) {
        if let Err(QueueFull) = self.link.send_reply(stanza.into()) {
            tracing::warn!(domain = %self.domain, "Reply dropped: the link queue and its reserve are full");
        }
    }

    fn reply_error(
        &self,
        to: &Stanza,
        type_: ErrorType,
        condition: DefinedCondition,
        text: impl Into<String>,
    ) {
        if let Some(reply) = errors::reply(to, errors::error(type_, condition, text)) {
            self.reply(reply);
        }
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().expect("sessions mutex poisoned")
    }

    fn rooms(&self) -> MutexGuard<'_, muc::Rooms> {
        self.rooms.lock().expect("rooms mutex poisoned")
    }

    fn session_of(
        &self,
        login: &switchboard_bridge::LoginId,
    ) -> Option<Arc<dyn switchboard_bridge::Session>> {
        self.sessions().get(login).map(|e| e.session.clone())
    }

    /// Load and health, for presence and the status command.
    pub async fn health(&self) -> Health {
        let (sessions, sessions_down) = {
            let s = self.sessions();
            (s.len(), s.down())
        };
        let queued = self
            .store
            .outbox_total(&self.domain)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Cannot count the outbox");
                0
            });
        Health {
            sessions,
            sessions_down,
            queued,
            network: self.connector.health(),
        }
    }
}

fn sender(stanza: &Stanza) -> Option<Jid> {
    match stanza {
        Stanza::Iq(iq) => iq_from(iq).cloned(),
        Stanza::Message(m) => m.from.clone(),
        Stanza::Presence(p) => p.from.clone(),
    }
}

fn iq_from(iq: &xmpp_parsers::iq::Iq) -> Option<&Jid> {
    use xmpp_parsers::iq::Iq;
    match iq {
        Iq::Get { from, .. }
        | Iq::Set { from, .. }
        | Iq::Result { from, .. }
        | Iq::Error { from, .. } => from.as_ref(),
    }
}
