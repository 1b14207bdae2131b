//! Opaque identifiers.
//!
//! Bridges mint [`UserId`], [`GroupId`] and [`MessageId`]; the core mints [`LoginId`] and
//! [`TxnId`]. All of them are persisted, so their string forms must stay stable across
//! releases. The core never parses them: it only stores, compares and hands them back.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier string (minted by its owner, see the module docs).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier's stable string form, for storage and logs.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// One user's registration on one transport (minted by the core).
    LoginId
);
opaque_id!(
    /// A person on the foreign network: an IRC nick, a phone number, a mail address.
    UserId
);
opaque_id!(
    /// A group conversation on the foreign network: an IRC channel, a digest source.
    GroupId
);
opaque_id!(
    /// A message as the foreign network (or the bridge) identifies it.
    MessageId
);
opaque_id!(
    /// The core's own id for one message it handed to a bridge; echoes carry it back.
    TxnId
);

/// A conversation on the foreign network, as the address of an XMPP JID names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chat {
    /// One-to-one chat with a foreign user.
    Direct(UserId),
    /// A group chat (shown to XMPP users as a MUC room).
    Group(GroupId),
}
