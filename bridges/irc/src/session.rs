//! One user's IRC presence: a connection per network, opened on first use.

mod handle;
mod info;
mod network_settings;
mod raw;

pub use handle::Handle;
pub use info::CONNECTION_INFO;

use crate::address::Address;
use crate::config::IrcConfig;
use crate::conn::{self, Command, Identity};
use crate::hits::{Limit, LimitHits};
use crate::nick::valid_nick;
use crate::text::Fallback;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_bridge::{
    Availability, BridgeError, CancellationToken, Chat, EventSink, FormValues, GroupId,
    GroupListing, JoinRequest, LoginData, OutgoingMessage, PresenceUpdate, Sent, Session,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// The channels of one connection, lowercased; shared with its task, which drops the ones
/// the network refused or removed us from.
pub type Channels = Arc<Mutex<HashSet<String>>>;

/// Connections per network, over all users (shared by every session of the bridge).
pub type NetworkCounts = Arc<Mutex<HashMap<String, usize>>>;

struct Conn {
    tx: mpsc::Sender<Command>,
    /// Channels the user is in (or joining) on this network, lowercased.
    channels: Channels,
    /// Registered since when, where.
    status: conn::Status,
    /// Bumped on every join; a pending quit only goes ahead if it did not change.
    generation: u64,
}

/// The IRC session of one user.
pub struct IrcSession {
    config: Arc<IrcConfig>,
    identity: Identity,
    events: EventSink,
    conns: Mutex<HashMap<String, Conn>>,
    /// Per-network settings from the `configure` command, by network name.
    settings: Mutex<HashMap<String, FormValues>>,
    /// Per-channel fallback encodings from the channel's `configure` command (field
    /// `encoding_in`), by network key, then lowercased channel.
    encodings: Mutex<HashMap<String, HashMap<String, Fallback>>>,
    /// The user's away text (XMPP away, xa or dnd, and their status), `None` when available.
    away: Mutex<Option<String>>,
    counts: NetworkCounts,
    hits: Arc<LimitHits>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// The key of a network in a session's maps: names match ignoring case (XMPP servers
/// lowercase JID local parts; the configuration may not).
fn key(network: &str) -> String {
    network.to_lowercase()
}

impl IrcSession {
    /// Channels the user is in (or joining), over all networks.
    fn channel_total(&self) -> usize {
        let conns = self.conns.lock().expect("conns poisoned");
        conns
            .values()
            .map(|c| c.channels.lock().expect("channels poisoned").len())
            .sum()
    }

    /// A session with no connection yet.
    pub fn new(
        config: Arc<IrcConfig>,
        data: &LoginData,
        events: EventSink,
        counts: NetworkCounts,
        hits: Arc<LimitHits>,
    ) -> Self {
        let nick = data
            .get("nick")
            .or(data.get("display_name"))
            .map(|n| valid_nick(n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "switchboard".into());
        Self {
            identity: Identity {
                username: data
                    .get("username")
                    .cloned()
                    .unwrap_or_else(|| "switchboard".into()),
                sasl_password: None,
                nickserv_password: None,
                channel_fallbacks: HashMap::new(),
                away: None,
                server_password: None,
                after_connect: Vec::new(),
                fallback: None,
                realname: data
                    .get("realname")
                    .cloned()
                    .unwrap_or_else(|| "Switchboard user".into()),
                nick,
            },
            config,
            events,
            conns: Mutex::new(HashMap::new()),
            settings: Mutex::new(HashMap::new()),
            encodings: Mutex::new(HashMap::new()),
            away: Mutex::new(None),
            counts,
            hits,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// The command channel to `network`, opening the connection (as `nick`) if needed.
    fn connection(
        self: &Arc<Self>,
        network: &str,
        nick: &str,
    ) -> Result<mpsc::Sender<Command>, BridgeError> {
        let net = self.config.network(network).ok_or_else(|| {
            BridgeError::NotAllowed(format!(
                "the IRC network '{network}' is not served by this gateway"
            ))
        })?;
        let mut conns = self.conns.lock().expect("conns poisoned");
        if let Some(c) = conns.get(&key(&net.name)).filter(|c| !c.tx.is_closed()) {
            return Ok(c.tx.clone());
        }
        {
            let mut counts = self.counts.lock().expect("counts poisoned");
            let n = counts.entry(net.name.clone()).or_default();
            if *n >= self.config.max_connections_per_network {
                return Err(BridgeError::LimitReached(format!(
                    "the gateway already has {n} connections to {}",
                    net.name
                )));
            }
            *n += 1;
        }
        let (tx, rx) = mpsc::channel(self.config.limits.command_queue.max(1));
        let mut who = self.identity.clone();
        who.nick = crate::text::sanitize(nick).replace(' ', "");
        if let Some(set) = self
            .settings
            .lock()
            .expect("settings poisoned")
            .get(&net.name)
        {
            let value = |k: &str| set.get(k).filter(|v| !v.is_empty()).cloned();
            if let Some(n) = value("nick") {
                who.nick = n;
            }
            who.username = value("username").unwrap_or(who.username);
            who.realname = value("realname").unwrap_or(who.realname);
            who.sasl_password = value("sasl_password");
            who.nickserv_password = value("nickserv_password");
            who.server_password = value("pass");
            // Checked when configured; a value stored by an older version that no longer
            // passes is dropped rather than sent.
            who.after_connect = network_settings::after_connect(set).unwrap_or_default();
            who.fallback = network_settings::encoding(set).ok().flatten();
        }
        who.away = self.away.lock().expect("away poisoned").clone();
        who.channel_fallbacks = self
            .encodings
            .lock()
            .expect("encodings poisoned")
            .get(&key(&net.name))
            .cloned()
            .unwrap_or_default();
        let counts = self.counts.clone();
        let name = net.name.clone();
        let conn_key = key(&net.name);
        let channels = Channels::default();
        let status = conn::Status::default();
        let task = conn::run(
            net,
            who,
            rx,
            conn::Reporting {
                events: self.events.clone(),
                channels: channels.clone(),
                status: status.clone(),
            },
            self.stop.child_token(),
            self.config.quit_message.clone(),
            conn::Bounds {
                limits: self.config.limits.clone(),
                max_channels: self.config.max_channels_per_user,
                hits: self.hits.clone(),
                ctcp_replies: self.config.ctcp_replies,
                netsplit_hold: self.config.netsplit_hold,
            },
        );
        self.tasks.spawn(async move {
            task.await;
            *counts
                .lock()
                .expect("counts poisoned")
                .entry(name)
                .or_default() -= 1;
        });
        conns.insert(
            conn_key,
            Conn {
                tx: tx.clone(),
                channels,
                status,
                generation: 0,
            },
        );
        Ok(tx)
    }

    /// The channel `configure` command: `encoding_in` (empty for the network's) is kept
    /// for the connections to come and applied at once to the one open.
    fn set_channel_encoding(
        &self,
        network: &str,
        channel: &str,
        values: &FormValues,
    ) -> Result<(), BridgeError> {
        let net = self.config.network(network).ok_or_else(|| {
            BridgeError::NotAllowed(format!(
                "the IRC network '{network}' is not served by this gateway"
            ))
        })?;
        let fallback = match values.get("encoding_in").map(|v| v.trim()) {
            None | Some("") => None,
            Some(name) => Some(
                name.parse::<Fallback>()
                    .map_err(|e| BridgeError::Invalid(format!("encoding_in: {e}")))?,
            ),
        };
        let channel = channel.to_lowercase();
        {
            let mut encodings = self.encodings.lock().expect("encodings poisoned");
            let of_network = encodings.entry(key(&net.name)).or_default();
            match fallback {
                Some(f) => of_network.insert(channel.clone(), f),
                None => of_network.remove(&channel),
            };
        }
        let conns = self.conns.lock().expect("conns poisoned");
        if let Some(c) = conns.get(&key(&net.name)).filter(|c| !c.tx.is_closed()) {
            self.queue(&c.tx, Command::Encoding { channel, fallback })?;
        }
        Ok(())
    }

    /// Waits for room in the connection's queue: only for callers that run per user (the
    /// outbox worker), never for a call the transport may make on a shared path.
    async fn send(tx: &mpsc::Sender<Command>, command: Command) -> Result<(), BridgeError> {
        tx.send(command)
            .await
            .map_err(|_| BridgeError::Transient("the IRC connection is closing".into()))
    }

    /// Queues a command without waiting: a connection whose queue is full (a server that
    /// stopped reading, a long flood-control backlog) refuses it with a `wait` error.
    fn queue(&self, tx: &mpsc::Sender<Command>, command: Command) -> Result<(), BridgeError> {
        tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                self.hits.hit(Limit::CommandQueue);
                BridgeError::Transient(format!(
                    "{} commands are waiting for this IRC network already; try again later",
                    self.config.limits.command_queue
                ))
            }
            mpsc::error::TrySendError::Closed(_) => {
                BridgeError::Transient("the IRC connection is closing".into())
            }
        })
    }

    /// JOINs the user wrote as raw commands to a network: counted against
    /// `max_channels_per_user` like joins from rooms, then joined (and rejoined) the same way.
    fn raw_joins(
        self: &Arc<Self>,
        network: &str,
        joins: Vec<(String, Option<String>)>,
    ) -> Result<(), BridgeError> {
        let tx = self.connection(network, &self.identity.nick)?;
        let total = self.channel_total();
        let max = self.config.max_channels_per_user;
        {
            let mut conns = self.conns.lock().expect("conns poisoned");
            let Some(conn) = conns.get_mut(&key(network)) else {
                return Err(BridgeError::Transient(format!(
                    "the connection to {network} was lost"
                )));
            };
            let mut channels = conn.channels.lock().expect("channels poisoned");
            let mut new: Vec<&str> = joins
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| !channels.contains(*c))
                .collect();
            new.sort_unstable();
            new.dedup();
            if total + new.len() > max {
                self.hits.hit(Limit::RawJoin);
                return Err(BridgeError::LimitReached(format!(
                    "this JOIN would put you in {} channels; this gateway allows at most {max}",
                    total + new.len()
                )));
            }
            channels.extend(new.into_iter().map(str::to_string));
            drop(channels);
            conn.generation += 1;
        }
        for (channel, key) in joins {
            self.queue(&tx, Command::Join { channel, key })?;
        }
        Ok(())
    }

    /// After the last channel of a network is left, QUIT once the grace has passed with
    /// no new join.
    fn schedule_quit(self: &Arc<Self>, network: String, generation: u64) {
        let this = self.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(this.config.quit_grace) => {}
                _ = this.stop.cancelled() => return,
            }
            let tx = {
                let mut conns = this.conns.lock().expect("conns poisoned");
                match conns.get(&key(&network)) {
                    Some(c)
                        if c.generation == generation
                            && c.channels.lock().expect("channels poisoned").is_empty() =>
                    {
                        conns.remove(&key(&network)).map(|c| c.tx)
                    }
                    _ => None,
                }
            };
            if let Some(tx) = tx {
                let _ = tx
                    .send(Command::Quit {
                        reason: this.config.quit_message.clone(),
                    })
                    .await;
            }
        });
    }

    /// The connection to `network` when the user is in `channel` (lowercased) on it.
    fn joined(&self, network: &str, channel: &str) -> Result<mpsc::Sender<Command>, BridgeError> {
        let conns = self.conns.lock().expect("conns poisoned");
        match conns.get(&key(network)) {
            Some(c)
                if c.channels
                    .lock()
                    .expect("channels poisoned")
                    .contains(channel) =>
            {
                Ok(c.tx.clone())
            }
            _ => Err(BridgeError::NotFound(format!(
                "you are not in {channel} on {network}"
            ))),
        }
    }

    fn channel(group: &GroupId) -> Result<(String, String), BridgeError> {
        match Address::from_chat(&Chat::Group(group.clone()))? {
            Address::Channel { channel, network } => Ok((channel, network)),
            Address::User { .. } | Address::Network { .. } => Err(BridgeError::InvalidAddress(
                format!("{group} is not a channel"),
            )),
        }
    }
}
