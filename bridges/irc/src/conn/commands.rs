//! What the session asks of a connection, and how each command becomes IRC lines.

use super::io::Throttle;
use super::state::ConnState;
use crate::text::{self, Fallback};
use switchboard_bridge::{BridgeError, GroupListing, TextKind};
use tokio::sync::oneshot;

/// What the session asks of a connection.
#[derive(Debug)]
pub enum Command {
    /// Join (and keep rejoining) a channel.
    Join {
        /// The channel.
        channel: String,
        /// Its key.
        key: Option<String>,
    },
    /// Leave a channel.
    Part {
        /// The channel.
        channel: String,
        /// The reason.
        reason: Option<String>,
    },
    /// Say something; `done` hears when it was written to the socket.
    Say {
        /// Channel or nick.
        target: String,
        /// The text (any length, any number of lines).
        text: String,
        /// Action or normal.
        kind: TextKind,
        /// The core's id of a private message (its 401 fails it).
        txn: Option<switchboard_bridge::TxnId>,
        /// Written (or why not).
        done: oneshot::Sender<Result<(), BridgeError>>,
    },
    /// Set a channel topic.
    Topic {
        /// The channel.
        channel: String,
        /// The topic.
        topic: String,
    },
    /// Raw IRC command lines from the user (to the network JID); `done` hears when written.
    Raw {
        /// The lines.
        text: String,
        /// Written (or why not).
        done: oneshot::Sender<Result<(), BridgeError>>,
    },
    /// The channel list (LIST), once registered.
    List {
        /// Where the list goes.
        done: oneshot::Sender<Vec<GroupListing>>,
    },
    /// Change our nick (network-wide).
    Nick {
        /// The new nick.
        nick: String,
    },
    /// Remove someone from a channel.
    Kick {
        /// The channel.
        channel: String,
        /// Who.
        nick: String,
        /// Why.
        reason: Option<String>,
    },
    /// Report a nick's presence (MONITOR), now and whenever it changes; `done` hears
    /// whether the server will.
    Watch {
        /// Who.
        nick: String,
        /// Watched (or why not).
        done: oneshot::Sender<bool>,
    },
    /// Invite someone to a channel.
    Invite {
        /// The channel.
        channel: String,
        /// Who.
        nick: String,
    },
    /// Set or clear our away (`AWAY :text`, or `AWAY` for back).
    Away {
        /// The away text; `None` for back.
        text: Option<String>,
    },
    /// Read a channel's lines that are not UTF-8 with `fallback` (`None`: the network's).
    Encoding {
        /// The channel, lowercased.
        channel: String,
        /// Its fallback encoding.
        fallback: Option<Fallback>,
    },
    /// Quit the network and end the connection.
    Quit {
        /// The QUIT message.
        reason: String,
    },
}

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
