//! Invitations: ours sent as `INVITE` and answered by 341 (done), 401 (no such nick) or
//! 443 (already there); theirs (`INVITE` to our nick) passed on to the user within a
//! bucket, so nobody on IRC can flood the user's XMPP client with them.

use super::bucket::Bucket;
use super::{group_id, Action, ConnState};
use crate::address::user_id;
use crate::hits::Limit;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard_bridge::{BridgeError, RemoteEvent};

/// Invitations passed on at once at most.
pub const BURST: u32 = 3;
/// One more may follow per this.
pub const REFILL: Duration = Duration::from_secs(10);
/// Our invitations awaiting the server's answer, at most.
const PENDING: usize = 16;

/// What the connection keeps about invitations.
#[derive(Debug)]
pub struct Invites {
    /// Ours awaiting an answer: lowercased nick → channel.
    pending: HashMap<String, String>,
    bucket: Bucket,
}

impl Default for Invites {
    fn default() -> Self {
        Self {
            pending: HashMap::new(),
            bucket: Bucket::new(BURST, REFILL),
        }
    }
}

impl ConnState {
    /// We sent `INVITE nick channel`: its refusal (401, 443) is told in the channel.
    pub fn inviting(&mut self, nick: &str, channel: &str) {
        if self.invites.pending.len() >= PENDING {
            self.hits.hit(Limit::InviteFlood);
            self.invites.pending.clear();
        }
        self.invites
            .pending
            .insert(nick.to_lowercase(), channel.to_string());
    }

    /// `:from INVITE our-nick channel`.
    pub(super) fn invited(
        &mut self,
        from: Option<&str>,
        target: &str,
        chan: &str,
        out: &mut Vec<Action>,
    ) {
        let Some(from) = from else { return };
        if !self.is_me(target) || !self.is_channel(chan) || chan.contains([' ', ',', '\x07']) {
            return;
        }
        if !self.invites.bucket.take(Instant::now()) {
            self.hits.hit(Limit::InviteFlood);
            return;
        }
        out.push(Action::Emit(RemoteEvent::Invited {
            group: group_id(chan, &self.network),
            by: user_id(from, &self.network),
            nick: from.to_string(),
        }));
    }

    /// 341 `me nick channel`: done; the user hears it from the network.
    pub(super) fn invite_sent(&mut self, args: &[String], out: &mut Vec<Action>) {
        let (Some(nick), Some(chan)) = (args.get(1), args.get(2)) else {
            return;
        };
        self.invites.pending.remove(&nick.to_lowercase());
        out.push(self.network_notice(&format!("{nick} has been invited to {chan}")));
    }

    /// 401 `me nick text` or 443 `me nick channel text` for one of our invitations: the
    /// refusal, in the channel. False when no invitation of ours is waiting for `nick`.
    pub(super) fn invite_refused(&mut self, args: &[String], out: &mut Vec<Action>) -> bool {
        let Some(nick) = args.get(1) else {
            return false;
        };
        let Some(chan) = self.invites.pending.remove(&nick.to_lowercase()) else {
            return false;
        };
        let text = format!(
            "{}: {nick}: {}",
            self.network,
            args.last().map(String::as_str).unwrap_or_default()
        );
        let error = if args.len() > 3 {
            BridgeError::Rejected(text) // 443: already on the channel
        } else {
            BridgeError::NotFound(text)
        };
        out.push(Action::Emit(RemoteEvent::GroupError {
            group: group_id(&chan, &self.network),
            error,
        }));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed, state};
    use super::*;
    use switchboard_bridge::{GroupId, UserId};

    #[test]
    fn an_invitation_to_us_is_passed_on_within_the_bucket() {
        let mut s = state();
        let out = events(feed(&mut s, ":carol!c@h INVITE alice :#Den"));
        assert_eq!(
            out,
            [RemoteEvent::Invited {
                group: GroupId::new("#den%net"),
                by: UserId::new("carol%net"),
                nick: "carol".into()
            }]
        );
        // To someone else, to a non-channel, or from the server: nothing.
        assert!(feed(&mut s, ":carol!c@h INVITE bob :#den").is_empty());
        assert!(feed(&mut s, ":carol!c@h INVITE alice :den").is_empty());
        assert!(feed(&mut s, ":irc.test INVITE alice :#den").is_empty());
        // A flood: two more pass (the burst is 3), the rest are dropped and counted.
        for _ in 0..10 {
            feed(&mut s, ":carol!c@h INVITE alice :#den");
        }
        assert_eq!(s.hits.get(Limit::InviteFlood), 8);
    }

    #[test]
    fn our_invitation_is_confirmed_or_refused_in_its_channel() {
        let mut s = state();
        s.inviting("Bob", "#den");
        let out = events(feed(&mut s, ":irc.test 341 alice Bob #den"));
        let [RemoteEvent::NetworkText { text, .. }] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(text, "Bob has been invited to #den");

        s.inviting("nobody", "#den");
        let out = events(feed(&mut s, ":irc.test 401 alice nobody :No such nick"));
        assert_eq!(
            out,
            [RemoteEvent::GroupError {
                group: GroupId::new("#den%net"),
                error: BridgeError::NotFound("net: nobody: No such nick".into())
            }]
        );
        s.inviting("carol", "#den");
        let out = events(feed(
            &mut s,
            ":irc.test 443 alice carol #den :is already on channel",
        ));
        assert!(
            matches!(
                &out[..],
                [RemoteEvent::GroupError {
                    error: BridgeError::Rejected(_),
                    ..
                }]
            ),
            "{out:?}"
        );
        // A 401 for no invitation of ours (a message to a gone nick) is not an invite error.
        let out = events(feed(&mut s, ":irc.test 401 alice ghost :No such nick"));
        assert!(!out
            .iter()
            .any(|e| matches!(e, RemoteEvent::GroupError { .. })));
    }
}
