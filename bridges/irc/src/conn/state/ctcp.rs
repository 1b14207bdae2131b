//! Answers to CTCP VERSION, PING and TIME sent to our nick (`irc.ctcp_replies`), within a
//! bucket of [`BURST`] answers refilled one per [`REFILL`]: a flood of requests gets a few
//! answers and the rest are dropped (counted), so nobody can make the gateway flood the
//! server off its own connection. Answers go through flood control like any line.

use super::bucket::Bucket;
use super::{Action, ConnState};
use crate::hits::Limit;
use crate::text;
use std::time::{Duration, Instant, SystemTime};

/// Answers given at once at most.
pub const BURST: u32 = 3;
/// One more answer may follow per this.
pub const REFILL: Duration = Duration::from_secs(2);
/// The longest PING argument echoed.
const MAX_PING: usize = 64;

/// Whether and how often CTCP requests are answered.
#[derive(Debug)]
pub struct CtcpReplies {
    /// Answer at all (`irc.ctcp_replies`).
    pub enabled: bool,
    bucket: Bucket,
}

impl Default for CtcpReplies {
    fn default() -> Self {
        Self {
            enabled: true,
            bucket: Bucket::new(BURST, REFILL),
        }
    }
}

/// The answer to a CTCP request, if it is one we answer.
pub fn answer(command: &str, args: &str, now: SystemTime) -> Option<String> {
    match command.to_ascii_uppercase().as_str() {
        "VERSION" => Some(format!(
            "VERSION Switchboard {} (XMPP gateway)",
            env!("CARGO_PKG_VERSION")
        )),
        "PING" => {
            let mut arg: String = text::sanitize(args)
                .chars()
                .filter(|c| *c != '\x01')
                .collect();
            while arg.len() > MAX_PING {
                arg.pop();
            }
            Some(format!("PING {arg}").trim_end().to_string())
        }
        "TIME" => Some(format!("TIME {}", crate::time::format(now))),
        _ => None,
    }
}

impl ConnState {
    /// A CTCP request from `from` to our nick.
    pub(super) fn ctcp_request(
        &mut self,
        from: &str,
        command: &str,
        args: &str,
        out: &mut Vec<Action>,
    ) {
        if !self.ctcp.enabled {
            return;
        }
        let Some(reply) = answer(command, args, SystemTime::now()) else {
            return;
        };
        if !self.ctcp.bucket.take(Instant::now()) {
            self.hits.hit(Limit::CtcpFlood);
            return;
        }
        // The nick as one middle parameter, whatever a hostile server put in the prefix.
        let to = text::sanitize(from).replace(' ', "");
        let to = to.trim_start_matches(':');
        if to.is_empty() {
            return;
        }
        out.push(Action::Send {
            line: format!("NOTICE {to} :\x01{reply}\x01"),
            urgent: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_version_ping_and_time_only() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(86_400);
        assert!(answer("version", "", t)
            .unwrap()
            .starts_with("VERSION Switchboard "));
        assert_eq!(answer("PING", "12345", t).as_deref(), Some("PING 12345"));
        assert_eq!(answer("PING", "", t).as_deref(), Some("PING"));
        assert_eq!(
            answer("TIME", "", t).as_deref(),
            Some("TIME 1970-01-02T00:00:00Z")
        );
        for other in ["FINGER", "USERINFO", "CLIENTINFO", "DCC", "ACTION"] {
            assert_eq!(answer(other, "x", t), None, "{other}");
        }
        // What a PING echoes cannot end the line or the CTCP, and is bounded.
        let evil = answer("PING", &format!("a\r\nQUIT :x\x01{}", "z".repeat(500)), t).unwrap();
        assert!(!evil.contains(['\r', '\n', '\x01']), "{evil:?}");
        assert!(evil.len() <= "PING ".len() + MAX_PING, "{}", evil.len());
    }
}
