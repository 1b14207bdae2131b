//! Invitations: a user's mediated invitation to a room (to someone on the foreign network,
//! or passed on to an XMPP user), a user's direct invitation (XEP-0249) to a contact, and
//! the foreign network's invitations to the user.

use super::Transport;
use crate::xmpp::{invite, muc};
use std::sync::Arc;
use switchboard_bridge::{BridgeError, Chat, GroupId, LoginId, UserId};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

impl Transport {
    /// `<invite to=…/>` in a message to a room: someone on the network is invited there;
    /// an XMPP user gets the invitation from the room (XEP-0045 §7.8.2).
    pub(super) async fn room_invite(self: &Arc<Self>, from: Jid, m: Message, group: GroupId) {
        let stanza = Stanza::Message(m.clone());
        let Some(asked) = invite::mediated(&m) else {
            return;
        };
        let login = match self.login_for(&from.to_bare()).await {
            Ok(login) => login,
            Err(e) => return self.reply_bridge_error(&stanza, &e),
        };
        let Some(local) = invite::names_foreign_user(&asked.to, &self.domain) else {
            let Some(room) = self.room_jid(&group) else {
                return;
            };
            if !self.in_room(&login, &group, &from) {
                return self.reply_error(
                    &stanza,
                    ErrorType::Modify,
                    DefinedCondition::NotAcceptable,
                    "you are not in this room; join it first",
                );
            }
            tracing::debug!(room = %room, "Passing on an invitation to an XMPP user");
            let out = invite::forwarded(&room, asked.to, from, asked.reason.as_deref());
            return self.forward_stanza(out).await;
        };
        let user = if asked.to.node().is_some() {
            match self.connector.parse_address(&local) {
                Ok(Chat::Direct(user)) => Ok(user),
                Ok(Chat::Group(_)) => Err(BridgeError::InvalidAddress(format!(
                    "{} is a room, not someone to invite",
                    asked.to
                ))),
                Err(e) => Err(e),
            }
        } else {
            match self.connector.occupant_chat(&group, &local) {
                Some(Chat::Direct(user)) => Ok(user),
                _ => Err(BridgeError::Unsupported("invitations by nick")),
            }
        };
        let result = match user {
            Ok(user) => self.invite_on_network(&login, &group, &user).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.reply_bridge_error(&stanza, &e);
        }
    }

    /// `<x xmlns='jabber:x:conference' jid=…/>` in a message to a contact: the contact is
    /// invited to that room of this gateway.
    pub(super) async fn direct_invite(self: &Arc<Self>, from: Jid, m: Message, user: UserId) {
        let stanza = Stanza::Message(m.clone());
        let Some((room, _reason)) = invite::direct(&m) else {
            return;
        };
        let group = match self.group_of_room(&room) {
            Some(group) => group,
            None => {
                return self.reply_error(
                    &stanza,
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    format!("{room} is not a room of {}", self.domain),
                )
            }
        };
        let result = match self.login_for(&from.to_bare()).await {
            Ok(login) => self.invite_on_network(&login, &group, &user).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.reply_bridge_error(&stanza, &e);
        }
    }

    async fn invite_on_network(
        &self,
        login: &LoginId,
        group: &GroupId,
        user: &UserId,
    ) -> Result<(), BridgeError> {
        let session = self.session_of(login).ok_or(BridgeError::NotLoggedIn)?;
        session.invite(group, user).await
    }

    /// The group a room JID of this gateway stands for.
    fn group_of_room(&self, room: &BareJid) -> Option<GroupId> {
        if room.domain().as_str() != self.domain {
            return None;
        }
        match self.connector.parse_address(room.node()?.as_str()) {
            Ok(Chat::Group(group)) => Some(group),
            _ => None,
        }
    }

    /// `Invited` from the bridge: the invitation, from the room, to the user's bare JID.
    pub(super) async fn invited(&self, user: &BareJid, group: &GroupId, nick: &str) {
        let Some(room) = self.room_jid(group) else {
            return;
        };
        let inviter = muc::occupant(&room, nick);
        let m = invite::from_network(&room, user.clone().into(), inviter);
        self.forward_stanza(m).await;
    }
}
