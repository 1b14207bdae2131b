//! Mail addresses as the local part of JIDs, and the aliases users register.
//!
//! `bob%example.net@mail.example.org` is bob@example.net: the last `%` separates mailbox
//! and domain (XEP-0106 `bob\40example.net` arrives here already unescaped as
//! `bob@example.net`, and is taken too). Addresses are checked strictly: a dot-atom local
//! part and a host-name domain, no quoting, no comments, no routes, within RFC 5321's
//! lengths, so that what reaches a header or an SMTP command is plain.

use crate::error::AddressError;
use std::fmt;

/// Longest address (RFC 5321 §4.5.3.1.3, path minus the angle brackets).
pub const MAX_ADDRESS: usize = 254;
/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL: usize = 64;
/// Aliases the gateway keeps: mail to them is for whoever runs it (RFC 2142).
pub const RESERVED_ALIASES: &[&str] = &[
    "postmaster",
    "abuse",
    "hostmaster",
    "webmaster",
    "mailer-daemon",
    "noreply",
    "no-reply",
    "root",
    "admin",
    "unsubscribe",
];

/// A checked mail address: local part as given (case kept, as RFC 5321 wants), domain in
/// lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailAddress {
    local: String,
    domain: String,
}

impl MailAddress {
    /// Parses `local@domain`.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        split(input.trim(), '@')
    }

    /// Parses a JID local part: `bob%example.net`, or `bob@example.net` as XEP-0106
    /// unescaping gives it.
    pub fn from_jid_local(local: &str) -> Result<Self, AddressError> {
        if local.contains('@') {
            return Self::parse(local);
        }
        split(local, '%')
    }

    /// The JID local part (before XEP-0106 escaping): `bob%example.net`.
    pub fn jid_local(&self) -> String {
        format!("{}%{}", self.local, self.domain)
    }

    /// The local part.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, in lower case.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for MailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

fn split(input: &str, separator: char) -> Result<MailAddress, AddressError> {
    if input.is_empty() {
        return Err(AddressError::Empty);
    }
    if input.len() > MAX_ADDRESS {
        return Err(AddressError::TooLong(input.chars().count()));
    }
    let Some((local, domain)) = input.rsplit_once(separator) else {
        return Err(AddressError::NoDomain(input.to_string()));
    };
    if !is_dot_atom(local) || local.len() > MAX_LOCAL {
        return Err(AddressError::BadLocalPart(local.to_string()));
    }
    let domain = domain.to_ascii_lowercase();
    if !is_host_name(&domain) {
        return Err(AddressError::BadDomain(domain));
    }
    Ok(MailAddress {
        local: local.to_string(),
        domain,
    })
}

/// RFC 5322 `atext`: letters, digits and ``!#$&'*+-/=?^_`{|}~`` (`%` too: it is atext,
/// but here it separates mailbox and domain, so a local part with `%` is refused).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$&'*+-/=?^_`{|}~".contains(c)
}

/// A dot-atom: atext runs separated by single dots, none at either end.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// A host name with at least two labels: letters, digits and inner hyphens, 63 per label.
fn is_host_name(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

/// Checks an alias a user asks for (`alias@address_domain`) and returns it in lower case.
pub fn check_alias(input: &str) -> Result<String, AddressError> {
    let alias = input.trim().to_ascii_lowercase();
    let ok_chars = alias
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    let ok_ends = !alias.starts_with(['.', '-', '_']) && !alias.ends_with(['.', '-', '_']);
    if !(3..=32).contains(&alias.len()) || !ok_chars || !ok_ends || alias.contains("..") {
        return Err(AddressError::BadAlias(input.to_string()));
    }
    if RESERVED_ALIASES.contains(&alias.as_str()) {
        return Err(AddressError::ReservedAlias(alias));
    }
    Ok(alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jid_locals_map_to_addresses_and_back() {
        let a = MailAddress::from_jid_local("bob%Example.NET").unwrap();
        assert_eq!(a.to_string(), "bob@example.net");
        assert_eq!(a.jid_local(), "bob%example.net");
        // XEP-0106 unescaped form.
        let b = MailAddress::from_jid_local("first.last+tag@sub.example.org").unwrap();
        assert_eq!(b.local(), "first.last+tag");
        assert_eq!(b.domain(), "sub.example.org");
        // The last % separates: a % in the mailbox is refused rather than guessed.
        assert!(matches!(
            MailAddress::from_jid_local("a%b%example.net"),
            Err(AddressError::BadLocalPart(_))
        ));
    }

    #[test]
    fn anything_that_could_inject_or_confuse_is_refused() {
        for bad in [
            "bob\r\nBcc: x@evil.example%example.net",
            "bob%example.net\r\nRCPT TO:<x@evil.example>",
            "\"quoted\"%example.net",
            "bob smith%example.net",
            "bob%exa mple.net",
            ".bob%example.net",
            "bob.%example.net",
            "bo..b%example.net",
            "bob%localhost",
            "bob%[127.0.0.1]",
            "bob%-example.net",
            "bob%example.123",
            "<bob>%example.net",
            "bob(comment)%example.net",
        ] {
            assert!(
                MailAddress::from_jid_local(bad).is_err(),
                "{bad:?} was taken"
            );
        }
        assert_eq!(MailAddress::from_jid_local(""), Err(AddressError::Empty));
        assert!(matches!(
            MailAddress::from_jid_local("bob"),
            Err(AddressError::NoDomain(_))
        ));
        let long = format!("{}%example.net", "a".repeat(65));
        assert!(matches!(
            MailAddress::from_jid_local(&long),
            Err(AddressError::BadLocalPart(_))
        ));
        let huge = format!("a%{}.net", "b".repeat(260));
        assert!(matches!(
            MailAddress::from_jid_local(&huge),
            Err(AddressError::TooLong(_))
        ));
    }

    #[test]
    fn aliases_are_lower_case_bounded_and_not_reserved() {
        assert_eq!(check_alias(" Alice.Smith ").unwrap(), "alice.smith");
        assert_eq!(check_alias("a_b-c9").unwrap(), "a_b-c9");
        for bad in [
            "ab", "a b c", "alice@x", "-alice", "alice.", "al..ice", "ålice",
        ] {
            assert!(check_alias(bad).is_err(), "{bad:?} was taken");
        }
        assert!(check_alias(&"a".repeat(33)).is_err());
        assert_eq!(
            check_alias("Postmaster"),
            Err(AddressError::ReservedAlias("postmaster".into()))
        );
    }
}
