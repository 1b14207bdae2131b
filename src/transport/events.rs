//! Events from foreign sessions, turned into stanzas for their users.

use super::Transport;
use crate::xmpp::address::escape;
use crate::xmpp::errors;
use crate::xmpp::text::jid_part;
use crate::xmpp::{delay, message};
use switchboard_bridge::{Chat, Envelope, RemoteEvent, SessionState};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Id, Message};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    pub(super) async fn handle_event(&self, envelope: Envelope) {
        self.handle_event_with_id(envelope, None).await
    }

    /// [`Transport::handle_event`], the message stanzas to the user carrying ids derived
    /// from `stanza_id` (an event delivered from the store: the same ids every time).
    pub(super) async fn handle_event_with_id(&self, envelope: Envelope, stanza_id: Option<&str>) {
        let Envelope { login, event } = envelope;
        let Some(user) = self.sessions().get(&login).map(|e| e.jid.clone()) else {
            tracing::debug!(login = %login, "Event from a closed session");
            return;
        };
        match event {
            RemoteEvent::Message(m) => {
                if m.sender.is_self && m.txn.is_some() {
                    return; // the echo of a message this user sent through us
                }
                if let Chat::Group(group) = &m.chat {
                    let nick = m
                        .sender
                        .display_name
                        .as_deref()
                        .unwrap_or(m.sender.user.as_str());
                    let body = message::body(&m.content);
                    self.to_room(&login, group, Some(nick), body, None, m.timestamp)
                        .await;
                    return;
                }
                let Some(from) = self.contact_jid(&m.chat) else {
                    return;
                };
                let delay = delay::delay(m.timestamp, &self.me, std::time::SystemTime::now());
                let parts = message::to_user_parts(from, user.into(), &m.content);
                for (i, mut stanza) in parts.into_iter().enumerate() {
                    if let Some(id) = stanza_id {
                        stanza.id = Some(Id(match i {
                            0 => id.to_string(),
                            i => format!("{id}-{i}"),
                        }));
                    }
                    if let Some(d) = &delay {
                        stanza.payloads.push(d.clone().into());
                    }
                    self.forward(stanza.into()).await;
                }
            }
            RemoteEvent::GroupJoined(snapshot) => self.group_joined(&login, snapshot).await,
            RemoteEvent::GroupJoinFailed { group, error } => {
                self.group_join_failed(&login, group, error).await
            }
            RemoteEvent::GroupLeft { group, reason } => {
                self.group_left(&login, group, reason).await
            }
            RemoteEvent::Membership {
                group,
                nick,
                change,
                ..
            } => self.membership(&login, group, nick, change).await,
            RemoteEvent::Topic { group, topic, by } => self.topic(&login, group, topic, by).await,
            RemoteEvent::GroupError { group, error } => {
                self.group_error(&login, group, &error).await
            }
            RemoteEvent::Delivered { txn, .. } => match self.store.receipt_take(&txn).await {
                Ok(Some(target)) => {
                    if let (Ok(from), Ok(to)) =
                        (Jid::new(&target.recipient), Jid::new(&target.sender))
                    {
                        self.forward(message::receipt(from, to, &target.stanza_id).into())
                            .await;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "Cannot read an awaited receipt"),
            },
            RemoteEvent::DeliveryFailed { chat, txn, reason } => {
                let target = self.store.receipt_take(&txn).await.ok().flatten();
                let Some(from) = self.contact_jid(&chat) else {
                    return;
                };
                // An error to a bare JID is dropped by the user's server (RFC 6121
                // §8.5.2.1.1): to the sender's resource when known, else to those online.
                let to: Vec<Jid> = match target.as_ref().and_then(|t| Jid::new(&t.sender).ok()) {
                    Some(sender) => vec![sender],
                    None => {
                        let online = self.sessions().resources_of(&user);
                        if online.is_empty() {
                            vec![user.clone().into()]
                        } else {
                            online
                        }
                    }
                };
                let id = target.map(|t| Id(t.stanza_id));
                for to in to {
                    let mut m = Message::error(to).with_payload(errors::error(
                        ErrorType::Cancel,
                        DefinedCondition::RecipientUnavailable,
                        format!("the message could not be delivered: {reason}"),
                    ));
                    m.from = Some(from.clone());
                    m.id = id.clone();
                    self.forward(m.into()).await;
                }
            }
            RemoteEvent::Invited { group, nick, .. } => self.invited(&user, &group, &nick).await,
            RemoteEvent::Presence {
                user: contact,
                presence,
            } => self.contact_presence(&user, &contact, &presence).await,
            RemoteEvent::NetworkText { network, text } => {
                self.network_text(&user, &network, &text).await
            }
            RemoteEvent::State(state) => self.session_state(&login, &user, state).await,
            other => tracing::debug!(login = %login, event = ?other, "Event not bridged yet"),
        }
    }

    async fn session_state(
        &self,
        login: &switchboard_bridge::LoginId,
        user: &BareJid,
        state: SessionState,
    ) {
        let changed = {
            let mut sessions = self.sessions();
            match sessions.get_mut(login) {
                Some(entry) if entry.state != state => {
                    entry.state = state.clone();
                    true
                }
                _ => false,
            }
        };
        if changed {
            tracing::info!(domain = %self.domain, login = %login, state = ?state, "Session state");
            self.send_transport_presence(&user.clone().into()).await;
        }
    }

    /// The JID of a foreign chat on this transport. Controls in a foreign name (a nick
    /// from a hostile IRC server) show as control pictures, so the message still arrives
    /// and an answer to it fails at the network instead of reaching someone else.
    pub(super) fn contact_jid(&self, chat: &Chat) -> Option<Jid> {
        let local = escape(&jid_part(&self.connector.format_address(chat)));
        if local.is_empty() {
            // A network that is the transport itself (IRC's `fixed_network`).
            return Some(self.me.clone());
        }
        match Jid::new(&format!("{local}@{}", self.domain)) {
            Ok(jid) => Some(jid),
            Err(e) => {
                tracing::warn!(error = %e, "A bridge address does not make a JID");
                None
            }
        }
    }

    /// Queues a stanza for a user, waiting while the link queue is full, so events are
    /// slowed down rather than lost.
    /// [`Transport::forward`] for anything that converts to a stanza.
    pub(super) async fn forward_stanza(&self, stanza: impl Into<Stanza>) {
        self.forward(stanza.into()).await
    }

    pub(super) async fn forward(&self, stanza: Stanza) {
        // The one place messages for users leave a transport: a watched user who is
        // offline misses what is said to them here.
        self.watch.sent(&stanza);
        if self.link.send_wait(stanza).await.is_err() {
            tracing::warn!(domain = %self.domain, "Link closed; an event for a user was not sent");
        }
    }
}
