//! Session commands turned into IRC lines.

use super::io::Throttle;
use super::state::ConnState;
use super::Command;
use crate::text;
use switchboard_bridge::{BridgeError, TextKind};

/// Turns a session command into lines.
pub(super) fn apply(command: Command, state: &mut ConnState, throttle: &mut Throttle) {
    match command {
        Command::Join { channel, key } => {
            let lower = channel.to_lowercase();
            if let Some(c) = state.channels.get_mut(&lower).filter(|c| c.announced) {
                // Already in: announce again for the new resource.
                c.announced = false;
                throttle.push(format!("NAMES {channel}"));
            } else if state.registered {
                throttle.push(join_line(&channel, key.as_deref()));
            }
            state.wanted.insert(lower, key);
        }
        Command::Part { channel, reason } => {
            state.wanted.remove(&channel.to_lowercase());
            let reason = text::sanitize(reason.as_deref().unwrap_or(""));
            throttle.push(format!("PART {channel} :{reason}"));
        }
        Command::Raw { text: lines, done } => {
            if !state.registered {
                let _ = done.send(Err(BridgeError::Transient(format!(
                    "not connected to {} yet",
                    state.network
                ))));
                return;
            }
            for line in text::lines(&lines) {
                throttle.push(line);
            }
            throttle.notify_when_sent(done);
        }
        Command::List { done } => {
            if state.registered && state.listing.is_empty() {
                throttle.push("LIST".into());
            }
            state.listing.push(done);
        }
        Command::Away { text } => {
            if state.registered && text != state.away {
                throttle.push(away_line(text.as_deref()));
            }
            state.away = text;
        }
        Command::Encoding { channel, fallback } => match fallback {
            Some(f) => {
                state.channel_fallbacks.insert(channel, f);
            }
            None => {
                state.channel_fallbacks.remove(&channel);
            }
        },
        Command::Nick { nick } => {
            let nick = text::sanitize(&nick).replace(' ', "");
            state.wanted_nick = nick.clone();
            throttle.push(format!("NICK {nick}"));
        }
        Command::Kick {
            channel,
            nick,
            reason,
        } => {
            let nick = text::sanitize(&nick).replace(' ', "");
            let reason = text::sanitize(reason.as_deref().unwrap_or(""));
            throttle.push(format!("KICK {channel} {nick} :{reason}"));
        }
        Command::Watch { nick, done } => {
            let line = state.watch(&nick);
            let _ = done.send(line.is_some());
            if let Some(line) = line {
                throttle.push(line);
            }
        }
        Command::Invite { channel, nick } => {
            let nick = text::sanitize(&nick).replace(' ', "");
            let nick = nick.trim_start_matches(':');
            if !nick.is_empty() {
                state.inviting(nick, &channel);
                throttle.push(format!("INVITE {nick} {channel}"));
            }
        }
        Command::Topic { channel, topic } => {
            throttle.push(format!("TOPIC {channel} :{}", text::sanitize(&topic)))
        }
        Command::Say {
            target,
            text: body,
            kind,
            txn,
            done,
        } => {
            if !state.registered {
                let _ = done.send(Err(BridgeError::Transient(format!(
                    "not connected to {} yet",
                    state.network
                ))));
                return;
            }
            // Budget as other clients see our line: ":nick!user@host PRIVMSG target :text\r\n".
            let mut budget =
                text::privmsg_budget(text::estimated_prefix_len(&state.nick), "PRIVMSG", &target);
            if kind == TextKind::Action {
                budget = budget.saturating_sub(text::ACTION_OVERHEAD).max(1);
            }
            for line in text::lines(&body) {
                for piece in text::split_line(&line, budget) {
                    let piece = match kind {
                        TextKind::Action => text::action(&piece),
                        TextKind::Normal | TextKind::Notice => piece,
                    };
                    throttle.push(format!("PRIVMSG {target} :{piece}"));
                }
            }
            if let Some(txn) = txn {
                state.sent_privately(&target, txn);
            }
            throttle.notify_when_sent(done);
        }
        Command::Quit { .. } => {}
    }
}

pub(super) fn join_line(channel: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("JOIN {channel} {}", text::sanitize(key).replace(' ', "")),
        None => format!("JOIN {channel}"),
    }
}

/// `AWAY :text`, or `AWAY` (back) for none; the text on one line.
pub(super) fn away_line(text: Option<&str>) -> String {
    match text {
        Some(t) => format!("AWAY :{}", text::sanitize(t)),
        None => "AWAY".into(),
    }
}
