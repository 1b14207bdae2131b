//! What a session reports to the core.

use crate::{
    BridgeError, Chat, GroupId, LoginId, MessageContent, MessageId, Occupant, PresenceUpdate, Rank,
    TxnId, UserId,
};
use std::time::SystemTime;

/// One event from a session, stamped with the login it belongs to by the [`crate::EventSink`].
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Whose session produced it.
    pub login: LoginId,
    /// What happened.
    pub event: RemoteEvent,
}

/// Something that happened on the foreign network.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum RemoteEvent {
    /// A message arrived (or our own message was echoed back).
    Message(IncomingMessage),
    /// A foreign user's presence changed.
    Presence {
        /// Who.
        user: UserId,
        /// The new presence.
        presence: PresenceUpdate,
    },
    /// Someone joined, left, was kicked from, or changed nick in a group.
    Membership {
        /// Which group.
        group: GroupId,
        /// Who.
        user: UserId,
        /// Their nick in the group.
        nick: String,
        /// What changed.
        change: MembershipChange,
    },
    /// The user is now in a group (answer to [`crate::Session::join_group`]).
    GroupJoined(GroupSnapshot),
    /// A join could not be done.
    // Never stored: a BridgeError is not serialisable (it is not a network-wide event).
    #[serde(skip)]
    GroupJoinFailed {
        /// Which group.
        group: GroupId,
        /// Why (full, invite-only, banned, bad key, nick in use, unreachable, …).
        error: BridgeError,
    },
    /// The user is no longer in a group: left on request, kicked, or disconnected.
    GroupLeft {
        /// Which group.
        group: GroupId,
        /// How.
        reason: LeaveReason,
    },
    /// The network refused something the user did in a group (set the topic without being
    /// an operator, …).
    // Never stored: a BridgeError is not serialisable (it is not a network-wide event).
    #[serde(skip)]
    GroupError {
        /// Which group.
        group: GroupId,
        /// What went wrong.
        error: BridgeError,
    },
    /// A group's topic changed (or was first learnt).
    Topic {
        /// Which group.
        group: GroupId,
        /// The new topic; empty when there is none.
        topic: String,
        /// Who set it, when known.
        by: Option<String>,
    },
    /// The foreign side reports that a message we sent was delivered.
    Delivered {
        /// The chat it was sent to.
        chat: Chat,
        /// The core's id of the message.
        txn: TxnId,
    },
    /// The foreign side reports that a message we sent failed after all.
    DeliveryFailed {
        /// The chat it was sent to.
        chat: Chat,
        /// The core's id of the message.
        txn: TxnId,
        /// The foreign side's reason, for the user.
        reason: String,
    },
    /// Someone on the network invited the user to a group.
    Invited {
        /// Which group.
        group: GroupId,
        /// Who invited.
        by: UserId,
        /// Their nick (or name) as the network shows it.
        nick: String,
    },
    /// What the network says to the user about their connection: progress ("Connecting
    /// to …", "Connected"), the server's welcome lines and notices, replies to raw
    /// commands. Shown once to the user's online clients, from the network's own address,
    /// and never stored.
    NetworkText {
        /// The network (its address is `format_address(Chat::Direct(network))`).
        network: UserId,
        /// One line or a few, as the network said them.
        text: String,
    },
    /// The session's connection changed state.
    State(SessionState),
}

/// A message from the foreign network.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncomingMessage {
    /// The foreign side's id, when it gives one.
    pub id: Option<MessageId>,
    /// Which conversation.
    pub chat: Chat,
    /// Who wrote it.
    pub sender: Sender,
    /// What it says.
    pub content: MessageContent,
    /// Set when this is the echo of a message the core sent.
    pub txn: Option<TxnId>,
    /// When it was sent; `None` means now.
    pub timestamp: Option<SystemTime>,
}

/// The author of an incoming message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sender {
    /// Who.
    pub user: UserId,
    /// The name to show, when different from the id.
    pub display_name: Option<String>,
    /// The user of this session wrote it (an echo or a message from another client).
    pub is_self: bool,
}

/// A group as the user finds it on joining: everyone present, the user's own nick, and the
/// topic.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupSnapshot {
    /// Which group.
    pub group: GroupId,
    /// The user's nick in it (the network may have changed the one asked for).
    pub nick: String,
    /// The network changed the nick the user asked for.
    pub nick_changed: bool,
    /// Everyone in the group, the user included.
    pub occupants: Vec<Occupant>,
    /// The topic; empty when there is none.
    pub topic: String,
    /// Who set the topic, when known.
    pub topic_by: Option<String>,
}

/// Why the user is no longer in a group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeaveReason {
    /// The user left (the core asked).
    Left,
    /// Kicked out.
    Kicked {
        /// By whom.
        by: Option<String>,
        /// Why.
        reason: Option<String>,
    },
    /// The connection to the network was lost or closed.
    Disconnected {
        /// Why, for the user.
        reason: String,
    },
}

/// A change of membership in a group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MembershipChange {
    /// Joined, with this standing.
    Joined {
        /// Their standing.
        rank: Rank,
    },
    /// Their standing changed.
    RankChanged {
        /// The new standing.
        rank: Rank,
    },
    /// Left, with a reason or quit message.
    Left {
        /// Why.
        reason: Option<String>,
    },
    /// Was kicked.
    Kicked {
        /// By whom.
        by: Option<String>,
        /// Why.
        reason: Option<String>,
    },
    /// Went away (or came back, with `None`): shown as presence `away`.
    Away {
        /// The away message; `None` when back.
        message: Option<String>,
    },
    /// Took a new nick.
    NickChanged {
        /// The new nick.
        new_nick: String,
    },
}

/// The health of one session's foreign connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionState {
    /// Connecting (for the first time or again).
    Connecting,
    /// Connected and working.
    Connected,
    /// Lost the connection; retrying.
    TransientDisconnect {
        /// Why, for the user.
        reason: String,
    },
    /// The foreign side refused the credentials; the user must act.
    BadCredentials {
        /// Why, for the user.
        reason: String,
    },
    /// The session ended on request.
    LoggedOut,
}

impl SessionState {
    /// True when the session works.
    pub fn is_up(&self) -> bool {
        matches!(self, SessionState::Connected)
    }
}
