//! What a user's resources see of a room the bridge is in: its state on a join, a failed
//! join, groupchat messages, and the room closing on shutdown. (Joins and leaves: `muc`.)

use super::Transport;
use crate::xmpp::errors;
use crate::xmpp::muc::{self, OccupantPresence};
use crate::xmpp::room_line::RoomLine;
use switchboard_bridge::{BridgeError, GroupId, LoginId};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::muc::user::Status;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

impl Transport {
    /// Occupants, self-presence, history (from the archive, as each resource's join
    /// asked) and subject to `to`.
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
        let non_anonymous = self.non_anonymous(group);
        let per_resource = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(key) else {
                return;
            };
            let mut back = false;
            let mut out = Vec::new();
            for resource in to {
                let mut before = Vec::new();
                for (nick, rank) in room
                    .occupants
                    .iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case(&room.nick))
                {
                    if let Some(from) = muc::occupant(&room_jid, nick) {
                        let p = OccupantPresence {
                            rank: *rank,
                            jid: self.real_jid(group, nick),
                            ..Default::default()
                        };
                        before.push(Stanza::from(muc::occupant_presence(from, resource, &p)));
                    }
                }
                // The rooms are non-anonymous where every occupant's item names their
                // contact JID (as biboumi's are: 100 with 110).
                let mut statuses = vec![Status::SelfPresence];
                if non_anonymous {
                    statuses.insert(0, Status::NonAnonymousRoom);
                }
                if nick_changed {
                    statuses.push(Status::AssignedNick);
                }
                let rank = room.occupants.get(&room.nick).copied().unwrap_or_default();
                if let Some(me) = muc::occupant(&room_jid, &room.nick) {
                    let p = OccupantPresence {
                        rank,
                        statuses,
                        jid: resource
                            .clone()
                            .try_into_full()
                            .ok()
                            .filter(|_| non_anonymous),
                        ..Default::default()
                    };
                    before.push(muc::occupant_presence(me, resource, &p).into());
                }
                let subject: Stanza =
                    muc::subject(&room_jid, room.topic_by.as_deref(), resource, &room.topic).into();
                // A resource that sent no join (a presence update) gets none.
                // Back in a persistent room: the first join catches up on what was missed.
                let asked = match room.history_asked.remove(resource) {
                    Some(asked) => {
                        let away = room.away_since.take();
                        back |= away.is_some();
                        Some(super::bouncer::catch_up(asked, away))
                    }
                    None => None,
                };
                out.push((resource.clone(), before, asked, subject));
            }
            (out, back)
        };
        let (per_resource, back) = per_resource;
        if back {
            self.store_away(&key.0, &key.1, None).await;
        }
        for (resource, before, asked, subject) in per_resource {
            for stanza in before {
                self.forward_stanza(stanza).await;
            }
            if let Some(asked) = asked {
                let lines = self
                    .history_for(&key.0, group, &room_jid, &resource, asked.as_ref())
                    .await;
                for stanza in lines {
                    self.forward_stanza(stanza).await;
                }
            }
            self.forward_stanza(subject).await;
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
        let (resources, nick, away) = {
            let rooms = self.rooms();
            let Some(room) = rooms.get(&key).filter(|r| r.joined) else {
                return;
            };
            (
                room.resources.iter().cloned().collect::<Vec<_>>(),
                room.nick.clone(),
                room.persistent && room.resources.is_empty(),
            )
        };
        let said_by = from_nick.unwrap_or(&nick);
        let Some(from) = muc::occupant(&room_jid, said_by) else {
            return;
        };
        // Archived before it is shown, so the live copy carries the id MAM will give it;
        // under the nick as the occupant JID shows it (controls as pictures, resourceprep),
        // so that a MAM `with` naming that JID finds it.
        let shown_nick = from.resource().map_or(said_by, |r| r.as_str());
        let stanza_id = match &self.archive {
            Some(archive) => archive
                .record(login, group, shown_nick, &body)
                .await
                .map(crate::archive::line_id),
            None => None,
        };
        if away && from_nick.is_some() && super::bouncer::mentions(&body, &nick) {
            let allowed = self
                .rooms()
                .get_mut(&key)
                .is_some_and(|room| room.take_highlight());
            let user = self.sessions().get(login).map(|e| e.jid.clone());
            match (allowed, user) {
                (true, Some(user)) => self.highlight(&user, &room_jid, said_by, &body).await,
                (false, _) => {
                    tracing::debug!(domain = %self.domain, "A highlight while away was over the cap")
                }
                _ => {}
            }
        }
        // One line for every resource: the body, id and payloads are held once, and each
        // copy is written from them with its own `to`. (Groupchat is nothing the watch
        // looks at, so it skips `forward`.)
        let body = crate::xmpp::text::xml_string(body);
        let delay = sent.and_then(|sent| {
            crate::xmpp::delay::delay(
                Some(sent),
                &room_jid.clone().into(),
                std::time::SystemTime::now(),
            )
        });
        let line = match RoomLine::new(
            from,
            body,
            id,
            stanza_id.map(|sid| (room_jid, sid)),
            delay.into_iter().map(Into::into).collect(),
        ) {
            Ok(line) => line,
            Err(e) => {
                return tracing::warn!(domain = %self.domain, why = %e.0, "Dropping a room line XML cannot carry");
            }
        };
        for to in resources {
            if self.link.send_line_wait(line.to(to)).await.is_err() {
                tracing::warn!(domain = %self.domain, "Link closed; an event for a user was not sent");
            }
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
