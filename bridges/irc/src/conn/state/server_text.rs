//! What the server says that is not about a channel (its welcome lines, notices, replies to
//! the user's raw commands: WHOIS, WHO, errors), passed on from the network JID as
//! `server: text`, as biboumi shows them; within a bucket, so that a server cannot make
//! the gateway flood the user's client.

use super::bucket::Bucket;
use super::{Action, ConnState};
use crate::hits::Limit;
use irc_proto::Response;
use std::time::{Duration, Instant};

/// Lines passed on at once at most (a welcome is about 15, a WHOIS about 10).
pub const BURST: u32 = 64;
/// One more may follow per this.
pub const REFILL: Duration = Duration::from_millis(100);

/// The bucket for server text.
#[derive(Debug)]
pub struct ServerText(Bucket);

impl Default for ServerText {
    fn default() -> Self {
        Self(Bucket::new(BURST, REFILL))
    }
}

impl ConnState {
    /// A line from the server, `server: text` (just `text` when it gave no name).
    pub(super) fn server_line(&mut self, server: Option<&str>, text: &str, out: &mut Vec<Action>) {
        if text.trim().is_empty() {
            return;
        }
        if !self.server_text.0.take(Instant::now()) {
            self.hits.hit(Limit::ServerText);
            return;
        }
        let line = match server {
            Some(server) => format!("{server}: {text}"),
            None => text.to_string(),
        };
        out.push(self.network_notice(&line));
    }

    /// A numeric the connection has no use for: its parameters after our nick, as a line.
    pub(super) fn other_numeric(
        &mut self,
        resp: Response,
        args: &[String],
        server: Option<&str>,
        out: &mut Vec<Action>,
    ) {
        // What the server supports is for the gateway, not the user.
        if matches!(resp, Response::RPL_MYINFO | Response::RPL_ISUPPORT) {
            return;
        }
        let text = args.get(1..).unwrap_or_default().join(" ");
        self.server_line(server, &text, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, feed, state};
    use super::*;
    use switchboard_bridge::{RemoteEvent, UserId};

    fn texts(out: Vec<Action>) -> Vec<String> {
        events(out)
            .into_iter()
            .filter_map(|e| match e {
                RemoteEvent::NetworkText { network, text } => {
                    assert_eq!(network, UserId::new("net"));
                    Some(text)
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn welcome_lines_notices_and_replies_are_prefixed_with_the_server() {
        let mut s = state();
        assert_eq!(
            texts(feed(
                &mut s,
                ":irc.test 002 alice :Your host is irc.test, running version InspIRCd-3"
            )),
            ["irc.test: Your host is irc.test, running version InspIRCd-3"]
        );
        assert_eq!(
            texts(feed(
                &mut s,
                ":irc.test 265 alice 1 2 :Current local users: 1  Max: 2"
            )),
            ["irc.test: 1 2 Current local users: 1  Max: 2"]
        );
        assert_eq!(
            texts(feed(
                &mut s,
                ":irc.test NOTICE * :*** Looking up your hostname..."
            )),
            ["irc.test: *** Looking up your hostname..."]
        );
        assert_eq!(
            texts(feed(
                &mut s,
                ":irc.test 311 alice carol ~c 127.0.0.1 * :Carol C"
            )),
            ["irc.test: carol ~c 127.0.0.1 * Carol C"]
        );
        // Formatting stripped; what the server supports is not shown.
        assert_eq!(
            texts(feed(&mut s, ":irc.test 372 alice :- \x02bold\x02")),
            Vec::<String>::new()
        );
        assert!(texts(feed(
            &mut s,
            ":irc.test 004 alice irc.test InspIRCd-3 iosw biklmnopstv"
        ))
        .is_empty());
        assert!(texts(feed(
            &mut s,
            ":irc.test 005 alice AWAYLEN=200 :are supported"
        ))
        .is_empty());
        assert_eq!(
            texts(feed(
                &mut s,
                ":irc.test 421 alice FOO :\x0304Unknown\x03 command"
            )),
            ["irc.test: FOO Unknown command"]
        );
    }

    #[test]
    fn a_flood_of_server_text_is_cut_at_the_bucket() {
        let mut s = state();
        let mut passed = 0;
        for i in 0..1000 {
            passed += texts(feed(&mut s, &format!(":irc.test 251 alice :line {i}"))).len();
        }
        assert!(
            (BURST as usize..BURST as usize + 20).contains(&passed),
            "{passed} of 1000 passed"
        );
        assert_eq!(s.hits.get(Limit::ServerText), 1000 - passed as u64);
    }
}
