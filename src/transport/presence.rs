//! Presence from users to the transport and its contacts.

use super::Transport;
use crate::xmpp::address::{self, Target};
use crate::xmpp::presence as build;
use std::sync::Arc;
use switchboard_bridge::{Availability, Chat, PresenceUpdate};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::presence::{Presence, Type};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    pub(super) async fn handle_presence(self: &Arc<Self>, from: Jid, p: Presence) {
        let Some(to) = p.to.clone() else { return };
        let target = address::target(&to);
        if let Target::Contact { local, resource } = &target {
            match self.connector.parse_address(local) {
                Err(e) => return self.reply_bridge_error(&Stanza::Presence(p), &e),
                Ok(Chat::Group(group)) => {
                    let Some(nick) = resource.clone() else {
                        if p.type_ == Type::None {
                            return self.reply_error(
                                &Stanza::Presence(p),
                                ErrorType::Modify,
                                DefinedCondition::JidMalformed,
                                "join a room as room@domain/nick",
                            );
                        }
                        return self.plain_presence(from, p, target).await;
                    };
                    if matches!(p.type_, Type::None | Type::Unavailable) {
                        return self.room_presence(from, group, nick, p).await;
                    }
                }
                Ok(Chat::Direct(_)) => self.watch.user_presence(&p),
            }
        }
        if target == Target::Transport {
            self.watch.user_presence(&p);
            match p.type_ {
                Type::None => {
                    let shown = build::shown(&p);
                    let changed = self.sessions().resource_online(&from, shown);
                    if let Some(now) = changed {
                        self.tell_availability(&from, now).await;
                    }
                }
                Type::Unavailable => {
                    let left = self.sessions().resource_offline(&from);
                    match left {
                        None => self.user_offline(&from).await,
                        Some(Some(now)) => self.tell_availability(&from, now).await,
                        Some(None) => {}
                    }
                    return;
                }
                _ => {}
            }
        }
        self.plain_presence(from, p, target).await
    }

    async fn plain_presence(self: &Arc<Self>, from: Jid, p: Presence, target: Target) {
        let Some(to) = p.to.clone() else { return };
        // Another of our own transports (one follows a room through this one) is not a
        // user: answering its presence with ours would bounce presence between the two
        // forever.
        if self.access.is_own_transport(&from) {
            return;
        }
        let me = to.to_bare().into();
        let user = from.to_bare().into();
        match p.type_ {
            Type::Subscribe => {
                // Subscriptions to the transport and its contacts are approved at once (with
                // the request's id, as biboumi answers); the gateway asks back so that
                // presence flows both ways.
                let mut approved = build::simple(Type::Subscribed, &me, &user);
                approved.id = p.id.clone();
                self.reply(approved);
                self.reply(build::simple(Type::Subscribe, &me, &user));
                self.send_presence_of(&target, &me, &user).await;
            }
            Type::Probe | Type::None => {
                if !self.watch_contact(&from, &target).await {
                    self.send_presence_of(&target, &me, &from).await
                }
            }
            Type::Unsubscribe => {
                let mut done = build::simple(Type::Unsubscribed, &me, &user);
                done.id = p.id.clone();
                self.reply(done)
            }
            Type::Subscribed | Type::Unsubscribed | Type::Unavailable | Type::Error => {}
        }
    }

    /// The user's availability over their resources changed: the session hears it (IRC:
    /// `AWAY`).
    async fn tell_availability(&self, from: &Jid, (availability, status): super::sessions::Shown) {
        let Some(login) = self.sessions().login_of(&from.to_bare()) else {
            return;
        };
        let Some(session) = self.session_of(&login) else {
            return;
        };
        let update = PresenceUpdate {
            availability,
            status,
        };
        match session.set_presence(update).await {
            Ok(()) | Err(switchboard_bridge::BridgeError::Unsupported(_)) => {}
            Err(e) => tracing::debug!(error = %e, "Passing on the user's availability failed"),
        }
    }

    /// A probe of (or a directed presence to) a contact: the user's session is asked to
    /// watch it; true when the network will report its presence (a `Presence` event).
    async fn watch_contact(&self, from: &Jid, target: &Target) -> bool {
        let Target::Contact { local, .. } = target else {
            return false;
        };
        let Ok(Chat::Direct(user)) = self.connector.parse_address(local) else {
            return false;
        };
        // A probe opens no session: only a user already connected is watched for. (Two
        // statements: the sessions lock is taken once at a time.)
        let login = self.sessions().login_of(&from.to_bare());
        let Some(session) = login.and_then(|login| self.session_of(&login)) else {
            return false;
        };
        session.watch(&user).await.unwrap_or(false)
    }

    /// A contact's presence from the network, to the user.
    pub(super) async fn contact_presence(
        &self,
        user: &BareJid,
        contact: &switchboard_bridge::UserId,
        presence: &PresenceUpdate,
    ) {
        let Some(from) = self.contact_jid(&Chat::Direct(contact.clone())) else {
            return;
        };
        let p = match presence.availability {
            Availability::Offline => Presence::new(Type::Unavailable),
            _ => Presence::available(),
        };
        self.reply(p.with_from(from).with_to(Jid::from(user.clone())));
    }

    async fn send_presence_of(&self, target: &Target, me: &Jid, to: &Jid) {
        match target {
            Target::Transport => self.send_transport_presence(to).await,
            // Contacts are shown available while their network gives no presence.
            Target::Contact { .. } => self.reply(
                Presence::available()
                    .with_from(me.clone())
                    .with_to(to.clone()),
            ),
        }
    }

    /// The user went offline toward the transport: their rooms are forgotten, except
    /// persistent ones, which stay joined while they are away; without any of those their
    /// foreign sessions go offline too (IRC: QUIT everywhere), otherwise the other rooms
    /// are left one by one.
    async fn user_offline(&self, from: &Jid) {
        let Some(login) = self.sessions().login_of(&from.to_bare()) else {
            return;
        };
        let (kept, forgotten) = {
            let mut rooms = self.rooms();
            let mine: Vec<_> = rooms.keys().filter(|(l, _)| *l == login).cloned().collect();
            let (mut kept, mut forgotten) = (Vec::new(), Vec::new());
            for key in mine {
                let Some(room) = rooms.get_mut(&key) else {
                    continue;
                };
                if room.persistent && room.joined && room.leaving.is_none() {
                    room.resources.clear();
                    room.pending.clear();
                    room.history_asked.clear();
                    let since = *room
                        .away_since
                        .get_or_insert_with(std::time::SystemTime::now);
                    kept.push((key.1, since));
                } else {
                    rooms.remove(&key);
                    forgotten.push(key.1);
                }
            }
            (kept, forgotten)
        };
        for group in &forgotten {
            self.archive_left(&login, group).await;
        }
        for (group, since) in &kept {
            self.store_away(&login, group, Some(*since)).await;
        }
        let Some(session) = self.session_of(&login) else {
            return;
        };
        if !kept.is_empty() {
            for group in forgotten {
                if let Err(e) = session.leave_group(&group, None).await {
                    tracing::debug!(error = %e, "Leaving a group failed");
                }
            }
            return;
        }
        let offline = PresenceUpdate {
            availability: Availability::Offline,
            status: None,
        };
        if let Err(e) = session.set_presence(offline).await {
            tracing::debug!(error = %e, "The network takes no presence");
        }
    }

    /// The transport's presence, with live load and health, to one user.
    pub(super) async fn send_transport_presence(&self, to: &Jid) {
        let health = self.health().await;
        self.reply(build::transport(&self.me, to, &health));
    }

    /// On shutdown: every user with a session sees the transport go offline.
    pub(super) async fn announce_unavailable(&self) {
        // Every occupant the gateway placed in a room leaves it (110 + 332: the service is
        // shutting down), so clients know to rejoin later.
        for stanza in self.rooms_closing() {
            self.reply(stanza);
        }
        let users = self.sessions().users();
        for user in users {
            self.reply(build::simple(Type::Unavailable, &self.me, &user.into()));
        }
    }
}
