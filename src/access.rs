//! Who may use the gateway (`xmpp.allow`) and who may administer it (`xmpp.admins`).

use xmpp_parsers::jid::{BareJid, Jid};

/// The access rules from the configuration.
#[derive(Clone, Debug)]
pub struct Access {
    everyone: bool,
    allow: Vec<BareJid>,
    admins: Vec<BareJid>,
    /// The gateway's own transport domains: a transport may use another (the mail
    /// transport follows an IRC channel through the IRC transport).
    transports: Vec<BareJid>,
}

impl Access {
    /// Rules from the configured lists (already validated by the config checks).
    pub fn new(allow: &[String], admins: &[String]) -> Self {
        let parse = |list: &[String]| {
            list.iter()
                .filter_map(|s| BareJid::new(s).ok())
                .collect::<Vec<_>>()
        };
        Self {
            everyone: allow.iter().any(|a| a == "*"),
            allow: parse(allow),
            admins: parse(admins),
            transports: Vec::new(),
        }
    }

    /// The same rules, also letting in the gateway's own transport domains (exactly those
    /// domains, bare or with a resource; not their contacts, not other hosts under them).
    pub fn with_transports<'a>(mut self, domains: impl IntoIterator<Item = &'a str>) -> Self {
        self.transports = domains
            .into_iter()
            .filter_map(|d| BareJid::new(d).ok())
            .filter(|d| d.node().is_none())
            .collect();
        self
    }

    /// May `who` use the gateway? Its domain, or its bare JID, must be listed.
    pub fn allowed(&self, who: &Jid) -> bool {
        if self.everyone {
            return true;
        }
        let bare = who.to_bare();
        if self.transports.contains(&bare) {
            return true;
        }
        self.allow.iter().any(|entry| match entry.node() {
            None => entry.domain() == bare.domain(),
            Some(_) => *entry == bare,
        })
    }

    /// Is `who` one of the gateway's own transports (its bare domain, any resource)?
    pub fn is_own_transport(&self, who: &Jid) -> bool {
        self.transports.contains(&who.to_bare())
    }

    /// May `who` run admin commands?
    pub fn is_admin(&self, who: &Jid) -> bool {
        let bare = who.to_bare();
        self.admins.contains(&bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn domains_and_bare_jids_are_allowed_others_not() {
        let a = Access::new(&["example.org".into(), "bob@other.org".into()], &[]);
        assert!(a.allowed(&j("alice@example.org/phone")));
        assert!(a.allowed(&j("bob@other.org/x")));
        assert!(!a.allowed(&j("eve@other.org/x")));
        assert!(!a.allowed(&j("alice@sub.example.org")));
        assert!(!a.allowed(&j("example.org.evil.com")));
    }

    #[test]
    fn own_transport_domains_are_allowed_exactly() {
        let a = Access::new(&["example.org".into()], &[])
            .with_transports(["mail.localhost", "irc.localhost"]);
        assert!(a.allowed(&j("mail.localhost")));
        assert!(a.allowed(&j("mail.localhost/digest")));
        assert!(a.allowed(&j("irc.localhost")));
        assert!(!a.allowed(&j("evil.mail.localhost")));
        assert!(!a.allowed(&j("mail.localhost.evil")));
        assert!(!a.allowed(&j("someone@mail.localhost")));
        assert!(!a.allowed(&j("sms.localhost")));
        let without = Access::new(&["example.org".into()], &[]);
        assert!(!without.allowed(&j("mail.localhost")));
        assert!(!a.is_admin(&j("mail.localhost")));
        assert!(a.is_own_transport(&j("irc.localhost/digest")));
        assert!(!a.is_own_transport(&j("bob@irc.localhost")));
    }

    #[test]
    fn star_allows_everyone_and_admins_are_exact() {
        let a = Access::new(&["*".into()], &["admin@example.org".into()]);
        assert!(a.allowed(&j("anyone@anywhere.net")));
        assert!(a.is_admin(&j("admin@example.org/laptop")));
        assert!(!a.is_admin(&j("admin@example.org.evil.com")));
        assert!(!a.is_admin(&j("example.org")));
    }
}
