//! The gateway-wide presence book: which resources of each user are online, as their
//! presence to any of the transports (and the answers to our probes) told us.

use std::collections::{HashMap, HashSet};
use xmpp_parsers::jid::{BareJid, Jid};

/// Online resources by user. A user never seen counts as offline.
#[derive(Debug, Default)]
pub struct PresenceBook {
    online: HashMap<BareJid, HashSet<String>>,
}

impl PresenceBook {
    /// Notes `who` (a full JID, or a bare one) available; true when the user had no
    /// resource online before.
    pub fn available(&mut self, who: &Jid) -> bool {
        let resources = self.online.entry(who.to_bare()).or_default();
        let first = resources.is_empty();
        resources.insert(resource(who));
        first
    }

    /// Notes `who` gone; a bare JID takes every resource of the user with it.
    pub fn unavailable(&mut self, who: &Jid) {
        let bare = who.to_bare();
        let Some(resources) = self.online.get_mut(&bare) else {
            return;
        };
        if who.resource().is_none() {
            resources.clear();
        } else {
            resources.remove(&resource(who));
        }
        if resources.is_empty() {
            self.online.remove(&bare);
        }
    }

    /// Whether any resource of `user` is online.
    pub fn is_online(&self, user: &BareJid) -> bool {
        self.online.contains_key(user)
    }
}

fn resource(who: &Jid) -> String {
    who.resource()
        .map(|r| r.as_str().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn online_while_any_resource_is() {
        let mut book = PresenceBook::default();
        let alice = BareJid::new("alice@localhost").unwrap();
        assert!(!book.is_online(&alice), "never seen is offline");
        assert!(book.available(&j("alice@localhost/phone")));
        assert!(
            !book.available(&j("alice@localhost/laptop")),
            "not the first"
        );
        assert!(!book.available(&j("alice@localhost/phone")), "again");
        book.unavailable(&j("alice@localhost/phone"));
        assert!(book.is_online(&alice));
        book.unavailable(&j("alice@localhost/laptop"));
        assert!(!book.is_online(&alice));
        assert!(book.available(&j("alice@localhost/phone")), "first again");
    }

    #[test]
    fn a_bare_unavailable_clears_every_resource() {
        let mut book = PresenceBook::default();
        let alice = BareJid::new("alice@localhost").unwrap();
        book.available(&j("alice@localhost/phone"));
        book.available(&j("alice@localhost/laptop"));
        book.available(&j("bob@localhost/x"));
        book.unavailable(&j("alice@localhost"));
        assert!(!book.is_online(&alice));
        assert!(book.is_online(&BareJid::new("bob@localhost").unwrap()));
        book.unavailable(&j("carol@localhost/x"));
        assert!(!book.is_online(&BareJid::new("carol@localhost").unwrap()));
    }
}
