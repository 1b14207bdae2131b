//! One transport: a component domain served by one bridge.
//!
//! It reads stanzas from its link, checks access, and turns them into bridge calls; it
//! turns bridge events into stanzas. Foreign sessions live here, independent of the link,
//! so they survive a link restart.

mod adhoc;
#[cfg(test)]
mod archive_tests;
mod bouncer;
mod bridge_commands;
mod core_commands;
mod events;
#[cfg(test)]
mod fair_tests;
pub(crate) mod fuzzing;
mod inbound;
mod invites;
mod iq;
mod lanes;
mod mam;
mod messages;
mod muc;
mod muc_events;
mod muc_state;
#[cfg(test)]
mod muc_tests;
mod network;
mod network_text;
mod occupancy;
mod outbox;
mod presence;
#[cfg(test)]
mod presence_tests;
mod room_configure;
mod secrets;
mod sessions;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod watch_tests;

use crate::access::Access;
use crate::archive::Archive;
use crate::link::{LinkHandle, QueueFull};
use crate::store::seal::Sealer;
use crate::store::Store;
use crate::watch::{Hub, Observations, TransportWatch};
use crate::xmpp::errors;
use crate::xmpp::presence::Health;
use sessions::Sessions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use switchboard_bridge::{Connector, Delivery, EventQueues, EventReceiver, Inbox};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// Events waiting from one session. Each session has a queue of its own and the
/// transport takes one event per session in turn, so a session flooded by its foreign
/// peer waits for its own backlog only and never holds back another user's events.
const EVENT_QUEUE: usize = 128;
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
    /// Seals secrets in stored settings.
    sealer: Sealer,
    /// The room archive (transports with group chats, unless turned off).
    archive: Option<Arc<Archive>>,
    sessions: Mutex<Sessions>,
    rooms: Mutex<muc::Rooms>,
    /// Each user's stanzas, served by a task of their own.
    lanes: Mutex<lanes::Lanes>,
    /// Stanzas refused because their user's lane was full.
    lane_full: AtomicU64,
    /// What the bridge watches (followed rooms, missed messages).
    watch: Arc<TransportWatch>,
    /// Makes each session's event sink.
    event_queues: EventQueues,
    inbox: Inbox,
    inbound_stats: inbound::InboundStats,
    session_shutdown: CancellationToken,
    tasks: TaskTracker,
    started: Instant,
}

/// What the bridge sends a transport: events of its sessions, and network-wide
/// deliveries (inbound SMS, mail) for users who may have no session yet.
pub struct BridgeInputs {
    events: EventReceiver,
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
    /// Seals secrets in stored settings (keyed from the configuration, never the store).
    pub sealer: Sealer,
    /// The gateway-wide watching state (presence book, who watches whom), shared by every
    /// transport.
    pub hub: Arc<Hub>,
    /// The room archive, if this transport keeps one.
    pub archive: Option<Arc<Archive>>,
}

impl Transport {
    /// Builds a transport; `run` starts it.
    pub fn new(parts: TransportParts) -> (Arc<Self>, BridgeInputs) {
        let (event_queues, events) = switchboard_bridge::event_queues(EVENT_QUEUE);
        let (inbox_tx, deliveries) = mpsc::channel(INBOX_QUEUE);
        let me = Jid::new(&parts.domain).expect("the configured domain is a valid JID");
        let hub = parts.hub.clone();
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
            sealer: parts.sealer,
            archive: parts.archive,
            sessions: Mutex::new(Sessions::default()),
            rooms: Mutex::new(muc::Rooms::default()),
            lanes: Mutex::new(lanes::Lanes::default()),
            lane_full: AtomicU64::new(0),
            watch,
            event_queues,
            inbox: Inbox::new(inbox_tx),
            inbound_stats: inbound::InboundStats::default(),
            session_shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            started: Instant::now(),
        });
        let occupancy: std::sync::Weak<dyn crate::watch::Occupancy> = Arc::downgrade(&t) as _;
        hub.register_occupancy(&t.domain, occupancy);
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
        let mut counters = self.connector.counters();
        counters.push(switchboard_bridge::Counter {
            name: "switchboard_transport_lane_full_total",
            help: "Stanzas refused (resource-constraint) because their user's lane was full.",
            value: self.lane_full.load(Ordering::Relaxed),
        });
        counters.push(switchboard_bridge::Counter {
            name: "switchboard_transport_event_queue_full_total",
            help: "Times a session found its event queue full and waited (its foreign side was read more slowly).",
            value: self.event_queues.full(),
        });
        counters.extend(self.inbound_stats.counters());
        if let Some(archive) = &self.archive {
            counters.extend(archive.counters());
        }
        counters
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
            deliveries,
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
        // Persistent channels come back without anyone asking.
        tokio::spawn(self.clone().rejoin_persistent_task());
        // Network-wide events: stored by the acceptor, delivered by the worker from the
        // store through this loop (after the sessions are back, so logins are found).
        let stored = Arc::new(tokio::sync::Notify::new());
        let (to_loop, mut from_store) = mpsc::channel::<inbound::ToLoop>(1);
        tokio::spawn(inbound::acceptor(
            self.clone(),
            deliveries,
            stored.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(inbound::worker(
            self.clone(),
            to_loop,
            stored,
            shutdown.clone(),
        ));
        loop {
            tokio::select! {
                // Served on the sender's lane: nothing a user asks waits here.
                Some(stanza) = inbound.recv() => {
                    if let Some((from, stanza)) = self.admit(stanza).await {
                        self.to_lane(from, stanza);
                    }
                }
                // One event of the session whose turn it is.
                envelope = events.recv() => self.handle_event(envelope).await,
                Some((row, done)) = from_store.recv() => {
                    let _ = done.send(self.handle_stored(row).await);
                }
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
                    envelope = events.recv() => self.handle_event(envelope).await,
                }
            }
            // What the last sessions queued before they ended.
            while let Some(envelope) = events.try_recv() {
                self.handle_event(envelope).await;
            }
        };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!(domain = %self.domain, "Sessions did not close in time");
        }
        if let Some(archive) = &self.archive {
            // Every line relayed is stored before the process ends.
            archive.flush().await;
        }
        tracing::info!(domain = %self.domain, "Transport stopped");
    }

    /// Dispatches one stanza from the server, inline (the run loop hands admitted
    /// stanzas to the sender's lane instead); for the in-process rigs of tests and fuzzing.
    pub(crate) async fn handle_stanza(self: &Arc<Self>, stanza: Stanza) {
        if let Some((from, stanza)) = self.admit(stanza).await {
            self.serve(from, stanza).await;
        }
    }

    /// Takes followed rooms' stanzas, and refuses senders that are not allowed; what is
    /// left is a user's, with its sender.
    async fn admit(self: &Arc<Self>, stanza: Stanza) -> Option<(Jid, Stanza)> {
        // Followed rooms speak to the transport itself and are not users: taken first
        // (their MUC service is usually not in xmpp.allow).
        let stanza = self.watch.intercept(stanza).await?;
        let Some(from) = sender(&stanza) else {
            tracing::debug!("Dropping a stanza without from");
            return None;
        };
        if !self.access.allowed(&from) {
            tracing::info!(domain = %self.domain, from = %from, "Refusing a sender that is not allowed");
            self.reply_error(
                &stanza,
                ErrorType::Cancel,
                DefinedCondition::Forbidden,
                "this gateway is not open to your server or account",
            );
            return None;
        }
        Some((from, stanza))
    }

    /// Serves one admitted stanza of a user.
    async fn serve(self: &Arc<Self>, from: Jid, stanza: Stanza) {
        match &stanza {
            Stanza::Message(m) if m.type_ != xmpp_parsers::message::MessageType::Error => {
                self.sessions().note_resource(&from, true)
            }
            Stanza::Presence(p) => {
                use xmpp_parsers::presence::Type;
                match p.type_ {
                    Type::None => self.sessions().note_resource(&from, true),
                    Type::Unavailable => self.sessions().note_resource(&from, false),
                    _ => {}
                }
            }
            _ => {}
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
