//! Messages from users: checked, stored in the outbox, then handed to the login's worker.

use super::Transport;
use crate::store::{new_txn, NewOutboxEntry};
use crate::xmpp::address::{self, Target};
use crate::xmpp::{errors, invite, message, muc};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use switchboard_bridge::{BridgeError, Chat, GroupId, MessageContent, OutgoingMessage};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    pub(super) async fn handle_message(self: &Arc<Self>, from: Jid, m: Message) {
        if m.type_ == MessageType::Error {
            tracing::debug!(from = %from, "A user's server bounced one of our messages");
            if let Some(Target::Contact {
                local,
                resource: Some(_),
            }) = m.to.as_ref().map(address::target)
            {
                self.occupant_bounced(&from, &local, &m).await;
            }
            return;
        }
        let Some(to) = m.to.clone() else { return };
        let fail = |type_, condition, text: String| {
            self.reply_error(&Stanza::Message(m.clone()), type_, condition, text)
        };

        let (local, resource) = match address::target(&to) {
            Target::Contact { local, resource } => (local, resource),
            // The transport's own JID may stand for a network (IRC's `fixed_network`).
            Target::Transport if self.transport_is_a_network() => (String::new(), None),
            Target::Transport => {
                return fail(
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    format!(
                        "write to a contact such as name@{} instead of the gateway itself",
                        self.domain
                    ),
                )
            }
        };
        let chat = match (self.connector.parse_address(&local), resource) {
            (Err(e), _) => return self.reply_bridge_error(&Stanza::Message(m.clone()), &e),
            (Ok(Chat::Group(group)), None) if muc::is_groupchat(&m) => {
                return self.groupchat(from, m, group).await
            }
            (Ok(Chat::Group(group)), None) if invite::mediated(&m).is_some() => {
                return self.room_invite(from, m, group).await
            }
            (Ok(Chat::Direct(user)), None) if invite::direct(&m).is_some() => {
                return self.direct_invite(from, m, user).await
            }
            (Ok(Chat::Group(group)), Some(nick)) if message::is_chat(&m) => {
                match self.connector.occupant_chat(&group, &nick) {
                    Some(chat) => chat,
                    None => {
                        return fail(
                            ErrorType::Cancel,
                            DefinedCondition::FeatureNotImplemented,
                            "private messages to occupants are not supported here".into(),
                        )
                    }
                }
            }
            (Ok(chat @ Chat::Direct(_)), None) if message::is_chat(&m) => chat,
            _ => {
                return fail(
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    "send groupchat messages to a room and chat messages to a contact".into(),
                )
            }
        };
        let content = match message::content(&m) {
            Ok(Some(content)) => content,
            Ok(None) => return, // chat states, receipts, markers: nothing to deliver
            Err(text) => return fail(ErrorType::Modify, DefinedCondition::NotAcceptable, text),
        };
        self.accept(from, m, chat, content).await;
    }

    /// A groupchat message to a room: a subject change, or text for the outbox.
    async fn groupchat(self: &Arc<Self>, from: Jid, m: Message, group: GroupId) {
        let stanza = Stanza::Message(m.clone());
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return self.reply_bridge_error(&stanza, &e),
        };
        if !self.in_room(&login, &group, &from) {
            return self.reply_error(
                &stanza,
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                "you are not in this room; join it first",
            );
        }
        let content = match message::content(&m) {
            Ok(Some(content)) => content,
            Ok(None) => {
                if let Some((_, subject)) = m.get_best_subject(vec!["en", ""]) {
                    if let Some(session) = self.session_of(&login) {
                        if let Err(e) = session.set_topic(&group, subject).await {
                            self.reply_bridge_error(&stanza, &e);
                        }
                    }
                }
                return;
            }
            Err(text) => {
                return self.reply_error(
                    &stanza,
                    ErrorType::Modify,
                    DefinedCondition::NotAcceptable,
                    text,
                )
            }
        };
        self.accept(from, m, Chat::Group(group), content).await;
    }

    /// Stores a user's message in the outbox and wakes the login's worker.
    async fn accept(self: &Arc<Self>, from: Jid, m: Message, chat: Chat, content: MessageContent) {
        let Some(to) = m.to.clone() else { return };
        let fail = |type_, condition, text: String| {
            self.reply_error(&Stanza::Message(m.clone()), type_, condition, text)
        };
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return self.reply_bridge_error(&Stanza::Message(m.clone()), &e),
        };
        if self.link.is_full() && self.link.state() != crate::link::LinkState::Up {
            return fail(
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
                "the gateway is overloaded; try again in a moment".into(),
            );
        }
        let queued = self.sessions().get(&login).map(|e| e.queued.clone());
        let Some(queued) = queued else { return };
        let n = queued.load(Ordering::Relaxed);
        if n >= self.user_queue {
            return fail(
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
                format!("{n} of your messages are still waiting for the network; try again later"),
            );
        }
        let outgoing = OutgoingMessage {
            chat,
            content,
            txn: new_txn(),
        };
        // The bridge's own checks (may this user send here, is it too long, limits) come
        // before the message is stored, so a refusal is answered at once.
        if let Some(session) = self.session_of(&login) {
            if let Err(e) = session.admit(&outgoing) {
                return self.reply_bridge_error(&Stanza::Message(m.clone()), &e);
            }
        }
        let entry = NewOutboxEntry {
            transport: self.domain.clone(),
            login: login.clone(),
            sender: from.to_string(),
            recipient: to.to_bare().to_string(),
            stanza_id: m.id.as_ref().map(|id| id.0.clone()),
            wants_receipt: message::wants_receipt(&m),
            message: outgoing,
        };
        // Queued for the database in order, not waited for here: the user's next stanza
        // is taken at once, and what waits is committed together. The worker is woken once
        // it is stored; a failure is answered with an error.
        let stored = self.store.outbox_push(&entry);
        let transport = self.clone();
        tokio::spawn(async move {
            if let Err(e) = stored.await {
                return transport.store_failed(&Stanza::Message(m), e);
            }
            queued.fetch_add(1, Ordering::Relaxed);
            if let Some(session) = transport.sessions().get(&login) {
                session.notify.notify_one();
            }
        });
    }

    pub(super) fn reply_bridge_error(&self, to: &Stanza, e: &BridgeError) {
        if let Some(reply) = errors::reply(to, errors::from_bridge(e)) {
            self.reply(reply);
        }
    }

    pub(super) fn store_failed(&self, to: &Stanza, e: crate::error::Error) {
        tracing::error!(domain = %self.domain, error = %e, "Storage failed");
        self.reply_error(
            to,
            ErrorType::Wait,
            DefinedCondition::InternalServerError,
            "the gateway cannot store your message right now; try again later",
        );
    }
}
