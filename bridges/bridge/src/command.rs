//! What the core asks a session to do.

use crate::{Chat, MessageContent, MessageId, TxnId};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// A message an XMPP user wrote, to be delivered on the foreign network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Where it goes.
    pub chat: Chat,
    /// What it says.
    pub content: MessageContent,
    /// The core's id for it; stable across retries, so a bridge can send it once only
    /// where the foreign side lets it know.
    pub txn: TxnId,
}

/// The foreign network took a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The foreign side's id for it, when it gives one.
    pub id: Option<MessageId>,
    /// When the foreign side says it was sent.
    pub timestamp: Option<SystemTime>,
}

/// How available a user is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Availability {
    /// Online.
    Available,
    /// Online and keen to chat.
    Chat,
    /// Away.
    Away,
    /// Away for a long time.
    ExtendedAway,
    /// Do not disturb.
    DoNotDisturb,
    /// Offline.
    Offline,
}

/// A presence change, of the XMPP user (core → bridge) or of a foreign user (bridge → core).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PresenceUpdate {
    /// How available.
    pub availability: Availability,
    /// A free-form status text.
    pub status: Option<String>,
}
