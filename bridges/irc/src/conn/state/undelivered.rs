//! A private message to a nick that is not there: IRC answers 401 (no such nick), with
//! nothing that names the message, after the line was written and counted as sent. The
//! last message to each nick is remembered (bounded), so that the 401 comes back to the
//! user as that message's delivery failure rather than as server text. An echo of our own
//! line (echo-message) says it was delivered and forgets it.

use super::{Action, ConnState};
use crate::address::user_id;
use std::collections::HashMap;
use switchboard_bridge::{Chat, RemoteEvent, TxnId};

/// Nicks whose last private message is remembered, at most; past it the oldest are
/// forgotten (their 401 is then shown as server text only).
pub const MAX_PENDING: usize = 64;

/// The last private message to each nick, until answered.
#[derive(Debug, Default)]
pub struct Undelivered {
    /// Lowercased nick → (the message, when it was remembered: a counter).
    pending: HashMap<String, (TxnId, u64)>,
    counter: u64,
}

impl ConnState {
    /// A private message to `nick` was written.
    pub fn sent_privately(&mut self, nick: &str, txn: TxnId) {
        let u = &mut self.undelivered;
        if u.pending.len() >= MAX_PENDING {
            if let Some(oldest) = u
                .pending
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
            {
                u.pending.remove(&oldest);
            }
        }
        u.counter += 1;
        u.pending.insert(nick.to_lowercase(), (txn, u.counter));
    }

    /// Our own private line came back (echo-message): it reached the nick.
    pub(super) fn echoed_privately(&mut self, nick: &str) {
        self.undelivered.pending.remove(&nick.to_lowercase());
    }

    /// 401 `me nick text`: the last message to `nick` failed. False when none is waiting.
    pub(super) fn no_such_nick(&mut self, args: &[String], out: &mut Vec<Action>) -> bool {
        let Some(nick) = args.get(1) else {
            return false;
        };
        let Some((txn, _)) = self.undelivered.pending.remove(&nick.to_lowercase()) else {
            return false;
        };
        out.push(Action::Emit(RemoteEvent::DeliveryFailed {
            chat: Chat::Direct(user_id(nick, &self.network)),
            txn,
            reason: format!(
                "{}: {nick}: {}",
                self.network,
                args.last().map(String::as_str).unwrap_or("no such nick")
            ),
        }));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed, state};
    use super::*;
    use switchboard_bridge::UserId;

    #[test]
    fn a_401_fails_the_last_private_message_to_that_nick() {
        let mut s = state();
        s.sent_privately("Ghost", TxnId::new("t1"));
        s.sent_privately("Ghost", TxnId::new("t2"));
        let out = events(feed(
            &mut s,
            ":irc.test 401 alice ghost :No such nick/channel",
        ));
        assert_eq!(
            out,
            [RemoteEvent::DeliveryFailed {
                chat: Chat::Direct(UserId::new("ghost%net")),
                txn: TxnId::new("t2"),
                reason: "net: ghost: No such nick/channel".into()
            }]
        );
        // Answered once; a second 401 is server text.
        let again = events(feed(
            &mut s,
            ":irc.test 401 alice ghost :No such nick/channel",
        ));
        assert!(
            matches!(&again[..], [RemoteEvent::NetworkText { .. }]),
            "{again:?}"
        );
    }

    #[test]
    fn an_echo_means_delivered_and_the_memory_is_bounded() {
        let mut s = state();
        s.sent_privately("carol", TxnId::new("t1"));
        feed(&mut s, ":alice!a@h PRIVMSG carol :hi");
        let out = events(feed(&mut s, ":irc.test 401 alice carol :No such nick"));
        assert!(!out
            .iter()
            .any(|e| matches!(e, RemoteEvent::DeliveryFailed { .. })));
        for i in 0..(MAX_PENDING + 5) {
            s.sent_privately(&format!("n{i}"), TxnId::new(format!("t{i}")));
        }
        assert_eq!(s.undelivered.pending.len(), MAX_PENDING);
        assert!(
            !s.undelivered.pending.contains_key("n0"),
            "the oldest went first"
        );
    }
}
