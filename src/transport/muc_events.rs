//! Group events from the bridge, turned into occupant presences, subjects and errors for
//! every resource of the user in the room.

use super::Transport;
use crate::xmpp::errors;
use crate::xmpp::muc::{self, OccupantPresence};
use switchboard_bridge::{
    BridgeError, GroupId, GroupSnapshot, LeaveReason, LoginId, MembershipChange,
};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Presence;

impl Transport {
    /// `GroupJoined` from the bridge.
    pub(super) async fn group_joined(&self, login: &LoginId, joined: GroupSnapshot) {
        let GroupSnapshot {
            group,
            nick,
            nick_changed,
            occupants,
            topic,
            topic_by,
        } = joined;
        let key = (login.clone(), group.clone());
        let mut nick_changed = nick_changed;
        let (to, recorded, persistent): (Vec<Jid>, bool, bool) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key).filter(|r| r.leaving.is_none()) else {
                // Unknown, or a join that completed after its last resource left (the
                // leave on its way undoes it).
                return;
            };
            // The network (or the user's settings) chose another nick than the one asked.
            nick_changed |= !room.nick.is_empty() && !room.nick.eq_ignore_ascii_case(&nick);
            room.joined = true;
            room.nick = nick;
            room.occupants = occupants.into_iter().map(|o| (o.nick, o.rank)).collect();
            room.topic = topic;
            room.topic_by = topic_by;
            let pending: Vec<Jid> = room.pending.drain().collect();
            room.resources.extend(pending);
            (
                room.resources.iter().cloned().collect(),
                !room.unrecorded,
                room.persistent,
            )
        };
        if let (true, Some(archive)) = (recorded, &self.archive) {
            archive.joined(login, &group).await;
        }
        if to.is_empty() {
            tracing::info!(domain = %self.domain, login = %login, group = %group, "Channel joined while its user is away");
        }
        if persistent {
            let join = self
                .rooms()
                .get(&key)
                .map(|r| (r.nick.clone(), r.joined_key.clone()));
            if let Some((nick, room_key)) = join {
                self.remember_join(login, &group, &nick, room_key.as_deref())
                    .await;
            }
        }
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
        // A leave the gateway asked for: its resources were told already; a join made
        // meanwhile goes ahead now.
        if self.leave_confirmed(&key).await {
            return;
        }
        self.archive_left(login, &group).await;
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
        let (resources, own, rank_now) = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(&key).filter(|r| r.joined) else {
                return;
            };
            let own = nick.eq_ignore_ascii_case(&room.nick);
            let rank_now = room.occupants.get(&nick).copied().unwrap_or_default();
            match &change {
                MembershipChange::Joined { rank } | MembershipChange::RankChanged { rank } => {
                    room.occupants.insert(nick.clone(), *rank);
                }
                MembershipChange::Left { .. } | MembershipChange::Kicked { .. } => {
                    room.occupants.remove(&nick);
                }
                MembershipChange::Away { .. } => {}
                MembershipChange::NickChanged { new_nick } => {
                    let rank = room.occupants.remove(&nick).unwrap_or_default();
                    room.occupants.insert(new_nick.clone(), rank);
                    if own {
                        room.nick = new_nick.clone();
                    }
                }
            }
            (
                room.resources.iter().cloned().collect::<Vec<_>>(),
                own,
                rank_now,
            )
        };
        let Some(from) = muc::occupant(&room_jid, &nick) else {
            return;
        };
        let self_status = if own {
            vec![Status::SelfPresence]
        } else {
            vec![]
        };
        let non_anonymous = self.non_anonymous(&group);
        let real = |nick: &str, to: &Jid| match own {
            true => to.clone().try_into_full().ok().filter(|_| non_anonymous),
            false => self.real_jid(&group, nick),
        };
        for to in &resources {
            let mut stanzas: Vec<Presence> = Vec::new();
            match &change {
                MembershipChange::Joined { rank } | MembershipChange::RankChanged { rank } => {
                    let p = OccupantPresence {
                        rank: *rank,
                        statuses: self_status.clone(),
                        jid: real(&nick, to),
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
                MembershipChange::Away { message } => {
                    let p = OccupantPresence {
                        rank: rank_now,
                        statuses: self_status.clone(),
                        away: message.as_deref(),
                        jid: real(&nick, to),
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
                            jid: real(new_nick, to),
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
            if let BridgeError::Conflict(_) = error {
                // A refused nick change (XEP-0045 §7.6): a presence error from the room.
                let mut p = Presence::error().with_from(room_jid.clone()).with_to(to);
                p.payloads.push(errors::from_bridge(error).into());
                self.forward_stanza(p).await;
                continue;
            }
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
}
