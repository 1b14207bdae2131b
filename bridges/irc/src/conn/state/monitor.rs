//! Contacts' presence: a nick the user's XMPP server asks about (a probe, a directed
//! presence to `nick%net@…`) is watched with MONITOR where the server offers it, within
//! the server's list size; 730 and 731 become the contact's presence. Watched nicks are
//! watched again after a reconnect.

use super::{Action, ConnState};
use crate::address::user_id;
use std::collections::HashSet;
use switchboard_bridge::{Availability, PresenceUpdate, RemoteEvent};

/// Nicks watched per connection at most, whatever the server allows.
pub const MAX_WATCHED: usize = 100;

/// What the connection watches.
#[derive(Debug, Default)]
pub struct Watched {
    /// The server's MONITOR list size (ISUPPORT `MONITOR=n`; 0 without MONITOR).
    pub(super) limit: usize,
    /// Lowercased nicks.
    nicks: HashSet<String>,
}

impl ConnState {
    /// `MONITOR=n` from ISUPPORT.
    pub(super) fn monitor_limit(&mut self, value: Option<&str>) {
        let n = value.and_then(|v| v.parse().ok()).unwrap_or(MAX_WATCHED);
        self.watched.limit = n.min(MAX_WATCHED);
    }

    /// Starts (or refreshes) watching `nick`: the line to send, if the server can watch
    /// and the list has room; the answer (730 or 731) comes even for a nick watched
    /// already.
    pub fn watch(&mut self, nick: &str) -> Option<String> {
        let nick = crate::text::sanitize(nick).replace([' ', ','], "");
        let nick = nick.trim_start_matches(':');
        if nick.is_empty() || !self.can_watch(nick) {
            return None;
        }
        self.watched.nicks.insert(nick.to_lowercase());
        Some(format!("MONITOR + {nick}"))
    }

    /// Whether `nick` is watched or could be.
    pub fn can_watch(&self, nick: &str) -> bool {
        self.registered
            && self.watched.limit > 0
            && (self.watched.nicks.contains(&nick.to_lowercase())
                || self.watched.nicks.len() < self.watched.limit.saturating_sub(1))
    }

    /// After registration (ISUPPORT read): the nicks watched before a reconnect, again.
    pub(super) fn rewatch(&self, out: &mut Vec<Action>) {
        if self.watched.limit == 0 || self.watched.nicks.is_empty() {
            return;
        }
        let mut nicks: Vec<&str> = self.watched.nicks.iter().map(String::as_str).collect();
        nicks.sort_unstable();
        for chunk in nicks.chunks(20) {
            out.push(Action::Send {
                line: format!("MONITOR + {}", chunk.join(",")),
                urgent: false,
            });
        }
    }

    /// 730 (online) or 731 (offline): `nick!user@host,…` for the watched nicks.
    pub(super) fn watched_presence(&self, targets: &str, online: bool, out: &mut Vec<Action>) {
        for target in targets.split(',') {
            let nick = target.split('!').next().unwrap_or_default();
            if nick.is_empty() || !self.watched.nicks.contains(&nick.to_lowercase()) {
                continue;
            }
            out.push(Action::Emit(RemoteEvent::Presence {
                user: user_id(nick, &self.network),
                presence: PresenceUpdate {
                    availability: if online {
                        Availability::Available
                    } else {
                        Availability::Offline
                    },
                    status: None,
                },
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed};
    use super::*;
    use crate::text::Fallback;
    use switchboard_bridge::UserId;

    fn registered(isupport: &str) -> ConnState {
        let mut s = ConnState::new("net", "alice", Fallback::Latin1);
        feed(&mut s, ":irc.test 001 alice :Welcome");
        feed(
            &mut s,
            &format!(":irc.test 005 alice {isupport} :are supported"),
        );
        s
    }

    fn presences(out: Vec<Action>) -> Vec<(UserId, Availability)> {
        events(out)
            .into_iter()
            .filter_map(|e| match e {
                RemoteEvent::Presence { user, presence } => Some((user, presence.availability)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn watched_nicks_get_presence_from_730_and_731() {
        let mut s = registered("MONITOR=30");
        assert_eq!(s.watch("Carol").as_deref(), Some("MONITOR + Carol"));
        assert_eq!(
            presences(feed(&mut s, ":irc.test 730 alice :Carol!c@h")),
            [(UserId::new("Carol%net"), Availability::Available)]
        );
        assert_eq!(
            presences(feed(&mut s, ":irc.test 731 alice :carol,dave")),
            [(UserId::new("carol%net"), Availability::Offline)]
        );
        // A reply about a nick nobody watches says nothing.
        assert!(presences(feed(&mut s, ":irc.test 730 alice :mallory!m@h")).is_empty());
        // A nick that would end or add to the command is one nick.
        assert_eq!(
            s.watch("x,y z\r\nQUIT").as_deref(),
            Some("MONITOR + xyzQUIT")
        );
    }

    #[test]
    fn no_monitor_or_a_full_list_watches_nothing() {
        let mut s = registered("PREFIX=(ov)@+");
        assert_eq!(s.watch("carol"), None);
        let mut s = registered("MONITOR=3");
        assert!(s.watch("a").is_some() && s.watch("b").is_some());
        // One place stays for the nick the connection may want back.
        assert_eq!(s.watch("c"), None);
        assert!(s.watch("a").is_some(), "watched already: refreshed");
        let mut out = Vec::new();
        s.rewatch(&mut out);
        assert_eq!(
            out,
            [Action::Send {
                line: "MONITOR + a,b".into(),
                urgent: false
            }]
        );
    }
}
