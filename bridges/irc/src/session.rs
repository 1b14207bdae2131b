//! One user's IRC presence: a connection per network, opened on first use.

use crate::address::Address;
use crate::config::IrcConfig;
use crate::conn::{self, Command, Identity};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_bridge::{
    Availability, BridgeError, CancellationToken, Chat, EventSink, FormValues, GroupId,
    GroupListing, JoinRequest, LoginData, OutgoingMessage, PresenceUpdate, Sent, Session,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

/// Connections per network, over all users (shared by every session of the bridge).
pub type NetworkCounts = Arc<Mutex<HashMap<String, usize>>>;

struct Conn {
    tx: mpsc::Sender<Command>,
    /// Channels the user is in (or joining) on this network, lowercased.
    channels: HashSet<String>,
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
    channel_total: AtomicUsize,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl IrcSession {
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
            channel_total: AtomicUsize::new(0),
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
        let task = conn::run(
            net,
            who,
            rx,
            self.events.clone(),
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
                channels: HashSet::new(),
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
                    Some(c) if c.generation == generation && c.channels.is_empty() => {
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

/// `name` as an IRC nick: only the characters nicks may hold, not starting with a digit
/// or `-`, at most 30 bytes.
fn valid_nick(name: &str) -> String {
    let nick: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-[]\\`^{}|".contains(*c))
        .take(30)
        .collect();
    nick.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_string()
}

/// Wraps the session so `Arc<Self>` methods can be used from the trait.
pub struct Handle(pub Arc<IrcSession>);

#[async_trait]
impl Session for Handle {
    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        shutdown.cancelled().await;
        // Connections send QUIT on stop; give them a moment to do it.
        self.0.stop.cancel();
        self.0.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.0.tasks.wait()).await;
    }

    async fn send_message(&self, msg: OutgoingMessage) -> Result<Sent, BridgeError> {
        let address = Address::from_chat(&msg.chat)?;
        let (target, network) = match &address {
            Address::Channel { channel, network } => (channel.clone(), network.clone()),
            Address::User { nick, network } => (nick.clone(), network.clone()),
            // Messages to the network itself are raw IRC commands, one per line (biboumi's
            // way to WHOIS or talk to services); each line stays one line.
            Address::Network { network } => (String::new(), network.clone()),
        };
        let tx = match &address {
            Address::Channel { .. } => {
                let conns = self.0.conns.lock().expect("conns poisoned");
                match conns.get(&network) {
                    Some(c) if c.channels.contains(&target) => c.tx.clone(),
                    _ => {
                        return Err(BridgeError::NotFound(format!(
                            "you are not in {target} on {network}"
                        )))
                    }
                }
            }
            Address::User { .. } | Address::Network { .. } => {
                self.0.connection(&network, &self.0.identity.nick)?
            }
        };
        let (done, written) = oneshot::channel();
        if let Address::Network { .. } = address {
            IrcSession::send(
                &tx,
                Command::Raw {
                    text: msg.content.text,
                    done,
                },
            )
            .await?;
            written.await.map_err(|_| {
                BridgeError::Transient(format!("the connection to {network} was lost"))
            })??;
            return Ok(Sent {
                id: None,
                timestamp: None,
            });
        }
        IrcSession::send(
            &tx,
            Command::Say {
                target,
                text: msg.content.text,
                kind: msg.content.kind,
                done,
            },
        )
        .await?;
        written.await.map_err(|_| {
            BridgeError::Transient(format!("the connection to {network} was lost"))
        })??;
        Ok(Sent {
            id: None,
            timestamp: None,
        })
    }

    async fn join_group(&self, request: JoinRequest) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(&request.group)?;
        let tx = self.0.connection(&network, &request.nick)?;
        {
            let mut conns = self.0.conns.lock().expect("conns poisoned");
            let conn = conns.get_mut(&network).expect("connection just opened");
            if !conn.channels.contains(&channel) {
                if self.0.channel_total.load(Ordering::Relaxed)
                    >= self.0.config.max_channels_per_user
                {
                    return Err(BridgeError::LimitReached(format!(
                        "you are in {} channels already, the most this gateway allows",
                        self.0.config.max_channels_per_user
                    )));
                }
                self.0.channel_total.fetch_add(1, Ordering::Relaxed);
                conn.channels.insert(channel.clone());
            }
            conn.generation += 1;
        }
        IrcSession::send(
            &tx,
            Command::Join {
                channel,
                key: request.password,
            },
        )
        .await
    }

    async fn leave_group(
        &self,
        group: &GroupId,
        reason: Option<String>,
    ) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let (tx, last, generation) = {
            let mut conns = self.0.conns.lock().expect("conns poisoned");
            let Some(conn) = conns.get_mut(&network) else {
                return Ok(());
            };
            if conn.channels.remove(&channel) {
                self.0.channel_total.fetch_sub(1, Ordering::Relaxed);
            }
            (conn.tx.clone(), conn.channels.is_empty(), conn.generation)
        };
        IrcSession::send(&tx, Command::Part { channel, reason }).await?;
        if last {
            self.0.schedule_quit(network, generation);
        }
        Ok(())
    }

    async fn set_topic(&self, group: &GroupId, topic: &str) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        IrcSession::send(
            &tx,
            Command::Topic {
                channel,
                topic: topic.to_string(),
            },
        )
        .await
    }

    async fn configure(
        &self,
        chat: &Chat,
        node: &str,
        values: &FormValues,
    ) -> Result<(), BridgeError> {
        let Address::Network { network } = Address::from_chat(chat)? else {
            return Err(BridgeError::Unsupported(
                "settings on anything but a network",
            ));
        };
        if node != crate::CONFIGURE {
            return Err(BridgeError::NotFound(format!("no command '{node}'")));
        }
        let net = self.0.config.network(&network).ok_or_else(|| {
            BridgeError::NotAllowed(format!(
                "the IRC network '{network}' is not served by this gateway"
            ))
        })?;
        for key in ["nick", "username"] {
            if let Some(v) = values.get(key).filter(|v| !v.is_empty()) {
                if valid_nick(v) != *v {
                    return Err(BridgeError::Invalid(format!(
                        "{key}: '{v}' is not a valid IRC {key}"
                    )));
                }
            }
        }
        self.0
            .settings
            .lock()
            .expect("settings poisoned")
            .insert(net.name, values.clone());
        Ok(())
    }

    async fn list_groups(&self, service: &Chat) -> Result<Vec<GroupListing>, BridgeError> {
        let Address::Network { network } = Address::from_chat(service)? else {
            return Err(BridgeError::Unsupported(
                "channel lists of anything but a network",
            ));
        };
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        let (done, listed) = oneshot::channel();
        IrcSession::send(&tx, Command::List { done }).await?;
        match tokio::time::timeout(Duration::from_secs(30), listed).await {
            Ok(Ok(list)) => Ok(list),
            Ok(Err(_)) => Err(BridgeError::Transient(format!(
                "the connection to {network} was lost"
            ))),
            Err(_) => Err(BridgeError::Transient(format!(
                "{network} sent no channel list within 30 s"
            ))),
        }
    }

    async fn change_nick(&self, group: &GroupId, nick: &str) -> Result<(), BridgeError> {
        let (_, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        IrcSession::send(
            &tx,
            Command::Nick {
                nick: nick.to_string(),
            },
        )
        .await
    }

    async fn kick(
        &self,
        group: &GroupId,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<(), BridgeError> {
        let (channel, network) = IrcSession::channel(group)?;
        let tx = self.0.connection(&network, &self.0.identity.nick)?;
        let command = Command::Kick {
            channel,
            nick: nick.to_string(),
            reason: reason.map(str::to_string),
        };
        IrcSession::send(&tx, command).await
    }

    async fn set_presence(&self, presence: PresenceUpdate) -> Result<(), BridgeError> {
        if presence.availability == Availability::Offline {
            let conns: Vec<_> = self
                .0
                .conns
                .lock()
                .expect("conns poisoned")
                .drain()
                .collect();
            self.0.channel_total.store(0, Ordering::Relaxed);
            for (_, conn) in conns {
                let _ = conn
                    .tx
                    .send(Command::Quit {
                        reason: self.0.config.quit_message.clone(),
                    })
                    .await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_nick;

    #[test]
    fn names_become_valid_nicks() {
        assert_eq!(valid_nick("alice"), "alice");
        assert_eq!(valid_nick("bob.smith+irc"), "bobsmithirc");
        assert_eq!(valid_nick("42-answer"), "answer");
        assert_eq!(valid_nick("ünïcode"), "ncode");
        assert_eq!(valid_nick(&"x".repeat(40)).len(), 30);
        assert_eq!(valid_nick("---"), "");
    }
}
