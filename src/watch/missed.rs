//! Missed messages: users' presence into the gateway-wide book, and every one-to-one
//! message a transport sends checked against it when someone watches the recipient.

use super::{Hub, TransportWatch, Watching};
use crate::xmpp::missed::{self, Seen};
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use switchboard_bridge::{MissedMessage, Observation};
use tokio::sync::mpsc::error::TrySendError;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

impl Hub {
    /// A presence from a user to a transport or one of its contacts (not to a room).
    pub fn user_presence(&self, p: &Presence) {
        let came_online = match missed::seen(p) {
            Some(Seen::Available(who)) => self.book().available(&who).then(|| who.to_bare()),
            Some(Seen::Unavailable(who)) => {
                self.book().unavailable(&who);
                None
            }
            None => None,
        };
        let Some(user) = came_online else { return };
        if self.watched.load(Ordering::Relaxed) == 0 {
            return;
        }
        let watchers = self.watching().get(&user).cloned().unwrap_or_default();
        for w in watchers {
            tracing::debug!(domain = %w.domain, owner = %user, "A watched user came online");
            let owner = w.owner.clone();
            offer(&w, Observation::Online { owner });
        }
    }

    /// A stanza a transport sends: a one-to-one message with text to a watched user who
    /// has no resource online is reported to every transport watching them.
    pub fn sent(&self, stanza: &Stanza) {
        if self.watched.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Stanza::Message(m) = stanza else { return };
        let Some(to_user) = missed::to_user(m) else {
            return;
        };
        let watchers = match self.watching().get(&to_user.to) {
            Some(w) => w.clone(),
            None => return,
        };
        if self.book().is_online(&to_user.to) {
            return;
        }
        let at = SystemTime::now();
        for w in watchers {
            tracing::debug!(domain = %w.domain, owner = %to_user.to, from = %to_user.from, "A watched user missed a message");
            offer(
                &w,
                Observation::Missed(MissedMessage {
                    owner: w.owner.clone(),
                    from: to_user.from.to_string(),
                    sender: to_user.sender.clone(),
                    body: to_user.body.clone(),
                    at,
                }),
            );
        }
    }

    fn register(&self, owner: BareJid, watching: Watching) {
        let mut all = self.watching();
        let list = all.entry(owner).or_default();
        if list.is_empty() {
            self.watched.fetch_add(1, Ordering::Relaxed);
        }
        list.retain(|w| w.domain != watching.domain);
        list.push(watching);
    }

    fn unregister(&self, owner: &BareJid, domain: &str) {
        let mut all = self.watching();
        let Some(list) = all.get_mut(owner) else {
            return;
        };
        list.retain(|w| w.domain != domain);
        if list.is_empty() {
            all.remove(owner);
            self.watched.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Whether any resource of `user` is online, as far as the gateway knows.
    pub fn is_online(&self, user: &BareJid) -> bool {
        self.book().is_online(user)
    }
}

/// Hands an observation to a watching bridge without waiting (the sender is another
/// transport's loop): a full queue loses it with a warning.
fn offer(w: &Watching, seen: Observation) {
    match w.observations.try_send(seen) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            tracing::warn!(domain = %w.domain, "Observation queue full: a missed-message report was dropped")
        }
        Err(TrySendError::Closed(_)) => {
            tracing::debug!(domain = %w.domain, "The watching transport is gone")
        }
    }
}

impl TransportWatch {
    pub(super) fn watch_owner(&self, owner: &str) {
        let Ok(jid) = BareJid::new(owner.trim()) else {
            tracing::warn!(domain = %self.domain, owner, "Not watching an address that is not a JID");
            return;
        };
        self.owners().insert(jid.clone(), owner.to_string());
        self.hub.register(
            jid.clone(),
            Watching {
                domain: self.domain.clone(),
                owner: owner.to_string(),
                observations: self.observations.clone(),
            },
        );
        tracing::info!(domain = %self.domain, owner = %jid, "Watching a user's missed messages");
        // While the link is down, the next connection probes (see `follow_link`).
        if self.link_up() {
            self.send(missed::probe(&self.me, &jid), "probe");
        }
    }

    pub(super) fn unwatch_owner(&self, owner: &str) {
        let Ok(jid) = BareJid::new(owner.trim()) else {
            return;
        };
        if self.owners().remove(&jid).is_some() {
            self.hub.unregister(&jid, &self.domain);
            tracing::info!(domain = %self.domain, owner = %jid, "No longer watching a user");
        }
    }

    /// A presence from a user to this transport or one of its contacts.
    pub fn user_presence(&self, p: &Presence) {
        self.hub.user_presence(p);
    }

    /// A stanza this transport sends to the XMPP server.
    pub fn sent(&self, stanza: &Stanza) {
        self.hub.sent(stanza);
    }
}
