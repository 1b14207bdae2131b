//! A nick in use: at registration the connection takes `nick_` (then `nick__`, up to
//! [`FALLBACKS`] tries) instead of giving up, and takes the asked-for nick back once it is
//! free: told by MONITOR when the server offers it, or by seeing its holder quit or change
//! nick in a shared channel.

use super::{Action, ConnState};
use switchboard_bridge::BridgeError;

/// Nicks tried after the asked-for one at registration before the connection gives up.
pub const FALLBACKS: u8 = 3;

impl ConnState {
    /// 433 (or 432) before 001: the next fallback nick, or the end of the connection.
    pub(super) fn nick_refused_at_registration(
        &mut self,
        erroneous: bool,
        args: &[String],
        out: &mut Vec<Action>,
    ) {
        // An erroneous nick stays erroneous with underscores after it.
        if !erroneous && self.fallbacks < FALLBACKS {
            self.fallbacks += 1;
            self.nick.push('_');
            out.push(Action::Send {
                line: format!("NICK {}", self.nick),
                urgent: true,
            });
            return;
        }
        let reason = args
            .last()
            .cloned()
            .unwrap_or_else(|| "nickname in use".into());
        let tried = if self.fallbacks > 0 {
            format!(
                " (tried {} and {} more with underscores)",
                self.wanted_nick, self.fallbacks
            )
        } else {
            String::new()
        };
        out.push(Action::Fatal(BridgeError::Conflict(format!(
            "{}: {reason}{tried}",
            self.network
        ))));
    }

    /// Registered under a fallback nick: the user hears why, and the server is asked to
    /// tell when the wanted nick is free (once ISUPPORT said it can).
    pub(super) fn on_fallback_nick(&self, out: &mut Vec<Action>) {
        if !self.on_fallback() {
            return;
        }
        out.push(self.network_notice(&format!(
            "{} is in use on {}: connected as {}; it is taken back when it is free",
            self.wanted_nick, self.network, self.nick
        )));
    }

    /// ISUPPORT offered MONITOR: watch the wanted nick while on a fallback.
    pub(super) fn monitor_offered(&self, out: &mut Vec<Action>) {
        if self.on_fallback() {
            out.push(Action::Send {
                line: format!("MONITOR + {}", self.wanted_nick),
                urgent: false,
            });
        }
    }

    /// 731: nicks that went offline; ours among them is taken back.
    pub(super) fn monitor_offline(&mut self, targets: &str, out: &mut Vec<Action>) {
        let freed = targets
            .split(',')
            .map(|t| t.split('!').next().unwrap_or_default())
            .any(|nick| nick.eq_ignore_ascii_case(&self.wanted_nick));
        if freed {
            self.regain(out);
        }
    }

    /// Someone left the wanted nick (QUIT, or NICK to another): take it.
    pub(super) fn nick_freed(&mut self, nick: &str, out: &mut Vec<Action>) {
        if nick.eq_ignore_ascii_case(&self.wanted_nick) {
            self.regain(out);
        }
    }

    /// Our own NICK came back: when it is the wanted one, the watch ends.
    pub(super) fn regained(&mut self, old: &str, out: &mut Vec<Action>) {
        if self.regaining && self.nick.eq_ignore_ascii_case(&self.wanted_nick) {
            self.regaining = false;
            if self.watched.limit > 0 {
                out.push(Action::Send {
                    line: format!("MONITOR - {}", self.wanted_nick),
                    urgent: false,
                });
            }
            out.push(self.network_notice(&format!(
                "{} was free again on {}: you are {} again (no longer {old})",
                self.wanted_nick, self.network, self.nick
            )));
        }
    }

    /// 433 while registered: true when it answers our regain attempt (said to nobody: the
    /// watch goes on), false when it refuses a nick change the user asked for.
    pub(super) fn regain_refused(&mut self, args: &[String]) -> bool {
        let tried = args.get(1).map(String::as_str).unwrap_or_default();
        if self.regaining && tried.eq_ignore_ascii_case(&self.wanted_nick) {
            self.regaining = false;
            return true;
        }
        false
    }

    /// On a fallback nick (the server gave us another than the one asked for).
    pub fn on_fallback(&self) -> bool {
        self.registered && !self.nick.eq_ignore_ascii_case(&self.wanted_nick)
    }

    fn regain(&mut self, out: &mut Vec<Action>) {
        if !self.on_fallback() || self.regaining {
            return;
        }
        self.regaining = true;
        out.push(Action::Send {
            line: format!("NICK {}", self.wanted_nick),
            urgent: false,
        });
    }
}
