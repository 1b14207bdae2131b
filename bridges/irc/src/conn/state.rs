//! What one IRC connection knows (nick, channels, server features) and how each line from
//! the server changes it. Pure: lines in, events and replies out; the socket is elsewhere.

use super::members::Members;
use crate::address::{group_id, user_id};
use crate::config::Limits;
use crate::hits::LimitHits;
use crate::ranks::{ChanModes, Prefixes};
use crate::text::{self, Fallback};
use irc_proto::{Command, Message, Prefix};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use switchboard_bridge::{
    BridgeError, GroupListing, IncomingMessage, MembershipChange, Occupant, RemoteEvent,
};
use tokio::sync::oneshot;

/// Capabilities requested when the server offers them.
pub const WANTED_CAPS: &[&str] = &[
    "server-time",
    "echo-message",
    "message-tags",
    "multi-prefix",
    "away-notify",
    "account-notify",
];

/// One channel as this connection sees it.
#[derive(Debug, Default)]
pub struct Channel {
    /// The name as the server spells it.
    pub name: String,
    /// Members by lowercased nick: (nick, ranks held).
    pub members: Members,
    /// The NAMES list is complete and the join was announced.
    pub announced: bool,
    /// Topic and setter.
    pub topic: String,
    /// Who set the topic.
    pub topic_by: Option<String>,
    /// Lines said between our JOIN and the end of the names, held until the join is
    /// announced (the core has no room to show them in before), at most [`HELD_LINES`].
    pub held: Vec<IncomingMessage>,
}

/// Lines held per channel while its join completes; more are dropped (and counted).
pub const HELD_LINES: usize = 64;

impl Channel {
    fn occupants(&self) -> Vec<Occupant> {
        self.members
            .iter()
            .map(|(nick, rank)| Occupant {
                nick: nick.to_string(),
                rank,
            })
            .collect()
    }
}

/// What handling a line asks the connection to do.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Report to the core.
    Emit(RemoteEvent),
    /// Write a line (without CR LF); `urgent` skips flood control (PONG, CAP).
    Send { line: String, urgent: bool },
    /// Registration is complete: join the wanted channels.
    Registered,
    /// The connection cannot go on (every fallback nick in use at registration, refused).
    Fatal(BridgeError),
}

/// The connection's view of the network.
#[derive(Debug)]
pub struct ConnState {
    /// The network's name (for ids).
    pub network: String,
    /// Our nick (as the server last told us).
    pub nick: String,
    /// The nick the user asked for.
    pub wanted_nick: String,
    /// Registered (001 seen).
    pub registered: bool,
    /// Channels joined or being joined, by lowercased name.
    pub channels: HashMap<String, Channel>,
    /// Channels to be in (rejoined after reconnects), lowercased name → key.
    pub wanted: HashMap<String, Option<String>>,
    /// PREFIX from ISUPPORT.
    pub prefixes: Prefixes,
    /// CHANMODES from ISUPPORT.
    pub chanmodes: ChanModes,
    /// CHANTYPES from ISUPPORT.
    pub chantypes: String,
    /// Capabilities acknowledged.
    pub caps: HashSet<String>,
    /// Capabilities offered that we would use (CAP LS may come in several lines).
    offered: Vec<String>,
    /// `CAP LS` lines read so far.
    ls_lines: usize,
    /// The `CAP LS` reply was answered (REQ or END): more LS lines are ignored.
    ls_done: bool,
    /// How non-UTF-8 bytes are read.
    pub fallback: Fallback,
    /// How non-UTF-8 bytes are read in channels that have their own way (the user's
    /// channel `configure`), by lowercased channel.
    pub channel_fallbacks: HashMap<String, Fallback>,
    /// Who waits for the channel list (LIST) in progress.
    pub listing: Vec<oneshot::Sender<Vec<GroupListing>>>,
    /// The channel list so far.
    pub(super) listed: Vec<GroupListing>,
    /// The message of the day so far.
    pub(super) motd: Vec<String>,
    /// SASL PLAIN account and password, when the user set a password.
    pub sasl: Option<(String, String)>,
    /// Bounds on what the server can make this state hold.
    pub limits: Limits,
    /// Channels the connection may be in (the user's `max_channels_per_user`).
    pub max_channels: usize,
    /// Where hits of the bounds are counted.
    pub hits: Arc<LimitHits>,
    /// CTCP answers: on or off, and their bucket.
    pub ctcp: ctcp::CtcpReplies,
    /// Our away text (sent at registration and when it changes); `None` when back.
    pub away: Option<String>,
    /// Fallback nicks tried at this registration (see `nick_fallback`).
    fallbacks: u8,
    /// A NICK taking the wanted nick back is on its way.
    regaining: bool,
    /// Invitations sent and awaiting an answer, and the bucket for those received.
    invites: invites::Invites,
    /// The bucket for server text passed on.
    server_text: server_text::ServerText,
    /// Split quits held back (`irc.netsplit_hold`).
    pub splits: netsplit::Splits,
    /// The gateway's own WHO queries (who is away at join).
    who: who::Who,
    /// Nicks whose presence is watched (MONITOR).
    watched: monitor::Watched,
    /// The last private message to each nick, until echoed or refused (401).
    undelivered: undelivered::Undelivered,
}

impl ConnState {
    /// The fallback for a raw line: its channel's own when the user set one (see
    /// [`text::line_channel`]), the network's otherwise.
    pub fn fallback_for(&self, line: &[u8]) -> Fallback {
        if self.channel_fallbacks.is_empty() {
            return self.fallback;
        }
        text::line_channel(line)
            .and_then(|c| {
                self.channel_fallbacks
                    .get(&String::from_utf8_lossy(c).to_lowercase())
            })
            .copied()
            .unwrap_or(self.fallback)
    }

    /// A fresh state for a connection about to register.
    pub fn new(network: &str, nick: &str, fallback: Fallback) -> Self {
        Self {
            network: network.to_string(),
            nick: nick.to_string(),
            wanted_nick: nick.to_string(),
            registered: false,
            channels: HashMap::new(),
            wanted: HashMap::new(),
            prefixes: Prefixes::default(),
            chanmodes: ChanModes::default(),
            chantypes: "#&".into(),
            caps: HashSet::new(),
            offered: Vec::new(),
            ls_lines: 0,
            ls_done: false,
            fallback,
            channel_fallbacks: HashMap::new(),
            listing: Vec::new(),
            listed: Vec::new(),
            motd: Vec::new(),
            sasl: None,
            limits: Limits::default(),
            max_channels: 100,
            hits: Arc::default(),
            ctcp: ctcp::CtcpReplies::default(),
            away: None,
            fallbacks: 0,
            regaining: false,
            invites: invites::Invites::default(),
            server_text: server_text::ServerText::default(),
            splits: netsplit::Splits::default(),
            who: who::Who::default(),
            watched: monitor::Watched::default(),
            undelivered: undelivered::Undelivered::default(),
        }
    }

    /// The same state with these bounds, counting hits in `hits`.
    pub fn with_limits(
        mut self,
        limits: Limits,
        max_channels: usize,
        hits: Arc<LimitHits>,
    ) -> Self {
        self.limits = limits;
        self.max_channels = max_channels;
        self.hits = hits;
        self
    }

    /// Forgets what a lost connection knew; the wanted channels stay.
    pub fn reset(&mut self) {
        self.registered = false;
        self.channels.clear();
        self.caps.clear();
        self.offered.clear();
        self.ls_lines = 0;
        self.ls_done = false;
        self.motd.clear();
        self.listed.clear();
        self.nick = self.wanted_nick.clone();
        self.fallbacks = 0;
        self.regaining = false;
        self.invites = invites::Invites::default();
        self.forget_splits();
        self.forget_who();
        self.who.whox = false;
        self.watched.limit = 0;
    }

    /// The lines that start registration (`PASS` first, when the user set a server
    /// password).
    pub fn hello(&self, username: &str, realname: &str, pass: Option<&str>) -> Vec<String> {
        let mut lines = Vec::with_capacity(4);
        if let Some(pass) = pass.filter(|p| !p.is_empty()) {
            lines.push(format!("PASS :{}", text::sanitize(pass)));
        }
        lines.extend([
            "CAP LS 302".into(),
            format!("NICK {}", self.nick),
            format!("USER {username} 0 * :{}", text::sanitize(realname)),
        ]);
        lines
    }

    pub(super) fn is_me(&self, nick: &str) -> bool {
        nick.eq_ignore_ascii_case(&self.nick)
    }

    pub(super) fn is_channel(&self, target: &str) -> bool {
        target.starts_with(|c| self.chantypes.contains(c))
    }

    /// Handles one line from the server.
    pub fn handle(&mut self, msg: Message) -> Vec<Action> {
        let nick = match &msg.prefix {
            Some(Prefix::Nickname(n, _, _)) => Some(n.clone()),
            _ => None,
        };
        let server = match &msg.prefix {
            Some(Prefix::ServerName(s)) => Some(s.clone()),
            _ => None,
        };
        let time = msg
            .tags
            .as_ref()
            .and_then(|tags| tags.iter().find(|t| t.0 == "time"))
            .and_then(|t| t.1.as_deref())
            .and_then(crate::time::parse);
        let mut out = Vec::new();
        match msg.command {
            // The token is the server's: a bare CR in it (lines end at LF) must not end
            // our answer early and start a command of the server's choosing.
            Command::PING(a, _) => out.push(Action::Send {
                line: format!("PONG :{}", text::sanitize(&a)),
                urgent: true,
            }),
            Command::CAP(_, sub, a, b) => self.cap(sub, a, b, &mut out),
            Command::AUTHENTICATE(arg) => self.authenticate(&arg, &mut out),
            Command::Response(resp, args) => self.numeric(resp, args, server.as_deref(), &mut out),
            Command::JOIN(chan, _, _) => self.join(nick.as_deref(), &chan, &mut out),
            Command::PART(chan, reason) => self.part(nick.as_deref(), &chan, reason, &mut out),
            Command::QUIT(reason) => self.quit(nick.as_deref(), reason, &mut out),
            Command::KICK(chan, who, reason) => {
                self.kick(nick.as_deref(), &chan, &who, reason, &mut out)
            }
            Command::NICK(new) => self.nick_change(nick.as_deref(), &new, &mut out),
            Command::TOPIC(chan, Some(topic)) => {
                let topic = text::strip_formatting(&topic);
                if let Some(c) = self.channels.get_mut(&chan.to_lowercase()) {
                    c.topic = topic.clone();
                    c.topic_by = nick.clone();
                }
                out.push(Action::Emit(RemoteEvent::Topic {
                    group: group_id(&chan, &self.network),
                    topic,
                    by: nick,
                }));
            }
            Command::PRIVMSG(target, body) if nick.is_some() => {
                self.text(nick, &target, &body, false, time, &mut out)
            }
            Command::NOTICE(target, body) if nick.is_some() => {
                self.text(nick, &target, &body, true, time, &mut out)
            }
            Command::NOTICE(_, body) => self.server_line(server.as_deref(), &body, &mut out),
            Command::ChannelMODE(chan, modes) => self.modes(&chan, modes, &mut out),
            Command::AWAY(message) => self.away(nick.as_deref(), message, &mut out),
            Command::INVITE(target, chan) => {
                self.invited(nick.as_deref(), &target, &chan, &mut out)
            }
            // Numerics irc-proto does not know (354 WHOX, 396, …); the gateway's own WHO
            // replies are taken by `who_reply`.
            Command::Raw(code, args)
                if code.len() == 3
                    && code.bytes().all(|b| b.is_ascii_digit())
                    && !(code == "354" && self.who_reply(&args, &mut out)) =>
            {
                let text = args.get(1..).unwrap_or_default().join(" ");
                self.server_line(server.as_deref(), &text, &mut out);
            }
            _ => {}
        }
        out
    }
}

impl ConnState {
    /// Something the network says to the user, from the network's JID.
    pub(super) fn network_notice(&self, text: &str) -> Action {
        Action::Emit(network_text(&self.network, text::strip_formatting(text)))
    }
}

/// [`RemoteEvent::NetworkText`] from the network `network`.
pub fn network_text(network: &str, text: String) -> RemoteEvent {
    RemoteEvent::NetworkText {
        network: switchboard_bridge::UserId::new(network.to_lowercase()),
        text,
    }
}

pub(super) fn membership(
    chan: &str,
    network: &str,
    nick: &str,
    change: MembershipChange,
) -> Action {
    Action::Emit(RemoteEvent::Membership {
        group: group_id(chan, network),
        user: user_id(nick, network),
        nick: nick.to_string(),
        change,
    })
}

mod bucket;
mod caps;
mod channel_events;
pub mod ctcp;
mod invites;
#[cfg(test)]
mod limit_tests;
mod messages;
mod monitor;
mod netsplit;
mod nick_fallback;
mod numeric;
mod server_text;
#[cfg(test)]
mod tests;
mod undelivered;
mod who;
