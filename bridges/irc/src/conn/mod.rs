//! One IRC connection (one user on one network): connect, register, read and write lines
//! with flood control, answer pings, and reconnect with backoff, rejoining channels.

mod commands;
pub use commands::Command;
mod connected;
mod io;
mod members;
pub mod state;

use crate::config::Network;
use crate::text::Fallback;
use connected::{session, End};
use state::ConnState;
use std::collections::HashMap;
use std::time::Duration;
use switchboard_bridge::{BridgeError, EventSink, LeaveReason, RemoteEvent, SessionState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Who connects and how.
#[derive(Clone)]
pub struct Identity {
    /// Nick.
    pub nick: String,
    /// USER name.
    pub username: String,
    /// Real name.
    pub realname: String,
    /// SASL PLAIN password (the account is the nick), when set.
    pub sasl_password: Option<String>,
    /// Sent to NickServ with IDENTIFY after registration, when set.
    pub nickserv_password: Option<String>,
    /// The user's fallback encodings for channels that have their own (channel
    /// `configure`), by lowercased channel.
    pub channel_fallbacks: HashMap<String, Fallback>,
    /// The user's away text, sent as `AWAY` once registered.
    pub away: Option<String>,
    /// The server password (`PASS`, sent first), when set.
    pub server_password: Option<String>,
    /// Raw lines sent once registered, before the joins (the network's
    /// `after_connect_commands`).
    pub after_connect: Vec<String>,
    /// The user's fallback encoding for this network, instead of the operator's.
    pub fallback: Option<Fallback>,
}

impl std::fmt::Debug for Identity {
    /// Passwords never show in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("nick", &self.nick)
            .field("username", &self.username)
            .field("sasl", &self.sasl_password.is_some())
            .field("nickserv", &self.nickserv_password.is_some())
            .field("pass", &self.server_password.is_some())
            .field("after_connect", &self.after_connect.len())
            .finish()
    }
}

/// Where a connection reports: the core's event sink, the session's book of this
/// connection's channels (refused and removed channels are dropped from it), and whether
/// it is registered.
pub struct Reporting {
    /// Events to the core.
    pub events: EventSink,
    /// The channels the session counts for this connection.
    pub channels: crate::session::Channels,
    /// Set while the connection is registered.
    pub status: Status,
}

/// A registered connection, as `get-irc-connection-info` tells it.
#[derive(Clone, Debug)]
pub struct Connected {
    /// The server's host and port.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Over TLS.
    pub tls: bool,
    /// Registered (001) at.
    pub since: std::time::SystemTime,
}

/// The connection's [`Connected`], shared with its session; `None` while not registered.
pub type Status = std::sync::Arc<std::sync::Mutex<Option<Connected>>>;

impl Reporting {
    async fn emit(&self, event: RemoteEvent) -> Result<(), switchboard_bridge::SinkClosed> {
        let gone = match &event {
            RemoteEvent::GroupJoinFailed { group, .. } => Some(group),
            RemoteEvent::GroupLeft { group, reason }
                if !matches!(reason, LeaveReason::Disconnected { .. }) =>
            {
                Some(group)
            }
            _ => None,
        };
        if let Some(group) = gone {
            let channel = group.as_str().split('%').next().unwrap_or_default();
            self.channels
                .lock()
                .expect("channels poisoned")
                .remove(channel);
        }
        self.events.emit(event).await
    }
}

/// The bounds a connection keeps to (from `irc.limits`), and where hits are counted.
pub struct Bounds {
    /// The bounds.
    pub limits: crate::config::Limits,
    /// The user's `max_channels_per_user`.
    pub max_channels: usize,
    /// The bridge's counters.
    pub hits: std::sync::Arc<crate::hits::LimitHits>,
    /// Answer CTCP VERSION, PING and TIME (`irc.ctcp_replies`).
    pub ctcp_replies: bool,
    /// How long split quits are held back (`irc.netsplit_hold`).
    pub netsplit_hold: Duration,
}

/// Runs a connection until it quits or fails for good. `closed` is told when it ends so
/// the session can forget it.
pub async fn run(
    network: Network,
    who: Identity,
    mut commands: mpsc::Receiver<Command>,
    events: Reporting,
    shutdown: CancellationToken,
    quit_message: String,
    bounds: Bounds,
) {
    let fallback = who
        .fallback
        .unwrap_or_else(|| network.encoding.parse().unwrap_or(Fallback::Latin1));
    let mut state = ConnState::new(&network.name, &who.nick, fallback).with_limits(
        bounds.limits,
        bounds.max_channels,
        bounds.hits,
    );
    state.sasl = who.sasl_password.clone().map(|pw| (who.nick.clone(), pw));
    state.channel_fallbacks = who.channel_fallbacks.clone();
    state.ctcp.enabled = bounds.ctcp_replies;
    state.splits.hold = bounds.netsplit_hold;
    state.away = who.away.clone();
    let mut backoff = Backoff::new();
    let mut ever_connected = false;
    let say = |text: String| events.emit(state::network_text(&network.name, text));
    loop {
        let how = if network.tls {
            "encrypted"
        } else {
            "not encrypted"
        };
        let _ = say(format!(
            "Connecting to {}:{} ({how})",
            network.host, network.port
        ))
        .await;
        let connected = tokio::select! {
            c = tokio::time::timeout(CONNECT_TIMEOUT, io::connect(&network)) => c.unwrap_or_else(|_| Err(format!("no answer within {CONNECT_TIMEOUT:?}"))),
            _ = shutdown.cancelled() => return,
        };
        let end = match connected {
            Ok(stream) => {
                let _ = say(if network.tls {
                    "Connected to IRC server (encrypted).".into()
                } else {
                    "Connected to IRC server.".into()
                })
                .await;
                let end = session(
                    stream,
                    &network,
                    &who,
                    &mut state,
                    &mut commands,
                    &events,
                    &shutdown,
                    &quit_message,
                )
                .await;
                if state.registered {
                    ever_connected = true;
                    backoff = Backoff::new();
                }
                *events.status.lock().expect("status poisoned") = None;
                end
            }
            Err(e) => {
                let _ = say(format!("Connection failed: {e}")).await;
                End::Lost(e)
            }
        };
        match end {
            End::Quit => return,
            End::Fatal(error) => {
                // Commands still queued (a join sent while the server was refusing the
                // nick) fail the same way rather than vanish.
                refuse_waiting(&mut commands, &mut state, &error);
                fail_joins(&mut state, &events, error).await;
                return;
            }
            End::Lost(reason) => {
                tracing::info!(network = %network.name, %reason, "IRC connection lost");
                if !ever_connected {
                    let error = BridgeError::Unreachable(format!(
                        "cannot connect to {}:{}: {reason}",
                        network.host, network.port
                    ));
                    refuse_waiting(&mut commands, &mut state, &error);
                    fail_joins(&mut state, &events, error).await;
                    return;
                }
                for c in state.channels.values().filter(|c| c.announced) {
                    let group = crate::address::group_id(&c.name, &network.name);
                    let _ = events
                        .emit(RemoteEvent::GroupLeft {
                            group,
                            reason: LeaveReason::Disconnected {
                                reason: reason.clone(),
                            },
                        })
                        .await;
                }
                let _ = events
                    .emit(RemoteEvent::State(SessionState::TransientDisconnect {
                        reason: format!("{}: {reason}", network.name),
                    }))
                    .await;
                state.reset();
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next()) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Takes the commands that waited for a connection that never came: joins are failed
/// with the rest, messages get the error.
fn refuse_waiting(
    commands: &mut mpsc::Receiver<Command>,
    state: &mut ConnState,
    error: &BridgeError,
) {
    commands.close();
    while let Ok(command) = commands.try_recv() {
        match command {
            Command::Join { channel, key } => {
                state.wanted.insert(channel.to_lowercase(), key);
            }
            Command::Say { done, .. } => {
                let _ = done.send(Err(error.clone()));
            }
            Command::Raw { done, .. } => {
                let _ = done.send(Err(error.clone()));
            }
            Command::Watch { done, .. } => {
                let _ = done.send(false);
            }
            Command::List { .. }
            | Command::Part { .. }
            | Command::Topic { .. }
            | Command::Nick { .. }
            | Command::Kick { .. }
            | Command::Invite { .. }
            | Command::Encoding { .. }
            | Command::Away { .. }
            | Command::Quit { .. } => {}
        }
    }
}

async fn fail_joins(state: &mut ConnState, events: &Reporting, error: BridgeError) {
    let mut names: Vec<String> = state.wanted.keys().cloned().collect();
    names.extend(
        state
            .channels
            .keys()
            .filter(|k| !state.wanted.contains_key(*k))
            .cloned(),
    );
    for chan in names {
        let group = crate::address::group_id(&chan, &state.network);
        let _ = events
            .emit(RemoteEvent::GroupJoinFailed {
                group,
                error: error.clone(),
            })
            .await;
    }
    state.wanted.clear();
    state.channels.clear();
}

/// Reconnect delays: 1 s doubling to 5 min, with jitter.
struct Backoff(u32);

impl Backoff {
    fn new() -> Self {
        Self(0)
    }

    fn next(&mut self) -> Duration {
        let step = Duration::from_secs(1)
            .saturating_mul(1 << self.0.min(9))
            .min(Duration::from_secs(300));
        self.0 += 1;
        step / 2 + (step / 2).mul_f64(rand::random::<f64>())
    }
}
