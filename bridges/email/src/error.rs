//! Errors of the email protocol modules.

use thiserror::Error;

/// Why a mail address or alias was refused. The text is meant for the user (it ends up in
/// the `<text/>` of a `<jid-malformed/>` or `<not-acceptable/>` error).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Nothing was given.
    #[error("empty address (example: bob%example.net)")]
    Empty,
    /// Longer than RFC 5321 allows (254 octets for a path, 64 for a local part).
    #[error("address is too long ({0} characters)")]
    TooLong(usize),
    /// No `%` (in a JID) or `@` (in a mail address) separates the mailbox from its domain.
    #[error("{0:?} has no domain: write bob%example.net")]
    NoDomain(String),
    /// The part before the domain is not a dot-atom of RFC 5322 (quoted local parts are not
    /// taken: they are where header injection and parser disagreements live).
    #[error("{0:?} is not a valid mailbox name")]
    BadLocalPart(String),
    /// The domain is not a host name with at least one dot (or an IP literal, which mail
    /// to users should never need).
    #[error("{0:?} is not a valid mail domain")]
    BadDomain(String),
    /// An alias holds something other than lower-case letters, digits, `.`, `-` and `_`,
    /// or starts or ends with a separator.
    #[error("{0:?} is not a valid alias: use 3 to 32 letters, digits, '.', '-' or '_'")]
    BadAlias(String),
    /// An alias the gateway keeps for itself (postmaster, abuse, …).
    #[error("{0:?} is reserved")]
    ReservedAlias(String),
}
