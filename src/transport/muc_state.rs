//! What a user's resources see of a room the bridge is in: its state on a join, a failed
//! join, groupchat messages, and the room closing on shutdown. (Joins and leaves: `muc`.)

use super::Transport;
use crate::xmpp::errors;
use crate::xmpp::muc::{self, OccupantPresence};
use switchboard_bridge::{BridgeError, GroupId, LoginId};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

impl Transport {
    /// Occupants, self-presence and subject to `to`.
    pub(super) async fn send_room_state(
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

    pub(super) async fn join_failed(
        &self,
        key: &(LoginId, GroupId),
        group: &GroupId,
        e: &BridgeError,
    ) {
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

    /// A groupchat message to every resource of the user in the room. `from_nick` is the
    /// author; `id` keeps the user's own id on reflections.
    pub(super) async fn to_room(
        &self,
        login: &LoginId,
        group: &GroupId,
        from_nick: Option<&str>,
        body: String,
        id: Option<String>,
        sent: Option<std::time::SystemTime>,
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
            let mut m = muc::groupchat(from.clone(), &to, body.clone(), id.clone());
            if let Some(d) = crate::xmpp::delay::delay(
                sent,
                &room_jid.clone().into(),
                std::time::SystemTime::now(),
            ) {
                m.payloads.push(d.into());
            }
            self.forward(m.into()).await;
        }
    }

    /// Unavailable self-presences (110, 332) for every resource in every room, on shutdown.
    pub(super) fn rooms_closing(&self) -> Vec<Presence> {
        let rooms = self.rooms();
        let mut out = Vec::new();
        for ((_, group), room) in rooms.iter() {
            let Some(room_jid) = self.room_jid(group) else {
                continue;
            };
            let Some(me) = muc::occupant(&room_jid, &room.nick) else {
                continue;
            };
            for resource in room.resources.iter().chain(room.pending.iter()) {
                let p = OccupantPresence {
                    unavailable: true,
                    statuses: vec![Status::SelfPresence, Status::ServiceShutdown],
                    ..Default::default()
                };
                out.push(muc::occupant_presence(me.clone(), resource, &p));
            }
        }
        out
    }
}
