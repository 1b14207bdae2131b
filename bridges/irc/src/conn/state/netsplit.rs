//! Netsplit debounce: when two servers of a network lose their link, everyone behind the
//! other one quits at once with the two server names as the reason, and most come back
//! seconds later when the link is made again. Those quits are held back for a while
//! (`irc.netsplit_hold`); a JOIN of the same nick meanwhile cancels the quit for that
//! channel (no leave and no join is shown), and what is still held when the time is up is
//! shown as the leave it was.

use super::{membership, Action, ConnState};
use crate::hits::Limit;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard_bridge::MembershipChange;

/// Nicks held at once, at most; quits past it are shown at once (and counted).
pub const MAX_HELD: usize = 10_000;

/// What a connection holds back.
#[derive(Debug, Default)]
pub struct Splits {
    /// How long a split quit is held; zero turns the debounce off.
    pub hold: Duration,
    /// By lowercased nick.
    held: HashMap<String, Held>,
}

#[derive(Debug)]
struct Held {
    nick: String,
    reason: String,
    at: Instant,
    /// Lowercased channel → the ranks held there.
    channels: HashMap<String, u8>,
}

/// True when a QUIT reason is what servers give for a split: two server names (each with
/// a dot, nothing but host characters) separated by one space.
pub fn is_split_reason(reason: &str) -> bool {
    let host = |h: &str| {
        h.contains('.')
            && !h.starts_with('.')
            && !h.ends_with('.')
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
    };
    match reason.split_once(' ') {
        Some((a, b)) => host(a) && host(b) && a != b,
        None => false,
    }
}

impl ConnState {
    /// A QUIT that looks like a split: held back when the debounce is on and there is
    /// room; true when it was (nothing is shown now).
    pub(super) fn hold_split_quit(&mut self, nick: &str, reason: Option<&str>) -> bool {
        let Some(reason) = reason.filter(|r| is_split_reason(r)) else {
            return false;
        };
        if self.splits.hold.is_zero() {
            return false;
        }
        if self.splits.held.len() >= MAX_HELD {
            self.hits.hit(Limit::NetsplitHeld);
            return false;
        }
        let mut channels = HashMap::new();
        for (key, c) in self.channels.iter_mut() {
            if let Some(ranks) = c.members.take(nick) {
                if c.announced {
                    channels.insert(key.clone(), ranks);
                }
            }
        }
        tracing::debug!(network = %self.network, channels = channels.len(), "Holding back a netsplit quit");
        if !channels.is_empty() {
            self.splits.held.insert(
                nick.to_lowercase(),
                Held {
                    nick: nick.to_string(),
                    reason: reason.to_string(),
                    at: Instant::now(),
                    channels,
                },
            );
        }
        true
    }

    /// A JOIN of someone whose split quit is held for this channel: they are back, with
    /// the ranks they had, and nobody is told. True when it was such a rejoin.
    pub(super) fn split_rejoin(&mut self, nick: &str, chan_key: &str) -> bool {
        let lower = nick.to_lowercase();
        let Some(held) = self.splits.held.get_mut(&lower) else {
            return false;
        };
        let Some(ranks) = held.channels.remove(chan_key) else {
            return false;
        };
        tracing::debug!(network = %self.network, "Back from a netsplit");
        if held.channels.is_empty() {
            self.splits.held.remove(&lower);
        }
        if let Some(c) = self.channels.get_mut(chan_key) {
            c.members.restore(nick, ranks);
        }
        true
    }

    /// The held quits whose time is up at `now`, shown as the leaves they were.
    pub fn expire_splits(&mut self, now: Instant) -> Vec<Action> {
        let hold = self.splits.hold;
        let due: Vec<String> = self
            .splits
            .held
            .iter()
            .filter(|(_, h)| now.saturating_duration_since(h.at) >= hold)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for key in due {
            let Some(held) = self.splits.held.remove(&key) else {
                continue;
            };
            for chan in held.channels.keys() {
                let Some(c) = self.channels.get(chan).filter(|c| c.announced) else {
                    continue;
                };
                out.push(membership(
                    &c.name,
                    &self.network,
                    &held.nick,
                    MembershipChange::Left {
                        reason: Some(held.reason.clone()),
                    },
                ));
            }
        }
        out
    }

    /// Quits held now.
    pub fn held_splits(&self) -> usize {
        self.splits.held.len()
    }

    /// A lost connection forgets what it held (its channels are rejoined afresh).
    pub(super) fn forget_splits(&mut self) {
        self.splits.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed, state};
    use super::*;
    use switchboard_bridge::RemoteEvent;

    fn in_split_channels(hold: Duration) -> ConnState {
        let mut s = state();
        s.splits.hold = hold;
        for chan in ["#a", "#b"] {
            feed(&mut s, &format!(":alice!a@h JOIN {chan}"));
            feed(
                &mut s,
                &format!(":irc.test 353 alice = {chan} :alice @carol dave"),
            );
            feed(&mut s, &format!(":irc.test 366 alice {chan} :End"));
        }
        s
    }

    fn changes(out: Vec<Action>) -> Vec<(String, String, MembershipChange)> {
        events(out)
            .into_iter()
            .filter_map(|e| match e {
                RemoteEvent::Membership {
                    group,
                    nick,
                    change,
                    ..
                } => Some((group.as_str().to_string(), nick, change)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn split_reasons_are_two_server_names() {
        assert!(is_split_reason("irc.test irc2.test"));
        assert!(is_split_reason("hub.libera.chat *.net"));
        for not in [
            "irc.test",
            "Quit: bye",
            "irc.test irc.test",
            "irc.test irc2.test and more",
            "Ping timeout: 120 seconds",
            "a.b c",
            ".x y.z",
            "",
        ] {
            assert!(!is_split_reason(not), "{not:?}");
        }
    }

    #[test]
    fn a_split_quit_and_the_rejoin_show_nothing() {
        let mut s = in_split_channels(Duration::from_secs(60));
        assert!(changes(feed(&mut s, ":carol!c@h QUIT :irc.test irc2.test")).is_empty());
        assert_eq!(s.held_splits(), 1);
        // Back in #a: nothing shown, ranks kept; #b is still held.
        assert!(changes(feed(&mut s, ":carol!c@h JOIN #a")).is_empty());
        let ranks: Vec<_> = s.channels["#a"]
            .members
            .iter()
            .filter(|(n, _)| *n == "carol")
            .map(|(_, r)| r)
            .collect();
        assert_eq!(ranks, [switchboard_bridge::Rank::Operator]);
        assert!(changes(feed(&mut s, ":carol!c@h JOIN #b")).is_empty());
        assert_eq!(s.held_splits(), 0);
        assert!(s
            .expire_splits(Instant::now() + Duration::from_secs(120))
            .is_empty());
        // Someone who was not held joins as before.
        let joined = changes(feed(&mut s, ":erin!e@h JOIN #a"));
        assert!(matches!(&joined[..], [(_, n, MembershipChange::Joined { .. })] if n == "erin"));
    }

    #[test]
    fn a_split_never_healed_shows_the_leave_when_the_hold_is_over() {
        let mut s = in_split_channels(Duration::from_secs(60));
        feed(&mut s, ":carol!c@h QUIT :irc.test irc2.test");
        feed(&mut s, ":carol!c@h JOIN #a");
        assert!(s
            .expire_splits(Instant::now() + Duration::from_secs(30))
            .is_empty());
        let left = changes(s.expire_splits(Instant::now() + Duration::from_secs(61)));
        assert_eq!(
            left,
            [(
                "#b%net".to_string(),
                "carol".to_string(),
                MembershipChange::Left {
                    reason: Some("irc.test irc2.test".into())
                }
            )]
        );
        assert_eq!(s.held_splits(), 0);
    }

    #[test]
    fn ordinary_quits_and_a_debounce_turned_off_show_at_once() {
        let mut s = in_split_channels(Duration::from_secs(60));
        assert_eq!(changes(feed(&mut s, ":dave!d@h QUIT :Quit: bye")).len(), 2);
        let mut off = in_split_channels(Duration::ZERO);
        assert_eq!(
            changes(feed(&mut off, ":carol!c@h QUIT :irc.test irc2.test")).len(),
            2
        );
        assert_eq!(off.held_splits(), 0);
    }
}
