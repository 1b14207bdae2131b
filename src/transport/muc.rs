//! Group chats as MUC rooms: joins and leaves from users' resources, and the bridge's group
//! events turned into occupant presences, subjects and groupchat messages.
//!
//! One foreign membership serves all of a user's resources: the first resource to join
//! makes the bridge join; later ones get the room's state from here; the last to leave
//! makes the bridge leave. A join from a resource already in is a rejoin (its server
//! restarted): the room's state again. A join while the bridge's leave is unconfirmed waits
//! for the confirmation. (Who is in a room, for pings and digests: `occupancy`.)

use super::Transport;
use crate::xmpp::address::escape;
use crate::xmpp::history::{self, HistoryRequest};
use crate::xmpp::muc::{self, OccupantPresence};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_bridge::{GroupId, JoinRequest, LoginId, Rank};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

/// One user's view of one room.
#[derive(Debug, Default)]
pub(super) struct Room {
    /// Resources in the room.
    pub(super) resources: HashSet<Jid>,
    /// Resources waiting for the join to complete.
    pub(super) pending: HashSet<Jid>,
    /// The bridge reported the join complete.
    pub(super) joined: bool,
    /// Our nick.
    pub(super) nick: String,
    /// Occupants by nick.
    pub(super) occupants: HashMap<String, Rank>,
    pub(super) topic: String,
    pub(super) topic_by: Option<String>,
    /// The last resource left and the bridge was asked to leave (IRC: PART sent), not yet
    /// confirmed. A join meanwhile waits in `pending` and is made once the leave is
    /// confirmed (a JOIN sent before the PART is answered would be undone by it).
    pub(super) leaving: Option<Instant>,
    /// The password of the join waiting for a leave to be confirmed.
    pub(super) password: Option<String>,
    /// What each joining resource's `<history/>` asked for, until its history is sent.
    pub(super) history_asked: HashMap<Jid, Option<HistoryRequest>>,
    /// The user's channel setting: stays joined while no resource is in (`bouncer`).
    pub(super) persistent: bool,
    /// The user turned the archive off for this channel.
    pub(super) unrecorded: bool,
    /// A persistent room's last resource left at this time (its return catches up).
    pub(super) away_since: Option<std::time::SystemTime>,
    /// Highlights sent while away: since when, how many.
    pub(super) highlights: Option<(Instant, u32)>,
    /// The channel key the bridge was last asked to join with (a persistent channel keeps
    /// it, sealed, for the next start).
    pub(super) joined_key: Option<String>,
}

/// How long a leave waits for its confirmation before a new join goes ahead anyway (a
/// network that never answers the PART must not keep the user out for ever).
pub(super) const LEAVE_WAIT: Duration = Duration::from_secs(20);

/// What a presence to `room/nick` from a resource asks for.
enum Join {
    /// The first resource of the user: the bridge joins.
    First,
    /// Another resource of a user already in: the room's state is sent to it.
    Known,
    /// A resource already in, with a new nick.
    Rename,
    /// A resource already in sends a join again (its server restarted, or the client
    /// lost track): it gets the room's state again, from what the gateway knows (the
    /// foreign membership never ended).
    Rejoin,
}

/// Rooms by login and group.
pub(super) type Rooms = HashMap<(LoginId, GroupId), Room>;

impl Transport {
    /// An occupant's real JID: their contact JID on this transport, their nick as its
    /// resource. `None` where the network has no private chat with occupants (the room is
    /// then semi-anonymous).
    pub(super) fn real_jid(&self, group: &GroupId, nick: &str) -> Option<FullJid> {
        let chat = self.connector.occupant_chat(group, nick)?;
        let bare = self.contact_jid(&chat)?.to_bare();
        bare.with_resource_str(&crate::xmpp::text::jid_part(nick))
            .ok()
    }

    /// Every occupant of the group's rooms has a real JID (status 100, `muc_nonanonymous`).
    pub(super) fn non_anonymous(&self, group: &GroupId) -> bool {
        self.connector.occupant_chat(group, "x").is_some()
    }

    pub(super) fn room_jid(&self, group: &GroupId) -> Option<BareJid> {
        let local = escape(
            &self
                .connector
                .format_address(&switchboard_bridge::Chat::Group(group.clone())),
        );
        BareJid::new(&format!("{local}@{}", self.domain)).ok()
    }

    /// An available or unavailable presence from a user's resource to `room/nick`.
    pub(super) async fn room_presence(
        self: &Arc<Self>,
        from: Jid,
        group: GroupId,
        nick: String,
        p: Presence,
    ) {
        let unavailable = p.type_ == xmpp_parsers::presence::Type::Unavailable;
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return self.reply_bridge_error(&Stanza::Presence(p), &e),
        };
        let key = (login.clone(), group.clone());
        if unavailable {
            return self
                .resource_left(&key, &from, p.statuses.values().next().cloned())
                .await;
        }
        let join = muc::join_request(&p);
        let is_join = join.is_some();
        let password = join.flatten();
        let asked = history::history_request(&p);
        let action = {
            let mut rooms = self.rooms();
            let room = rooms.entry(key.clone()).or_default();
            if is_join {
                room.history_asked.insert(from.clone(), asked);
            }
            if room
                .leaving
                .is_some_and(|since| since.elapsed() >= LEAVE_WAIT)
            {
                tracing::info!(domain = %self.domain, group = %group, "A leave was never confirmed; joining again anyway");
                *room = Room::default();
            }
            if room.resources.contains(&from) {
                if room.joined && is_join {
                    // XEP-0045 §7.2: a presence with <x xmlns='…muc'/> is a join, also
                    // from a resource the gateway counts in already.
                    Some(Join::Rejoin)
                } else {
                    // A presence update, or a nick change when the nick differs.
                    (room.joined && !nick.eq_ignore_ascii_case(&room.nick)).then_some(Join::Rename)
                }
            } else if room.joined {
                room.resources.insert(from.clone());
                Some(Join::Known)
            } else if room.leaving.is_some() {
                // Joined again before the leave was confirmed: made once it is.
                room.pending.insert(from.clone());
                room.nick = nick.clone();
                room.password = password.clone();
                None
            } else {
                let first = room.pending.is_empty() && room.resources.is_empty();
                room.pending.insert(from.clone());
                room.nick = nick.clone();
                first.then_some(Join::First)
            }
        };
        match action {
            Some(Join::Rename) => {
                let Some(session) = self.session_of(&login) else {
                    return;
                };
                if let Err(e) = session.change_nick(&group, &nick).await {
                    self.reply_bridge_error(&Stanza::Presence(p), &e);
                }
            }
            Some(Join::Known) => {
                self.send_room_state(&key, &group, std::slice::from_ref(&from), false)
                    .await
            }
            Some(Join::Rejoin) => {
                // The nick stays the one the network knows; a different one asked for is
                // answered with 210 (the service assigned the nick).
                let renamed = self
                    .rooms()
                    .get(&key)
                    .is_some_and(|r| !nick.eq_ignore_ascii_case(&r.nick));
                tracing::debug!(domain = %self.domain, group = %group, "A known occupant joins again");
                self.send_room_state(&key, &group, std::slice::from_ref(&from), renamed)
                    .await
            }
            Some(Join::First) => self.bridge_join(&key, nick, password).await,
            None => {}
        }
    }

    /// Asks the bridge to join; a refusal goes to every resource waiting. The user's
    /// channel settings come with the room.
    pub(super) async fn bridge_join(
        &self,
        key: &(LoginId, GroupId),
        nick: String,
        password: Option<String>,
    ) {
        let Some(session) = self.session_of(&key.0) else {
            return;
        };
        let settings = self.room_settings(&key.0, &key.1).await;
        if let Some(room) = self.rooms().get_mut(key) {
            room.persistent = settings.persistent;
            room.unrecorded = !settings.record_history;
            room.joined_key = password.clone();
        }
        // Only the gateway's own transports log in as a bare domain.
        let watching = self
            .sessions()
            .get(&key.0)
            .is_some_and(|e| self.access.is_own_transport(&e.jid.clone().into()));
        let request = JoinRequest {
            group: key.1.clone(),
            nick,
            password,
            watching,
        };
        if let Err(e) = session.join_group(request).await {
            self.join_failed(key, &key.1, &e).await;
        }
    }

    pub(super) async fn resource_left(
        &self,
        key: &(LoginId, GroupId),
        from: &Jid,
        reason: Option<String>,
    ) {
        let (leave, nick, away) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(key) else {
                return;
            };
            let was_in = room.resources.remove(from) | room.pending.remove(from);
            if !was_in {
                // Not in (or already left): nothing to confirm, and no second goodbye.
                return;
            }
            room.history_asked.remove(from);
            let last = room.resources.is_empty() && room.pending.is_empty();
            let nick = room.nick.clone();
            let (mut leave, mut away) = (false, None);
            if last && room.persistent && room.joined && room.leaving.is_none() {
                // Bouncer mode: the channel stays joined; the return catches up from here.
                let now = std::time::SystemTime::now();
                room.away_since = Some(now);
                room.highlights = None;
                away = Some(now);
            } else if last && room.leaving.is_none() {
                leave = true;
            } else if last {
                // A join that waited for the leave was withdrawn before it was made.
                room.password = None;
            }
            (leave, nick, away)
        };
        if away.is_some() {
            self.store_away(&key.0, &key.1, away).await;
        }
        if let Some(room) = self.room_jid(&key.1) {
            if let Some(me) = muc::occupant(&room, &nick) {
                let p = OccupantPresence {
                    unavailable: true,
                    statuses: vec![Status::SelfPresence],
                    ..Default::default()
                };
                self.forward_stanza(muc::occupant_presence(me, from, &p))
                    .await;
            }
        }
        if leave {
            self.bridge_leave(key, reason).await;
        }
    }

    /// Asks the bridge to leave a room nobody is in any more. The room is kept until the
    /// bridge confirms, so that a join meanwhile waits for it (see `Room::leaving`).
    pub(super) async fn bridge_leave(&self, key: &(LoginId, GroupId), reason: Option<String>) {
        {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(key) else {
                return;
            };
            *room = Room {
                leaving: Some(Instant::now()),
                nick: room.nick.clone(),
                ..Room::default()
            };
        }
        self.archive_left(&key.0, &key.1).await;
        let left = match self.session_of(&key.0) {
            Some(session) => session.leave_group(&key.1, reason).await,
            None => Ok(()),
        };
        if let Err(e) = left {
            tracing::info!(error = %e, "Leaving a group failed");
            // No confirmation will come.
            self.leave_confirmed(key).await;
        }
    }

    /// The bridge confirmed a leave the gateway asked for (or no confirmation can come):
    /// a join made meanwhile goes ahead now, otherwise the room is forgotten. Returns
    /// whether a leave was waiting at all.
    pub(super) async fn leave_confirmed(&self, key: &(LoginId, GroupId)) -> bool {
        let rejoin = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(key).filter(|r| r.leaving.is_some()) else {
                return false;
            };
            if room.pending.is_empty() {
                rooms.remove(key);
                None
            } else {
                room.leaving = None;
                Some((room.nick.clone(), room.password.take()))
            }
        };
        if let Some((nick, password)) = rejoin {
            tracing::debug!(domain = %self.domain, group = %key.1, "Joining again after a confirmed leave");
            self.bridge_join(key, nick, password).await;
        }
        true
    }

    /// The login is no longer in the room: the archive stops counting it in.
    pub(super) async fn archive_left(&self, login: &LoginId, group: &GroupId) {
        if let Some(archive) = &self.archive {
            archive.left(login, group).await;
        }
    }

    /// Whether `resource` is in the room (only members may speak).
    pub(super) fn in_room(&self, login: &LoginId, group: &GroupId, resource: &Jid) -> bool {
        self.rooms()
            .get(&(login.clone(), group.clone()))
            .is_some_and(|r| r.joined && r.resources.contains(resource))
    }
}
