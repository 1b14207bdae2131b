//! The core's side of watching chats for bridges (digests): the
//! [`switchboard_bridge::Watcher`] that each transport hands its connector.
//!
//! * Rooms ([`rooms`]): the transport joins each followed MUC room as the occupant
//!   `<transport domain>/digest` (see [`crate::xmpp::follow`]), rejoins on every new
//!   component connection, and turns what occupants say into observations.
//! * Missed messages ([`missed`]): a gateway-wide [`Hub`] keeps a presence book fed by
//!   every transport, and sees every one-to-one message any transport sends to a user;
//!   one sent to a watched user with no resource online is reported to the watching
//!   bridge, and so is the user coming online.
//!
//! Observations reach the connector through a queue of the transport's own, drained by a
//! task that awaits [`switchboard_bridge::Connector::observe`], so no transport ever
//! waits for another transport's bridge.

mod access;
mod book;
mod missed;
mod rooms;

pub use access::{Occupancy, INVITATION_VALID};

pub use book::PresenceBook;

use crate::link::{LinkHandle, LinkState};
use crate::xmpp::follow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use switchboard_bridge::{Connector, Observation, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::stanza::Stanza;

/// Observations waiting for one bridge. Missed messages beyond this are dropped with a
/// warning rather than slowing down the transport that sends them.
const OBSERVATION_QUEUE: usize = 1024;

/// Gateway-wide watching state: who is online, and which transports watch whom. Created
/// once and shared by every transport.
#[derive(Default)]
pub struct Hub {
    book: Mutex<PresenceBook>,
    watching: Mutex<HashMap<BareJid, Vec<Watching>>>,
    /// Users watched by anyone: while 0, a sent message costs one atomic load.
    watched: AtomicUsize,
    /// Each transport by domain (lower case), to ask who is in its chats.
    occupancy: Mutex<HashMap<String, std::sync::Weak<dyn Occupancy>>>,
}

/// One transport watching one user.
#[derive(Clone)]
struct Watching {
    domain: String,
    /// The user as the bridge named them (observations carry it back unchanged).
    owner: String,
    observations: mpsc::Sender<Observation>,
}

impl Hub {
    fn book(&self) -> MutexGuard<'_, PresenceBook> {
        self.book.lock().expect("presence book mutex poisoned")
    }

    fn watching(&self) -> MutexGuard<'_, HashMap<BareJid, Vec<Watching>>> {
        self.watching.lock().expect("watch registry mutex poisoned")
    }
}

/// One transport's watcher: what its bridge follows, and the way to its bridge.
pub struct TransportWatch {
    hub: Arc<Hub>,
    domain: String,
    /// The transport's bare domain (probes come from it).
    me: Jid,
    /// `domain/digest`, the occupant in followed rooms.
    occupant: Jid,
    link: LinkHandle,
    rooms: Mutex<rooms::Followed>,
    /// Users this transport watches, by normalised JID, as the bridge named them.
    owners: Mutex<HashMap<BareJid, String>>,
    observations: mpsc::Sender<Observation>,
    /// Invitations rooms relayed to this transport (who may read them).
    invitations: Mutex<access::Invitations>,
}

/// The receiving end of a transport's observations, for [`deliver`].
pub struct Observations(mpsc::Receiver<Observation>);

impl TransportWatch {
    /// The watcher of the transport on `domain` (a configured, valid domain).
    pub fn new(hub: Arc<Hub>, domain: &str, link: LinkHandle) -> (Arc<Self>, Observations) {
        let (tx, rx) = mpsc::channel(OBSERVATION_QUEUE);
        let me = Jid::new(domain).expect("the configured domain is a valid JID");
        let occupant = follow::occupant_of(domain).expect("domain/digest is a valid JID");
        let watch = Arc::new(TransportWatch {
            hub,
            domain: domain.to_string(),
            me,
            occupant,
            link,
            rooms: Mutex::new(rooms::Followed::default()),
            owners: Mutex::new(HashMap::new()),
            observations: tx,
            invitations: Mutex::default(),
        });
        (watch, Observations(rx))
    }

    fn owners(&self) -> MutexGuard<'_, HashMap<BareJid, String>> {
        self.owners.lock().expect("watched owners mutex poisoned")
    }

    /// Sends a stanza of our own (joins, leaves, probes). A full queue loses it with a
    /// warning; the next connection sends everything again.
    fn send(&self, stanza: impl Into<Stanza>, what: &'static str) {
        if self.link.send(stanza.into()).is_err() {
            tracing::warn!(domain = %self.domain, what, "Link queue full: a watch stanza waits for the next connection");
        }
    }

    fn link_up(&self) -> bool {
        self.link.state() == LinkState::Up
    }

    /// Follows the link: on every new connection, rejoins every followed room and probes
    /// every watched user. Ends on `shutdown`.
    pub async fn follow_link(self: Arc<Self>, shutdown: CancellationToken) {
        let mut states = self.link.state_changes();
        let mut served = 0;
        loop {
            let up = *states.borrow_and_update() == LinkState::Up;
            let connects = self.link.stats().connects.load(Ordering::Relaxed);
            if up && connects != served {
                served = connects;
                self.rejoin_rooms();
                self.probe_owners();
            }
            tokio::select! {
                changed = states.changed() => if changed.is_err() { return },
                _ = shutdown.cancelled() => return,
            }
        }
    }

    fn probe_owners(&self) {
        let owners: Vec<BareJid> = self.owners().keys().cloned().collect();
        for owner in owners {
            self.send(crate::xmpp::missed::probe(&self.me, &owner), "probe");
        }
    }
}

/// Hands a transport's observations to its bridge, one at a time, until `shutdown`.
pub async fn deliver(
    observations: Observations,
    connector: Arc<dyn Connector>,
    domain: String,
    shutdown: CancellationToken,
) {
    let mut rx = observations.0;
    loop {
        let seen = tokio::select! {
            seen = rx.recv() => match seen { Some(seen) => seen, None => return },
            _ = shutdown.cancelled() => return,
        };
        let kind = match &seen {
            Observation::Room(_) => "room",
            Observation::Missed(_) => "missed",
            Observation::Online { .. } => "online",
            Observation::RoomFailed { .. } => "room_failed",
        };
        if let Err(e) = connector.observe(seen).await {
            tracing::warn!(domain = %domain, kind, error = %e, "The bridge did not take an observation");
        }
    }
}

impl Watcher for TransportWatch {
    fn follow_room(&self, room: &str, nick: &str, since: Option<SystemTime>) {
        self.follow(room, nick, since);
    }

    fn unfollow_room(&self, room: &str) {
        self.unfollow(room);
    }

    fn watch_missed(&self, owner: &str) {
        self.watch_owner(owner);
    }

    fn unwatch_missed(&self, owner: &str) {
        self.unwatch_owner(owner);
    }

    fn may_read(&self, owner: &str, room: &str) -> switchboard_bridge::ReadAccess {
        self.read_access(owner, room)
    }
}
