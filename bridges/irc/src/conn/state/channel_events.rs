//! Channel membership lines: JOIN, PART, QUIT, KICK, NICK and MODE.

use super::{group_id, membership, Action, Channel, ConnState};
use crate::hits::Limit;
use switchboard_bridge::{LeaveReason, MembershipChange, Rank, RemoteEvent};

impl ConnState {
    pub(super) fn join(&mut self, nick: Option<&str>, chan: &str, out: &mut Vec<Action>) {
        let Some(nick) = nick else { return };
        let key = chan.to_lowercase();
        if self.is_me(nick) {
            if !self.channels.contains_key(&key) && !self.wanted.contains_key(&key) {
                // The server put us in a channel nobody asked for: kept up to a bound.
                let forced = self
                    .channels
                    .keys()
                    .filter(|k| !self.wanted.contains_key(*k))
                    .count();
                if forced >= self.limits.forced_joins || self.channels.len() >= self.max_channels {
                    self.hits.hit(Limit::ForcedJoin);
                    tracing::info!(network = %self.network, forced, "Leaving a channel the server joined us to unasked");
                    out.push(Action::Send {
                        line: format!("PART {chan} :not asked for"),
                        urgent: false,
                    });
                    return;
                }
            }
            self.channels.insert(
                key,
                Channel {
                    name: chan.to_string(),
                    ..Channel::default()
                },
            );
            return;
        }
        if self.split_rejoin(nick, &key) {
            return; // back from a netsplit: they never left as far as the room knows
        }
        let network = self.network.clone();
        let cap = self.limits.members_per_channel;
        if let Some(c) = self.channels.get_mut(&key) {
            if c.members.len() >= cap && !c.members.contains(nick) {
                self.hits.hit(Limit::Members);
                return;
            }
            c.members.insert(nick, []);
            if c.announced {
                out.push(membership(
                    &c.name,
                    &network,
                    nick,
                    MembershipChange::Joined {
                        rank: Rank::Regular,
                    },
                ));
            }
        }
    }

    pub(super) fn part(
        &mut self,
        nick: Option<&str>,
        chan: &str,
        reason: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let Some(nick) = nick else { return };
        let key = chan.to_lowercase();
        if self.is_me(nick) {
            self.channels.remove(&key);
            self.wanted.remove(&key);
            out.push(Action::Emit(RemoteEvent::GroupLeft {
                group: group_id(chan, &self.network),
                reason: LeaveReason::Left,
            }));
            return;
        }
        let network = self.network.clone();
        if let Some(c) = self.channels.get_mut(&key) {
            if c.members.remove(nick) && c.announced {
                out.push(membership(
                    &c.name,
                    &network,
                    nick,
                    MembershipChange::Left { reason },
                ));
            }
        }
    }

    pub(super) fn quit(
        &mut self,
        nick: Option<&str>,
        reason: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let Some(nick) = nick else { return };
        if !self.hold_split_quit(nick, reason.as_deref()) {
            let network = self.network.clone();
            for c in self.channels.values_mut() {
                if c.members.remove(nick) && c.announced {
                    out.push(membership(
                        &c.name,
                        &network,
                        nick,
                        MembershipChange::Left {
                            reason: reason.clone(),
                        },
                    ));
                }
            }
        }
        self.nick_freed(nick, out);
    }

    pub(super) fn kick(
        &mut self,
        by: Option<&str>,
        chan: &str,
        who: &str,
        reason: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let key = chan.to_lowercase();
        let by = by.map(str::to_string);
        if self.is_me(who) {
            self.channels.remove(&key);
            self.wanted.remove(&key);
            out.push(Action::Emit(RemoteEvent::GroupLeft {
                group: group_id(chan, &self.network),
                reason: LeaveReason::Kicked { by, reason },
            }));
            return;
        }
        let network = self.network.clone();
        if let Some(c) = self.channels.get_mut(&key) {
            if c.members.remove(who) && c.announced {
                out.push(membership(
                    &c.name,
                    &network,
                    who,
                    MembershipChange::Kicked { by, reason },
                ));
            }
        }
    }

    pub(super) fn nick_change(&mut self, old: Option<&str>, new: &str, out: &mut Vec<Action>) {
        let Some(old) = old else { return };
        if self.is_me(old) {
            self.nick = new.to_string();
            self.wanted_nick = new.to_string();
            self.regained(old, out);
        } else {
            self.nick_freed(old, out);
        }
        let network = self.network.clone();
        for c in self.channels.values_mut() {
            if c.members.rename(old, new) && c.announced {
                out.push(membership(
                    &c.name,
                    &network,
                    old,
                    MembershipChange::NickChanged {
                        new_nick: new.to_string(),
                    },
                ));
            }
        }
    }

    pub(super) fn modes(
        &mut self,
        chan: &str,
        modes: Vec<irc_proto::Mode<irc_proto::ChannelMode>>,
        out: &mut Vec<Action>,
    ) {
        let network = self.network.clone();
        let Some(c) = self.channels.get_mut(&chan.to_lowercase()) else {
            return;
        };
        for m in modes {
            let (adding, mode, arg) = match m {
                irc_proto::Mode::Plus(mode, arg) => (true, mode, arg),
                irc_proto::Mode::Minus(mode, arg) => (false, mode, arg),
                irc_proto::Mode::NoPrefix(_) => continue,
            };
            let letter = mode.to_string().chars().last().unwrap_or(' ');
            let (Some(rank), Some(target)) = (self.prefixes.mode_rank(letter), arg) else {
                continue;
            };
            if let Some((nick, rank)) = c.members.set_rank(&target, rank, adding) {
                out.push(membership(
                    &c.name,
                    &network,
                    &nick,
                    MembershipChange::RankChanged { rank },
                ));
            }
        }
    }

    /// away-notify: someone went away or came back; told in every channel they share.
    pub(super) fn away(
        &mut self,
        nick: Option<&str>,
        message: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let Some(nick) = nick else { return };
        let network = self.network.clone();
        let message = message.map(|m| crate::text::strip_formatting(&m));
        for c in self
            .channels
            .values()
            .filter(|c| c.announced && c.members.contains(nick))
        {
            out.push(membership(
                &c.name,
                &network,
                nick,
                MembershipChange::Away {
                    message: message.clone(),
                },
            ));
        }
    }
}
