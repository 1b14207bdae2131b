//! Who is in a room, as the gateway's own state of its rooms has it: pings to occupant
//! JIDs (XEP-0410 self-pings), and whether a user is in a chat (for the digests'
//! [`switchboard_bridge::Watcher::may_read`]).

use super::iq;
use super::Transport;
use crate::xmpp::muc::{self, OccupantPing};
use switchboard_bridge::GroupId;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::stanza_error::{DefinedCondition, StanzaError};

/// Bounces that say a resource is gone (RFC 6121 §8.5.3.2.1: a groupchat message to a full
/// JID with no such resource gets `service-unavailable`): a ghost after its server
/// restarted, or a client that went away without leaving.
const GONE: [DefinedCondition; 5] = [
    DefinedCondition::ServiceUnavailable,
    DefinedCondition::RecipientUnavailable,
    DefinedCondition::ItemNotFound,
    DefinedCondition::RemoteServerNotFound,
    DefinedCondition::RemoteServerTimeout,
];

/// Whether an error bounced from a user's resource says that resource is gone.
pub(super) fn says_gone(m: &Message) -> bool {
    m.payloads
        .iter()
        .find(|p| p.name() == "error")
        .and_then(|e| StanzaError::try_from(e.clone()).ok())
        .is_some_and(|e| {
            GONE.contains(&e.defined_condition)
                || matches!(e.defined_condition, DefinedCondition::Gone { .. })
        })
}

impl Transport {
    /// A message error from `from` to an occupant JID: when it says the resource is gone,
    /// it leaves the room (XEP-0045's ghost occupants), and the last one gone leaves the
    /// foreign group.
    pub(super) async fn occupant_bounced(&self, from: &Jid, local: &str, m: &Message) {
        if !says_gone(m) {
            return;
        }
        let Ok(switchboard_bridge::Chat::Group(group)) = self.connector.parse_address(local) else {
            return;
        };
        let Some(login) = self.sessions().login_of(&from.to_bare()) else {
            return;
        };
        let key = (login, group);
        let known = self
            .rooms()
            .get(&key)
            .is_some_and(|r| r.resources.contains(from) || r.pending.contains(from));
        if known {
            tracing::info!(domain = %self.domain, group = %key.1, "A resource in a room is gone; it leaves");
            self.resource_left(&key, from, None).await;
        }
    }

    /// A XEP-0199 ping from `from` to `local/nick` (XEP-0410 when the nick is theirs):
    /// answered from the gateway's state of the room; a ping to a contact's resource is
    /// answered as a ping to the transport.
    pub(super) fn occupant_ping(&self, from: &Jid, local: &str, nick: &str) -> iq::Answer {
        let Ok(switchboard_bridge::Chat::Group(group)) = self.connector.parse_address(local) else {
            return iq::Answer::Result(None);
        };
        let found = self.occupancy_of(from, &group, nick);
        match muc::occupant_ping_error(found) {
            None => iq::Answer::Result(None),
            Some(e) => iq::Answer::Stanza(Box::new(e)),
        }
    }

    fn occupancy_of(&self, from: &Jid, group: &GroupId, nick: &str) -> OccupantPing {
        // Never registers anyone (a ping is no reason to open a session).
        let Some(login) = self.sessions().login_of(&from.to_bare()) else {
            return OccupantPing::NotJoined;
        };
        let rooms = self.rooms();
        let Some(room) = rooms
            .get(&(login, group.clone()))
            .filter(|r| r.joined && r.resources.contains(from))
        else {
            return OccupantPing::NotJoined;
        };
        if nick.eq_ignore_ascii_case(&room.nick) {
            OccupantPing::SelfJoined
        } else if room.occupants.keys().any(|o| o.eq_ignore_ascii_case(nick)) {
            OccupantPing::OtherOccupant
        } else {
            OccupantPing::NoSuchOccupant
        }
    }

    /// Whether `owner` (a bare JID) is in the room `room` of this transport through the
    /// gateway: any of their resources joined (for the digests' [`switchboard_bridge::Watcher::may_read`]).
    fn occupant_user(&self, owner: &BareJid, room: &BareJid) -> bool {
        let Some(node) = room.node() else {
            return false;
        };
        if !room.domain().as_str().eq_ignore_ascii_case(&self.domain) {
            return false;
        }
        let local = crate::xmpp::address::unescape(node.as_str());
        let Ok(switchboard_bridge::Chat::Group(group)) = self.connector.parse_address(&local)
        else {
            return false;
        };
        let Some(login) = self.sessions().login_of(owner) else {
            return false;
        };
        self.rooms()
            .get(&(login, group))
            .is_some_and(|r| r.joined && !r.resources.is_empty())
    }
}

impl crate::watch::Occupancy for Transport {
    fn occupies(&self, owner: &BareJid, room: &BareJid) -> bool {
        self.occupant_user(owner, room)
    }
}
