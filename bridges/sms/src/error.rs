//! Errors of the SMS protocol modules.

use thiserror::Error;

/// Why a phone number could not be normalised to E.164 by [`crate::number::normalize`].
///
/// The `Display` text is meant for the user (it ends up in the `<text/>` of a
/// `<jid-malformed/>` stanza error), so it quotes the input where that helps.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NumberError {
    /// The input was empty or held only whitespace and separators.
    #[error("empty phone number (example: +15551234567)")]
    Empty,

    /// The input was longer than any phone number written with separators can be
    /// (the limit is [`crate::number::MAX_INPUT_LEN`] bytes).
    #[error("phone number is too long ({0} characters)")]
    TooLong(usize),

    /// The input held a character that has no place in a phone number: a letter
    /// (vanity numbers such as `1-800-FLOWERS` are refused), punctuation other than
    /// spaces, dashes, dots, slashes and parentheses, or a `+` that is not the first
    /// character.
    #[error("invalid character {0:?} in phone number (use digits, optionally with a leading +)")]
    InvalidCharacter(char),

    /// The input is in a national format (no `+` or `00` prefix) and no default region
    /// was configured to interpret it.
    #[error("phone number {0:?} is not in international format (+ and country code) and no default region is set")]
    NoRegion(String),

    /// The configured default region is not an ISO 3166-1 alpha-2 code the number
    /// database knows (a configuration error rather than a user error).
    #[error("unknown default region {0:?} (expected an ISO 3166-1 code such as US or GB)")]
    UnknownRegion(String),

    /// The number could not be parsed: too short, too long, an unknown country code, or
    /// otherwise not a phone number. The second field is the parser's reason.
    #[error("not a phone number: {0:?} ({1})")]
    Unparsable(String, String),

    /// The number parsed but carries an extension (`;ext=` or similar), which SMS cannot
    /// address.
    #[error("phone number {0:?} has an extension, which SMS cannot reach")]
    Extension(String),

    /// The number parsed but is not a valid (assigned-range) number for its country, for
    /// example `+1 555 0100` with too few digits or a `0` where an area code must start.
    #[error("{0:?} is not a valid phone number for its country")]
    Invalid(String),
}

/// Why a provider request failed. Each variant says whether retrying may help
/// ([`SmsError::is_transient`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmsError {
    /// The provider could not be reached (refused, reset, DNS, TLS).
    #[error("cannot reach {provider}: {reason}")]
    Unreachable {
        /// Which provider.
        provider: &'static str,
        /// Why.
        reason: String,
    },
    /// The provider did not answer within `sms.request_timeout`.
    #[error("{provider} did not answer in time")]
    Timeout {
        /// Which provider.
        provider: &'static str,
    },
    /// The provider answered with an error status. 5xx and 429 are worth retrying;
    /// other 4xx are final (bad number, refused credentials, unsubscribed recipient).
    #[error("{provider} refused the message (HTTP {status}): {reason}")]
    Status {
        /// Which provider.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// The provider's reason (its error code and message where it gives them).
        reason: String,
    },
    /// The bridge's own storage failed before the provider was called.
    #[error("{0}")]
    Store(String),
}

impl SmsError {
    /// True when the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        match self {
            SmsError::Unreachable { .. } | SmsError::Timeout { .. } | SmsError::Store(_) => true,
            SmsError::Status { status, .. } => *status >= 500 || *status == 429,
        }
    }
}

impl From<SmsError> for switchboard_bridge::BridgeError {
    fn from(e: SmsError) -> Self {
        if e.is_transient() {
            switchboard_bridge::BridgeError::Transient(e.to_string())
        } else {
            switchboard_bridge::BridgeError::Rejected(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_retried_client_errors_are_not() {
        let status = |status| SmsError::Status {
            provider: "twilio",
            status,
            reason: "x".into(),
        };
        assert!(status(500).is_transient());
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(401).is_transient());
        assert!(SmsError::Timeout { provider: "kannel" }.is_transient());
        let b: switchboard_bridge::BridgeError = status(400).into();
        assert!(matches!(b, switchboard_bridge::BridgeError::Rejected(_)));
    }
}
