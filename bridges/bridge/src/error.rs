//! The one error type that crosses the bridge boundary.

use thiserror::Error;

/// Why a bridge could not do what it was asked.
///
/// The core maps each variant to one XMPP error condition, in one place.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeError {
    /// The network cannot do this at all (a capability it lacks).
    #[error("{0} is not supported by this network")]
    Unsupported(&'static str),
    /// An address (JID local part, phone number, mail address) does not parse.
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    /// The addressed user, group or item does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The user has not registered with this transport.
    #[error("not registered with this transport")]
    NotLoggedIn,
    /// The user may not do this (no number assigned, not an operator, …).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The foreign network refused the user's credentials.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Form values or message content the bridge will not accept (bad field, too long).
    #[error("{0}")]
    Invalid(String),
    /// The foreign network refused this permanently.
    #[error("rejected by the remote network: {0}")]
    Rejected(String),
    /// A per-user limit (rate, daily cap, channel count) was reached.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// The name the user asked for is taken (IRC 433).
    #[error("{0}")]
    Conflict(String),
    /// The group is full (IRC 471).
    #[error("{0}")]
    Full(String),
    /// The group admits invited members only (IRC 473).
    #[error("{0}")]
    InviteOnly(String),
    /// The user is banned from the group (IRC 474).
    #[error("{0}")]
    Banned(String),
    /// The user lacks the standing for this (IRC 482: not a channel operator).
    #[error("{0}")]
    Forbidden(String),
    /// The foreign server cannot be reached or refuses connections.
    #[error("{0}")]
    Unreachable(String),
    /// The foreign side is unreachable or overloaded; retrying later may work.
    #[error("temporarily unavailable: {0}")]
    Transient(String),
}

impl BridgeError {
    /// True when retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BridgeError::Transient(_))
    }
}
