//! Numeric replies: registration, server features, names, topics and refusals.

use super::{group_id, Action, ConnState};
use crate::hits::Limit;
use crate::ranks::{ChanModes, Prefixes};
use crate::text;
use irc_proto::Response;
use switchboard_bridge::{BridgeError, GroupListing, GroupSnapshot, RemoteEvent, SessionState};

/// The server's own text of a numeric (its last parameter), tagged with the network.
fn server_text(args: &[String], network: &str) -> String {
    format!(
        "{} ({network})",
        args.last().map(String::as_str).unwrap_or_default()
    )
}

/// Channels kept from one LIST reply.
const MAX_LISTED: usize = 20_000;
/// Bytes kept of one MOTD line.
const MAX_MOTD_LINE: usize = 512;

impl ConnState {
    pub(super) fn numeric(
        &mut self,
        resp: Response,
        args: Vec<String>,
        server: Option<&str>,
        out: &mut Vec<Action>,
    ) {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        match resp {
            Response::RPL_WELCOME => {
                self.registered = true;
                self.nick = arg(0);
                out.push(Action::Registered);
                self.on_fallback_nick(out);
            }
            Response::RPL_ISUPPORT => {
                for token in args.iter().skip(1) {
                    if let Some(v) = token.strip_prefix("PREFIX=") {
                        self.prefixes = Prefixes::parse(v).unwrap_or_default();
                    } else if let Some(v) = token.strip_prefix("CHANMODES=") {
                        self.chanmodes = ChanModes::parse(v).unwrap_or_default();
                    } else if let Some(v) = token.strip_prefix("CHANTYPES=") {
                        self.chantypes = v.to_string();
                    } else if token == "WHOX" {
                        self.who.whox = true;
                    } else if token == "MONITOR" || token.starts_with("MONITOR=") {
                        // The first ISUPPORT line naming MONITOR starts the watches.
                        let first = self.watched.limit == 0;
                        self.monitor_limit(token.strip_prefix("MONITOR="));
                        if first {
                            self.monitor_offered(out);
                            self.rewatch(out);
                        }
                    }
                }
            }
            Response::RPL_MONOFFLINE => {
                self.watched_presence(&arg(1), false, out);
                self.monitor_offline(&arg(1), out);
            }
            Response::RPL_MONONLINE => self.watched_presence(&arg(1), true, out),
            // 734 (list full): what was asked is simply not watched.
            Response::ERR_MONLISTFULL => {}
            Response::RPL_INVITING => self.invite_sent(&args, out),
            Response::RPL_ENDOFWHO if self.who_end(&args) => {}
            Response::ERR_NOSUCHNICK | Response::ERR_USERONCHANNEL
                if self.invite_refused(&args, out) => {}
            Response::ERR_NOSUCHNICK if self.no_such_nick(&args, out) => {}
            Response::RPL_SASLSUCCESS => out.push(Action::Send {
                line: "CAP END".into(),
                urgent: true,
            }),
            Response::ERR_SASLFAIL | Response::ERR_SASLTOOLONG | Response::ERR_SASLABORT => {
                out.push(Action::Emit(RemoteEvent::State(
                    SessionState::BadCredentials {
                        reason: format!(
                            "{}: {}",
                            self.network,
                            args.last().cloned().unwrap_or_default()
                        ),
                    },
                )));
                out.push(Action::Send {
                    line: "CAP END".into(),
                    urgent: true,
                });
            }
            // A network's list is foreign input: keep at most MAX_LISTED channels of it.
            Response::RPL_LIST if self.listed.len() >= MAX_LISTED => self.hits.hit(Limit::List),
            Response::RPL_LIST => {
                let name = arg(1);
                self.listed.push(GroupListing {
                    group: group_id(&name, &self.network),
                    members: arg(2).parse().ok(),
                    topic: text::strip_formatting(&arg(3)),
                    name,
                });
            }
            Response::RPL_LISTEND => {
                let listed = std::mem::take(&mut self.listed);
                for waiter in self.listing.drain(..) {
                    let _ = waiter.send(listed.clone());
                }
            }
            Response::RPL_MOTDSTART | Response::ERR_NOMOTD => self.motd.clear(),
            // Kept until 376, so bounded: a server may never send it.
            Response::RPL_MOTD if self.motd.len() >= self.limits.motd_lines => {
                self.hits.hit(Limit::Motd);
            }
            Response::RPL_MOTD => {
                let line = arg(1);
                let line = line.strip_prefix("- ").unwrap_or(&line);
                self.motd
                    .push(text::truncate(line, MAX_MOTD_LINE).to_string());
            }
            Response::RPL_ENDOFMOTD => {
                let motd = std::mem::take(&mut self.motd).join("\n");
                if !motd.is_empty() {
                    out.push(self.network_notice(&motd));
                }
            }
            Response::RPL_TOPIC => {
                if let Some(c) = self.channels.get_mut(&arg(1).to_lowercase()) {
                    c.topic = text::strip_formatting(&arg(2));
                }
            }
            Response::RPL_TOPICWHOTIME => {
                if let Some(c) = self.channels.get_mut(&arg(1).to_lowercase()) {
                    c.topic_by = Some(arg(2).split('!').next().unwrap_or_default().to_string());
                }
            }
            Response::RPL_NAMREPLY => {
                let prefixes = &self.prefixes;
                let cap = self.limits.members_per_channel;
                if let Some(c) = self.channels.get_mut(&arg(2).to_lowercase()) {
                    for entry in arg(3).split_whitespace() {
                        let (ranks, nick) = prefixes.split_names_entry(entry);
                        if nick.is_empty() {
                            continue;
                        }
                        if c.members.len() >= cap && !c.members.contains(nick) {
                            self.hits.hit(Limit::Members);
                            continue;
                        }
                        c.members.insert(nick, ranks);
                    }
                }
            }
            Response::RPL_ENDOFNAMES => {
                let key = arg(1).to_lowercase();
                let network = self.network.clone();
                let nick = self.nick.clone();
                let changed = !nick.eq_ignore_ascii_case(&self.wanted_nick);
                let mut announced = None;
                if let Some(c) = self.channels.get_mut(&key).filter(|c| !c.announced) {
                    c.announced = true;
                    announced = Some(c.name.clone());
                    out.push(Action::Emit(RemoteEvent::GroupJoined(GroupSnapshot {
                        group: group_id(&c.name, &network),
                        nick,
                        nick_changed: changed,
                        occupants: c.occupants(),
                        topic: c.topic.clone(),
                        topic_by: c.topic_by.clone(),
                    })));
                    // What was said while the names came, now that the room exists.
                    out.extend(
                        c.held
                            .drain(..)
                            .map(|m| Action::Emit(RemoteEvent::Message(m))),
                    );
                }
                if let Some(name) = announced {
                    self.ask_who_is_away(&name, out);
                }
            }
            Response::ERR_NICKNAMEINUSE if self.registered && self.regain_refused(&args) => {}
            Response::ERR_NICKNAMEINUSE | Response::ERR_ERRONEOUSNICKNAME if self.registered => {
                // A nick change was refused: every room hears it; the nick stays.
                self.wanted_nick = self.nick.clone();
                let text = server_text(&args, &self.network);
                for c in self.channels.values() {
                    out.push(Action::Emit(RemoteEvent::GroupError {
                        group: group_id(&c.name, &self.network),
                        error: BridgeError::Conflict(text.clone()),
                    }));
                }
            }
            Response::ERR_NICKNAMEINUSE | Response::ERR_ERRONEOUSNICKNAME if !self.registered => {
                let erroneous = resp == Response::ERR_ERRONEOUSNICKNAME;
                self.nick_refused_at_registration(erroneous, &args, out);
            }
            Response::ERR_CHANNELISFULL
            | Response::ERR_INVITEONLYCHAN
            | Response::ERR_BANNEDFROMCHAN
            | Response::ERR_BADCHANNELKEY
            | Response::ERR_NOSUCHCHANNEL
            | Response::ERR_TOOMANYCHANNELS => {
                let chan = arg(1);
                let text = server_text(&args, &self.network);
                let error = match resp {
                    Response::ERR_CHANNELISFULL => BridgeError::Full(text),
                    Response::ERR_INVITEONLYCHAN => BridgeError::InviteOnly(text),
                    Response::ERR_BANNEDFROMCHAN => BridgeError::Banned(text),
                    Response::ERR_BADCHANNELKEY => BridgeError::Auth(text),
                    Response::ERR_TOOMANYCHANNELS => BridgeError::LimitReached(text),
                    _ => BridgeError::NotFound(text),
                };
                let key = chan.to_lowercase();
                let pending = self.wanted.remove(&key).is_some();
                let unannounced = self.channels.remove(&key).is_some_and(|c| !c.announced);
                if pending || unannounced {
                    out.push(Action::Emit(RemoteEvent::GroupJoinFailed {
                        group: group_id(&chan, &self.network),
                        error,
                    }));
                }
            }
            Response::ERR_CHANOPRIVSNEEDED
            | Response::ERR_CANNOTSENDTOCHAN
            | Response::ERR_NOTONCHANNEL => {
                let chan = arg(1);
                let text = server_text(&args, &self.network);
                let error = match resp {
                    Response::ERR_NOTONCHANNEL => BridgeError::NotFound(text),
                    _ => BridgeError::Forbidden(text),
                };
                out.push(Action::Emit(RemoteEvent::GroupError {
                    group: group_id(&chan, &self.network),
                    error,
                }));
            }
            _ => self.other_numeric(resp, &args, server, out),
        }
    }
}
