//! Group chats as MUC rooms: joins and leaves from users' resources, and the bridge's group
//! events turned into occupant presences, subjects and groupchat messages.
//!
//! One foreign membership serves all of a user's resources: the first resource to join
//! makes the bridge join; later ones get the room's state from here; the last to leave
//! makes the bridge leave.

use super::Transport;
use crate::xmpp::address::escape;
use crate::xmpp::errors;
use crate::xmpp::muc::{self, OccupantPresence};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use switchboard_bridge::{
    BridgeError, GroupId, JoinRequest, LeaveReason, LoginId, MembershipChange, Occupant, Rank,
};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

/// One user's view of one room.
#[derive(Debug, Default)]
pub(super) struct Room {
    /// Resources in the room.
    pub(super) resources: HashSet<Jid>,
    /// Resources waiting for the join to complete.
    pending: HashSet<Jid>,
    /// The bridge reported the join complete.
    joined: bool,
    /// Our nick.
    pub(super) nick: String,
    /// Occupants by nick.
    occupants: HashMap<String, Rank>,
    topic: String,
    topic_by: Option<String>,
}

/// What `GroupJoined` says.
pub(super) struct Joined {
    pub(super) group: GroupId,
    pub(super) nick: String,
    pub(super) nick_changed: bool,
    pub(super) occupants: Vec<Occupant>,
    pub(super) topic: String,
    pub(super) topic_by: Option<String>,
}

/// Rooms by login and group.
pub(super) type Rooms = HashMap<(LoginId, GroupId), Room>;

impl Transport {
    fn room_jid(&self, group: &GroupId) -> Option<BareJid> {
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
        let password = muc::join_request(&p).flatten();
        let action = {
            let mut rooms = self.rooms();
            let room = rooms.entry(key.clone()).or_default();
            if room.resources.contains(&from) {
                None // a presence update (or a nick change, not bridged yet)
            } else if room.joined {
                room.resources.insert(from.clone());
                Some(false)
            } else {
                let first = room.pending.is_empty() && room.resources.is_empty();
                room.pending.insert(from.clone());
                room.nick = nick.clone();
                first.then_some(true)
            }
        };
        match action {
            Some(false) => {
                self.send_room_state(&key, &group, std::slice::from_ref(&from), false)
                    .await
            }
            Some(true) => {
                let Some(session) = self.session_of(&login) else {
                    return;
                };
                let request = JoinRequest {
                    group: group.clone(),
                    nick,
                    password,
                };
                if let Err(e) = session.join_group(request).await {
                    self.join_failed(&key, &group, &e).await;
                }
            }
            None => {}
        }
    }

    async fn resource_left(&self, key: &(LoginId, GroupId), from: &Jid, reason: Option<String>) {
        let (last, nick) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(key) else {
                return;
            };
            room.resources.remove(from);
            room.pending.remove(from);
            let last = room.resources.is_empty() && room.pending.is_empty();
            let nick = room.nick.clone();
            if last {
                rooms.remove(key);
            }
            (last, nick)
        };
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
        if last {
            if let Some(session) = self.session_of(&key.0) {
                if let Err(e) = session.leave_group(&key.1, reason).await {
                    tracing::info!(error = %e, "Leaving a group failed");
                }
            }
        }
    }

    /// Occupants, self-presence and subject to `to`.
    async fn send_room_state(
        &self,
        key: &(LoginId, GroupId),
        group: &GroupId,
        to: &[Jid],
        nick_changed: bool,
    ) {
        let Some(room_jid) = self.room_jid(group) else {
            return;
        };
        let stanzas = {
            let rooms = self.rooms();
            let Some(room) = rooms.get(key) else { return };
            let mut out = Vec::new();
            for resource in to {
                for (nick, rank) in room
                    .occupants
                    .iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case(&room.nick))
                {
                    if let Some(from) = muc::occupant(&room_jid, nick) {
                        let p = OccupantPresence {
                            rank: *rank,
                            ..Default::default()
                        };
                        out.push(Stanza::from(muc::occupant_presence(from, resource, &p)));
                    }
                }
                let mut statuses = vec![Status::SelfPresence];
                if nick_changed {
                    statuses.push(Status::AssignedNick);
                }
                let rank = room.occupants.get(&room.nick).copied().unwrap_or_default();
                if let Some(me) = muc::occupant(&room_jid, &room.nick) {
                    let p = OccupantPresence {
                        rank,
                        statuses,
                        ..Default::default()
                    };
                    out.push(muc::occupant_presence(me, resource, &p).into());
                }
                out.push(
                    muc::subject(&room_jid, room.topic_by.as_deref(), resource, &room.topic).into(),
                );
            }
            out
        };
        for stanza in stanzas {
            self.forward_stanza(stanza).await;
        }
    }

    async fn join_failed(&self, key: &(LoginId, GroupId), group: &GroupId, e: &BridgeError) {
        let Some(room) = self.rooms().remove(key) else {
            return;
        };
        let Some(room_jid) = self.room_jid(group) else {
            return;
        };
        for resource in room.pending.iter().chain(room.resources.iter()) {
            let from =
                muc::occupant(&room_jid, &room.nick).unwrap_or_else(|| room_jid.clone().into());
            let mut p = Presence::error().with_from(from).with_to(resource.clone());
            p.payloads.push(errors::from_bridge(e).into());
            self.forward_stanza(p).await;
        }
    }

    /// `GroupJoined` from the bridge.
    pub(super) async fn group_joined(&self, login: &LoginId, joined: Joined) {
        let Joined {
            group,
            nick,
            nick_changed,
            occupants,
            topic,
            topic_by,
        } = joined;
        let key = (login.clone(), group.clone());
        let to: Vec<Jid> = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key) else {
                return;
            };
            room.joined = true;
            room.nick = nick;
            room.occupants = occupants.into_iter().map(|o| (o.nick, o.rank)).collect();
            room.topic = topic;
            room.topic_by = topic_by;
            let pending: Vec<Jid> = room.pending.drain().collect();
            room.resources.extend(pending);
            room.resources.iter().cloned().collect()
        };
        self.send_room_state(&key, &group, &to, nick_changed).await;
    }

    /// `GroupJoinFailed` from the bridge.
    pub(super) async fn group_join_failed(
        &self,
        login: &LoginId,
        group: GroupId,
        error: BridgeError,
    ) {
        self.join_failed(&(login.clone(), group.clone()), &group, &error)
            .await;
    }

    /// `GroupLeft` from the bridge: parted, kicked, or disconnected.
    pub(super) async fn group_left(&self, login: &LoginId, group: GroupId, reason: LeaveReason) {
        let key = (login.clone(), group.clone());
        if let LeaveReason::Disconnected { .. } = reason {
            // Kept: the bridge rejoins after reconnecting and a new GroupJoined follows.
            if let Some(room) = self.rooms().get_mut(&key) {
                room.joined = false;
                let resources: Vec<Jid> = room.resources.drain().collect();
                room.pending.extend(resources);
            }
            return;
        }
        let Some(room) = self.rooms().remove(&key) else {
            return;
        };
        let Some(room_jid) = self.room_jid(&group) else {
            return;
        };
        let Some(me) = muc::occupant(&room_jid, &room.nick) else {
            return;
        };
        let (mut statuses, actor, why) = match &reason {
            LeaveReason::Kicked { by, reason } => {
                (vec![Status::Kicked], by.as_deref(), reason.as_deref())
            }
            _ => (vec![], None, None),
        };
        statuses.push(Status::SelfPresence);
        for resource in room.resources.iter().chain(room.pending.iter()) {
            let p = OccupantPresence {
                unavailable: true,
                statuses: statuses.clone(),
                actor,
                reason: why,
                ..Default::default()
            };
            self.forward_stanza(muc::occupant_presence(me.clone(), resource, &p))
                .await;
        }
    }

    /// `Membership` from the bridge: someone else joined, left, was kicked, renamed or
    /// changed rank (or we were renamed).
    pub(super) async fn membership(
        &self,
        login: &LoginId,
        group: GroupId,
        nick: String,
        change: MembershipChange,
    ) {
        let key = (login.clone(), group.clone());
        let Some(room_jid) = self.room_jid(&group) else {
            return;
        };
        let (resources, own) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key).filter(|r| r.joined) else {
                return;
            };
            let own = nick.eq_ignore_ascii_case(&room.nick);
            match &change {
                MembershipChange::Joined { rank } | MembershipChange::RankChanged { rank } => {
                    room.occupants.insert(nick.clone(), *rank);
                }
                MembershipChange::Left { .. } | MembershipChange::Kicked { .. } => {
                    room.occupants.remove(&nick);
                }
                MembershipChange::NickChanged { new_nick } => {
                    let rank = room.occupants.remove(&nick).unwrap_or_default();
                    room.occupants.insert(new_nick.clone(), rank);
                    if own {
                        room.nick = new_nick.clone();
                    }
                }
            }
            (room.resources.iter().cloned().collect::<Vec<_>>(), own)
        };
        let Some(from) = muc::occupant(&room_jid, &nick) else {
            return;
        };
        let self_status = if own {
            vec![Status::SelfPresence]
        } else {
            vec![]
        };
        for to in &resources {
            let mut stanzas: Vec<Presence> = Vec::new();
            match &change {
                MembershipChange::Joined { rank } | MembershipChange::RankChanged { rank } => {
                    let p = OccupantPresence {
                        rank: *rank,
                        statuses: self_status.clone(),
                        ..Default::default()
                    };
                    stanzas.push(muc::occupant_presence(from.clone(), to, &p));
                }
                MembershipChange::Left { reason } => {
                    let p = OccupantPresence {
                        unavailable: true,
                        reason: reason.as_deref(),
                        ..Default::default()
                    };
                    stanzas.push(muc::occupant_presence(from.clone(), to, &p));
                }
                MembershipChange::Kicked { by, reason } => {
                    let mut statuses = vec![Status::Kicked];
                    statuses.extend(self_status.clone());
                    let p = OccupantPresence {
                        unavailable: true,
                        statuses,
                        actor: by.as_deref(),
                        reason: reason.as_deref(),
                        ..Default::default()
                    };
                    stanzas.push(muc::occupant_presence(from.clone(), to, &p));
                }
                MembershipChange::NickChanged { new_nick } => {
                    let mut statuses = vec![Status::NewNick];
                    statuses.extend(self_status.clone());
                    let p = OccupantPresence {
                        unavailable: true,
                        statuses,
                        new_nick: Some(new_nick),
                        ..Default::default()
                    };
                    stanzas.push(muc::occupant_presence(from.clone(), to, &p));
                    if let Some(new_from) = muc::occupant(&room_jid, new_nick) {
                        let rank = self
                            .rooms()
                            .get(&key)
                            .and_then(|r| r.occupants.get(new_nick).copied())
                            .unwrap_or_default();
                        let p = OccupantPresence {
                            rank,
                            statuses: self_status.clone(),
                            ..Default::default()
                        };
                        stanzas.push(muc::occupant_presence(new_from, to, &p));
                    }
                }
            }
            for s in stanzas {
                self.forward_stanza(s).await;
            }
        }
    }

    /// `GroupError` from the bridge: an error message from the room to its resources.
    pub(super) async fn group_error(&self, login: &LoginId, group: GroupId, error: &BridgeError) {
        let Some(room_jid) = self.room_jid(&group) else {
            return;
        };
        let resources: Vec<Jid> = match self.rooms().get(&(login.clone(), group)) {
            Some(room) => room.resources.iter().cloned().collect(),
            None => return,
        };
        for to in resources {
            let mut m = xmpp_parsers::message::Message::error(Some(to))
                .with_payload(errors::from_bridge(error));
            m.from = Some(room_jid.clone().into());
            self.forward_stanza(m).await;
        }
    }

    /// `Topic` from the bridge.
    pub(super) async fn topic(
        &self,
        login: &LoginId,
        group: GroupId,
        topic: String,
        by: Option<String>,
    ) {
        let key = (login.clone(), group.clone());
        let Some(room_jid) = self.room_jid(&group) else {
            return;
        };
        let resources: Vec<Jid> = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key).filter(|r| r.joined) else {
                return;
            };
            room.topic = topic.clone();
            room.topic_by = by.clone();
            room.resources.iter().cloned().collect()
        };
        for to in resources {
            self.forward_stanza(muc::subject(&room_jid, by.as_deref(), &to, &topic))
                .await;
        }
    }

    /// A groupchat message to every resource of the user in the room. `from_nick` is the
    /// author; `id` keeps the user's own id on reflections.
    pub(super) async fn to_room(
        &self,
        login: &LoginId,
        group: &GroupId,
        from_nick: Option<&str>,
        body: String,
        id: Option<String>,
    ) {
        let key = (login.clone(), group.clone());
        let Some(room_jid) = self.room_jid(group) else {
            return;
        };
        let (resources, nick) = {
            let rooms = self.rooms();
            let Some(room) = rooms.get(&key).filter(|r| r.joined) else {
                return;
            };
            (
                room.resources.iter().cloned().collect::<Vec<_>>(),
                room.nick.clone(),
            )
        };
        let Some(from) = muc::occupant(&room_jid, from_nick.unwrap_or(&nick)) else {
            return;
        };
        for to in resources {
            self.forward(muc::groupchat(from.clone(), &to, body.clone(), id.clone()).into())
                .await;
        }
    }

    /// Whether `resource` is in the room (only members may speak).
    pub(super) fn in_room(&self, login: &LoginId, group: &GroupId, resource: &Jid) -> bool {
        self.rooms()
            .get(&(login.clone(), group.clone()))
            .is_some_and(|r| r.joined && r.resources.contains(resource))
    }
}
