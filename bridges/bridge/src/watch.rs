//! Chats a bridge asks the gateway to watch for it (digests): group chats the gateway
//! follows as an occupant, and messages a user missed while offline. The core does the
//! watching (it speaks XMPP); the bridge gets what was seen through
//! [`crate::Connector::observe`]. Addresses here are opaque strings to the bridge (bare
//! JIDs the core checked and normalised).

use std::time::SystemTime;

/// One message said in a followed group chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMessage {
    /// The room's address, exactly as it was passed to [`Watcher::follow_room`].
    pub room: String,
    /// Who said it (the occupant's nick).
    pub sender: String,
    /// What was said (plain text; may be long: the bridge caps it).
    pub body: String,
    /// When the room got it (the delay stamp of a replayed message, else arrival).
    pub at: SystemTime,
    /// A key that is the same when the room replays the message from its history after a
    /// rejoin, so the bridge can keep each message once.
    pub dedupe: String,
}

/// A one-to-one message the gateway delivered to a watched user while no resource of
/// theirs was online.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissedMessage {
    /// The user (a bare JID as the core normalised it), as passed to
    /// [`Watcher::watch_missed`].
    pub owner: String,
    /// The address it came from (a bare JID of one of the gateway's transports).
    pub from: String,
    /// The sender as people read it (the contact's name where the network gave one, else
    /// its address).
    pub sender: String,
    /// The text.
    pub body: String,
    /// When the gateway delivered it.
    pub at: SystemTime,
}

/// What the gateway saw for a watching bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A message in a followed room.
    Room(RoomMessage),
    /// A message a watched user missed.
    Missed(MissedMessage),
    /// A watched user came online (any resource): what they missed so far reached them.
    Online {
        /// The user, as passed to [`Watcher::watch_missed`].
        owner: String,
    },
    /// Joining a followed room failed; the core tries again when the XMPP link comes back.
    RoomFailed {
        /// The room, as passed to [`Watcher::follow_room`].
        room: String,
        /// Why, for logs and the subscriber ("not-authorized: password required").
        reason: String,
    },
}

/// Whether a user may read a chat, as far as the gateway can tell (asked before a digest of
/// it is made: the gateway follows a chat once for all its subscribers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadAccess {
    /// The user proved they may read it.
    Granted,
    /// They did not; `why` says what they can do about it, for the user.
    Refused {
        /// A sentence for the user ("join #chan through this gateway first").
        why: String,
    },
}

/// The core's side of watching: what to follow. Calls are cheap and never block; the core
/// joins and leaves rooms in the background and keeps doing so across XMPP reconnects.
pub trait Watcher: Send + Sync + 'static {
    /// Follows a group chat (a room JID the core checked) as an occupant named `nick`.
    /// With `since`, messages the room kept since then are asked for again on joining (the
    /// bridge drops the ones it already has by [`RoomMessage::dedupe`]); without, none.
    fn follow_room(&self, room: &str, nick: &str, since: Option<SystemTime>);
    /// Stops following a room (leaves it).
    fn unfollow_room(&self, room: &str);
    /// Reports one-to-one messages delivered to `owner` while they are offline, and when
    /// they come online.
    fn watch_missed(&self, owner: &str);
    /// Stops reporting for `owner`.
    fn unwatch_missed(&self, owner: &str);
    /// May `owner` (a bare JID) read the group chat `room` (a room JID)? A chat of one of
    /// the gateway's own transports: only while they are in it through the gateway. A MUC
    /// room elsewhere: only when the room itself vouched for them lately (they invited the
    /// watching transport to it from inside). Cheap, never blocks.
    fn may_read(&self, owner: &str, room: &str) -> ReadAccess;
}

/// A watcher that watches nothing (for bridges and tests that do not follow chats).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWatcher;

impl Watcher for NoWatcher {
    fn follow_room(&self, _room: &str, _nick: &str, _since: Option<SystemTime>) {}
    fn unfollow_room(&self, _room: &str) {}
    fn watch_missed(&self, _owner: &str) {}
    fn unwatch_missed(&self, _owner: &str) {}
    fn may_read(&self, _owner: &str, _room: &str) -> ReadAccess {
        ReadAccess::Refused {
            why: "this gateway follows no chats".into(),
        }
    }
}
