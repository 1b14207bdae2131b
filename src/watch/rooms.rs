//! Rooms a bridge follows: joined as `<domain>/digest`, rejoined on every new component
//! connection, and what their occupants say handed to the bridge.
//!
//! Everything a followed room sends to the transport (its bare domain or the occupant
//! JID) is taken here, before access checks and before the path that treats messages to
//! the transport as a user's; so is anything sent to the occupant JID at all (a room we
//! just left still says goodbye). None of it is answered with an error.

use super::TransportWatch;
use crate::xmpp::follow::{self, Occupancy};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use switchboard_bridge::{Observation, RoomMessage};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

/// How far before the last message seen a rejoin asks for history (the room's clock and
/// ours differ; the bridge drops what it has by the dedupe key).
const SINCE_MARGIN: Duration = Duration::from_secs(60);

/// One followed room.
struct Room {
    /// The room as the bridge named it (observations carry it back unchanged).
    name: String,
    jid: BareJid,
    /// The nick the bridge asked for.
    nick: String,
    /// The nick the room gave us (status 110), while we are in.
    joined_as: Option<String>,
    /// History to ask for on the next join.
    since: Option<SystemTime>,
}

/// Followed rooms, by bare JID in lower case (room JIDs compare without case).
#[derive(Default)]
pub(super) struct Followed {
    rooms: HashMap<String, Room>,
}

fn key(jid: &BareJid) -> String {
    jid.as_str().to_lowercase()
}

impl TransportWatch {
    fn rooms(&self) -> std::sync::MutexGuard<'_, Followed> {
        self.rooms.lock().expect("followed rooms mutex poisoned")
    }

    pub(super) fn follow(&self, room: &str, nick: &str, since: Option<SystemTime>) {
        let jid = match BareJid::new(room.trim()) {
            Ok(jid) if jid.node().is_some() => jid,
            _ => {
                tracing::warn!(domain = %self.domain, room, "Not following an address that is not a room JID");
                let failed = Observation::RoomFailed {
                    room: room.to_string(),
                    reason: format!("jid-malformed: '{room}' is not a room address"),
                };
                if self.observations.try_send(failed).is_err() {
                    tracing::warn!(domain = %self.domain, "Observation queue full");
                }
                return;
            }
        };
        let join = follow::join(&self.occupant, &jid, nick, since);
        self.rooms().rooms.insert(
            key(&jid),
            Room {
                name: room.to_string(),
                jid: jid.clone(),
                nick: nick.to_string(),
                joined_as: None,
                since,
            },
        );
        tracing::info!(domain = %self.domain, room = %jid, "Following a room");
        // While the link is down, the next connection joins (see `rejoin_rooms`).
        match join {
            Some(join) if self.link_up() => self.send(join, "join"),
            Some(_) => {}
            None => {
                tracing::warn!(domain = %self.domain, room = %jid, nick, "The nick does not make an occupant JID")
            }
        }
    }

    pub(super) fn unfollow(&self, room: &str) {
        let Ok(jid) = BareJid::new(room.trim()) else {
            return;
        };
        let Some(gone) = self.rooms().rooms.remove(&key(&jid)) else {
            return;
        };
        tracing::info!(domain = %self.domain, room = %jid, "No longer following a room");
        let nick = gone.joined_as.as_deref().unwrap_or(&gone.nick);
        if let Some(leave) = follow::leave(&self.occupant, &gone.jid, nick) {
            self.send(leave, "leave");
        }
    }

    /// Leaves every followed room without forgetting it (the gateway stops: no occupant
    /// is left behind in the rooms; the next start joins them again).
    pub fn leave_rooms(&self) {
        let leaves: Vec<Presence> = {
            let followed = self.rooms();
            followed
                .rooms
                .values()
                .filter(|room| room.joined_as.is_some())
                .filter_map(|room| {
                    let nick = room.joined_as.as_deref().unwrap_or(&room.nick);
                    follow::leave(&self.occupant, &room.jid, nick)
                })
                .collect()
        };
        for leave in leaves {
            self.send(leave, "leave");
        }
    }

    /// Joins every followed room again (a new component connection).
    pub(super) fn rejoin_rooms(&self) {
        let joins: Vec<Presence> = {
            let mut followed = self.rooms();
            followed
                .rooms
                .values_mut()
                .filter_map(|room| {
                    room.joined_as = None;
                    follow::join(&self.occupant, &room.jid, &room.nick, room.since)
                })
                .collect()
        };
        if !joins.is_empty() {
            tracing::info!(domain = %self.domain, rooms = joins.len(), "Joining followed rooms");
        }
        for join in joins {
            self.send(join, "join");
        }
    }

    /// Takes what a followed room sends the transport; hands back anything else.
    pub async fn intercept(&self, stanza: Stanza) -> Option<Stanza> {
        let (from, to) = match &stanza {
            Stanza::Message(m) => (m.from.as_ref(), m.to.as_ref()),
            Stanza::Presence(p) => (p.from.as_ref(), p.to.as_ref()),
            Stanza::Iq(_) => return Some(stanza),
        };
        let (Some(from), Some(to)) = (from, to) else {
            return Some(stanza);
        };
        let to_occupant = *to == self.occupant;
        if !to_occupant && *to != self.me {
            return Some(stanza);
        }
        if let (Stanza::Message(m), false) = (&stanza, to_occupant) {
            if let Some((room, reason)) = follow::invitation(m) {
                self.invited(&room, &reason);
                return None;
            }
        }
        let room = from.to_bare();
        let followed = self.rooms().rooms.get(&key(&room)).map(|r| {
            (
                r.name.clone(),
                r.joined_as.clone().unwrap_or(r.nick.clone()),
            )
        });
        let Some((name, nick)) = followed else {
            if to_occupant {
                tracing::debug!(domain = %self.domain, from = %from, "Dropping a stanza for the digest occupant from a room not followed");
                return None;
            }
            return Some(stanza);
        };
        match stanza {
            Stanza::Message(m) => self.room_message(&name, &room, &nick, &m).await,
            Stanza::Presence(p) => self.room_presence(&name, &room, &p).await,
            Stanza::Iq(_) => {}
        }
        None
    }

    async fn room_message(&self, name: &str, room: &BareJid, nick: &str, m: &Message) {
        let Some(said) = follow::said(m, room, nick) else {
            return;
        };
        let at = said.at.unwrap_or_else(SystemTime::now);
        if let Some(r) = self.rooms().rooms.get_mut(&key(room)) {
            let seen = at.checked_sub(SINCE_MARGIN).unwrap_or(at);
            r.since = Some(r.since.map_or(seen, |s| s.max(seen)));
        }
        tracing::debug!(domain = %self.domain, room = %room, sender = %said.nick, "A followed room spoke");
        self.observe(Observation::Room(RoomMessage {
            room: name.to_string(),
            sender: said.nick,
            body: said.body,
            at,
            dedupe: said.dedupe,
        }))
        .await;
    }

    async fn room_presence(&self, name: &str, room: &BareJid, p: &Presence) {
        match follow::occupancy(p) {
            Occupancy::Joined(nick) => {
                tracing::info!(domain = %self.domain, room = %room, nick = %nick, "Joined a followed room");
                if let Some(r) = self.rooms().rooms.get_mut(&key(room)) {
                    if r.since.is_none() {
                        // What is said from now on is asked for again after a reconnect.
                        let now = SystemTime::now();
                        r.since = Some(now.checked_sub(SINCE_MARGIN).unwrap_or(now));
                    }
                    r.joined_as = Some(nick);
                }
            }
            Occupancy::Left => {
                tracing::info!(domain = %self.domain, room = %room, "Out of a followed room until the next connection");
                if let Some(r) = self.rooms().rooms.get_mut(&key(room)) {
                    r.joined_as = None;
                }
            }
            Occupancy::Refused(reason) => {
                tracing::warn!(domain = %self.domain, room = %room, reason = %reason, "A followed room refused us; retrying at the next connection");
                self.observe(Observation::RoomFailed {
                    room: name.to_string(),
                    reason,
                })
                .await;
            }
            Occupancy::Other => {}
        }
    }

    /// Queues an observation for the bridge, waiting while its queue is full.
    pub(super) async fn observe(&self, seen: Observation) {
        if self.observations.send(seen).await.is_err() {
            tracing::warn!(domain = %self.domain, "The bridge no longer takes observations");
        }
    }

    /// The occupant JID in followed rooms.
    pub fn occupant(&self) -> &Jid {
        &self.occupant
    }
}
