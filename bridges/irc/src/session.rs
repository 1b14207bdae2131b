//! One user's IRC presence: a connection per network, opened on first use.

mod handle;
pub use handle::Handle;

use crate::address::Address;
use crate::config::IrcConfig;
use crate::conn::{self, Command, Identity};
use crate::nick::valid_nick;
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
    counts: NetworkCounts,
    stop: CancellationToken,
    tasks: TaskTracker,
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
            counts,
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
        if let Some(c) = conns.get(&net.name).filter(|c| !c.tx.is_closed()) {
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
        let (tx, rx) = mpsc::channel(1024);
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
        }
        let counts = self.counts.clone();
        let name = net.name.clone();
        let channels = Channels::default();
        let task = conn::run(
            net,
            who,
            rx,
            conn::Reporting {
                events: self.events.clone(),
                channels: channels.clone(),
            },
            self.stop.child_token(),
            self.config.quit_message.clone(),
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
            network.to_lowercase(),
            Conn {
                tx: tx.clone(),
                channels,
                generation: 0,
            },
        );
        Ok(tx)
    }

    async fn send(tx: &mpsc::Sender<Command>, command: Command) -> Result<(), BridgeError> {
        tx.send(command)
            .await
            .map_err(|_| BridgeError::Transient("the IRC connection is closing".into()))
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
                match conns.get(&network) {
                    Some(c)
                        if c.generation == generation
                            && c.channels.lock().expect("channels poisoned").is_empty() =>
                    {
                        conns.remove(&network).map(|c| c.tx)
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

    fn channel(group: &GroupId) -> Result<(String, String), BridgeError> {
        match Address::from_chat(&Chat::Group(group.clone()))? {
            Address::Channel { channel, network } => Ok((channel, network)),
            Address::User { .. } | Address::Network { .. } => Err(BridgeError::InvalidAddress(
                format!("{group} is not a channel"),
            )),
        }
    }
}
