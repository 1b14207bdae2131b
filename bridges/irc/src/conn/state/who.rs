//! Who is away when the user joins: away-notify tells changes from then on, not who was
//! away before. Where the server offers WHOX and away-notify, a joined channel of at most
//! `irc.limits.who_on_join` members is asked `WHO #chan %tcnf,<token>` once its names are
//! in; each member flagged `G` (gone) is shown away. (The bound: every user's connection in
//! a channel gets a line per member, K² lines for K users of the gateway.) The replies to
//! this WHO (token [`TOKEN`]) are the gateway's, not shown as server text; a WHO the user
//! sends by hand is.

use super::{membership, Action, ConnState};
use std::collections::HashSet;
use switchboard_bridge::MembershipChange;

/// The WHOX query type the gateway's own WHO carries (a user's raw WHO carries another).
pub const TOKEN: &str = "117";

/// What the connection keeps about its own WHO queries.
#[derive(Debug, Default)]
pub struct Who {
    /// The server offers WHOX (ISUPPORT).
    pub(super) whox: bool,
    /// Channels (lowercased) whose WHO is on its way.
    pending: HashSet<String>,
}

impl ConnState {
    /// A channel's join was announced: ask who in it is away, when the server can say.
    pub(super) fn ask_who_is_away(&mut self, chan: &str, out: &mut Vec<Action>) {
        if !self.who.whox || !self.caps.contains("away-notify") {
            return;
        }
        if self.who.pending.len() >= self.max_channels.max(1) {
            return;
        }
        let members = self
            .channels
            .get(&chan.to_lowercase())
            .map_or(0, |c| c.members.len());
        if members > self.limits.who_on_join {
            self.hits.hit(crate::hits::Limit::WhoOnJoin);
            return;
        }
        self.who.pending.insert(chan.to_lowercase());
        out.push(Action::Send {
            line: format!("WHO {chan} %tcnf,{TOKEN}"),
            urgent: false,
        });
    }

    /// 354 `me token channel nick flags`: true when it answers the gateway's WHO (then
    /// taken here), false for anyone else's.
    pub(super) fn who_reply(&mut self, args: &[String], out: &mut Vec<Action>) -> bool {
        let [_, token, chan, nick, flags, ..] = args else {
            return false;
        };
        if token != TOKEN {
            return false;
        }
        let key = chan.to_lowercase();
        if !self.who.pending.contains(&key) || !flags.starts_with('G') {
            return true;
        }
        if let Some(c) = self.channels.get(&key).filter(|c| c.announced) {
            if c.members.contains(nick) && !self.is_me(nick) {
                out.push(membership(
                    &c.name,
                    &self.network,
                    nick,
                    // Away, reason unknown (WHO does not say it): an empty message, as
                    // `None` means back.
                    MembershipChange::Away {
                        message: Some(String::new()),
                    },
                ));
            }
        }
        true
    }

    /// 315 `me mask text`: true when it ends the gateway's WHO of that channel.
    pub(super) fn who_end(&mut self, args: &[String]) -> bool {
        args.get(1)
            .is_some_and(|mask| self.who.pending.remove(&mask.to_lowercase()))
    }

    /// A lost connection asks again after rejoining.
    pub(super) fn forget_who(&mut self) {
        self.who.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed};
    use super::*;
    use crate::text::Fallback;
    use switchboard_bridge::RemoteEvent;

    fn joining(caps: &str, isupport: &str) -> (ConnState, Vec<Action>) {
        let mut s = ConnState::new("net", "alice", Fallback::Latin1);
        feed(&mut s, ":irc.test CAP * LS :away-notify multi-prefix");
        feed(&mut s, &format!(":irc.test CAP * ACK :{caps}"));
        feed(&mut s, ":irc.test 001 alice :Welcome");
        feed(
            &mut s,
            &format!(":irc.test 005 alice {isupport} :are supported"),
        );
        feed(&mut s, ":alice!a@h JOIN #Den");
        feed(&mut s, ":irc.test 353 alice = #Den :alice carol dave");
        let out = feed(&mut s, ":irc.test 366 alice #Den :End");
        (s, out)
    }

    #[test]
    fn a_joined_channel_is_asked_who_is_away_and_the_gone_are_shown_away() {
        let (mut s, out) = joining("away-notify", "WHOX PREFIX=(ov)@+");
        assert!(out.contains(&Action::Send {
            line: "WHO #Den %tcnf,117".into(),
            urgent: false
        }));
        let away = events(feed(&mut s, ":irc.test 354 alice 117 #Den carol G"));
        assert!(
            matches!(&away[..], [RemoteEvent::Membership { nick, change: MembershipChange::Away { message: Some(m) }, .. }] if nick == "carol" && m.is_empty()),
            "{away:?}"
        );
        // Here (H), ourselves, and nicks not in the channel: nothing.
        assert!(feed(&mut s, ":irc.test 354 alice 117 #Den dave H").is_empty());
        assert!(feed(&mut s, ":irc.test 354 alice 117 #Den alice G").is_empty());
        assert!(feed(&mut s, ":irc.test 354 alice 117 #Den mallory G").is_empty());
        // The end is the gateway's, not server text; later replies are not taken as away.
        assert!(feed(&mut s, ":irc.test 315 alice #den :End of /WHO list.").is_empty());
        assert!(feed(&mut s, ":irc.test 354 alice 117 #Den dave G").is_empty());
        // A user's own WHO (another token, or plain WHO) is shown as server text.
        let theirs = events(feed(&mut s, ":irc.test 354 alice 5 #Den dave G"));
        assert!(
            matches!(&theirs[..], [RemoteEvent::NetworkText { .. }]),
            "{theirs:?}"
        );
        let end = events(feed(&mut s, ":irc.test 315 alice #Den :End of /WHO list."));
        assert!(
            matches!(&end[..], [RemoteEvent::NetworkText { .. }]),
            "{end:?}"
        );
    }

    #[test]
    fn a_channel_bigger_than_the_bound_is_not_asked() {
        let mut s = ConnState::new("net", "alice", Fallback::Latin1);
        s.limits.who_on_join = 2;
        feed(&mut s, ":irc.test CAP * LS :away-notify");
        feed(&mut s, ":irc.test CAP * ACK :away-notify");
        feed(&mut s, ":irc.test 001 alice :Welcome");
        feed(&mut s, ":irc.test 005 alice WHOX :are supported");
        feed(&mut s, ":alice!a@h JOIN #big");
        feed(&mut s, ":irc.test 353 alice = #big :alice carol dave");
        let out = feed(&mut s, ":irc.test 366 alice #big :End");
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::Send { line, .. } if line.starts_with("WHO"))));
        assert_eq!(s.hits.get(crate::hits::Limit::WhoOnJoin), 1);
    }

    #[test]
    fn without_whox_or_away_notify_nobody_is_asked() {
        let (_, out) = joining("multi-prefix", "WHOX");
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::Send { line, .. } if line.starts_with("WHO"))));
        let (_, out) = joining("away-notify", "PREFIX=(ov)@+");
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::Send { line, .. } if line.starts_with("WHO"))));
    }
}
