//! Group chats: who is in them and with what standing.

use crate::GroupId;

/// A member's standing in a group, from least to most powerful. Bridges map their
/// network's levels onto these (IRC: `+` Voiced, `%` Moderator, `@` Operator, `&` Admin,
/// `~` Owner); the core maps them onto MUC roles and affiliations.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Rank {
    /// An ordinary member.
    #[default]
    Regular,
    /// May speak where others may not (IRC voice).
    Voiced,
    /// May moderate (IRC half-operator).
    Moderator,
    /// Runs the group (IRC operator).
    Operator,
    /// Administers the group (IRC protected/admin).
    Admin,
    /// Owns the group (IRC founder).
    Owner,
}

/// One member of a group (as the network shows them: by nick).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Occupant {
    /// Their name in the group.
    pub nick: String,
    /// Their standing.
    pub rank: Rank,
}

/// What the core asks for when a user joins a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinRequest {
    /// Which group.
    pub group: GroupId,
    /// The nick the user asked for.
    pub nick: String,
    /// A key or password for the group, when the user gave one.
    pub password: Option<String>,
    /// The joiner is one of the gateway's own transports following the group for several
    /// users (digests), not a person: a bridge counts such groups apart from a user's own
    /// (see the IRC bridge's `max_followed_channels`).
    pub watching: bool,
}

/// A group as a network's directory lists it (IRC LIST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupListing {
    /// Which group.
    pub group: GroupId,
    /// Its name as the network spells it.
    pub name: String,
    /// Members, when the network says.
    pub members: Option<u32>,
    /// Its topic; empty when none.
    pub topic: String,
}
