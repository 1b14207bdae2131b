//! The `irc` section of the configuration (besides the component `domain` and `secret`,
//! which the core reads).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// IRC bridge settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrcConfig {
    /// Networks by name (the `net` of `#chan%net@irc.example.org`). A network's `host`
    /// defaults to its name, so `"127.0.0.1": {port: 6667, tls: false}` works.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkConfig>,
    /// Defaults for every network (and for hosts not listed, when those are allowed).
    #[serde(default)]
    pub default: NetworkDefaults,
    /// Let users reach IRC servers not listed in `networks`. Off by default: an open
    /// gateway is a port-scanning tool.
    #[serde(default)]
    pub allow_any_network: bool,
    /// Channels one user may be in, over all networks. Default 100.
    #[serde(default = "default_max_channels")]
    pub max_channels_per_user: usize,
    /// Channels the gateway's own transports may follow (digests of IRC channels, all
    /// through one IRC identity), over all networks, counted apart from
    /// `max_channels_per_user`. Default 500.
    #[serde(default = "default_max_followed")]
    pub max_followed_channels: usize,
    /// IRC connections the gateway opens to one network. Default 1000.
    #[serde(default = "default_max_connections")]
    pub max_connections_per_network: usize,
    /// How long a connection stays after its last channel is left, before QUIT.
    /// Default `10s`.
    #[serde(
        default = "default_quit_grace",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub quit_grace: Duration,
    /// How long the quits of a netsplit (a QUIT whose reason is two server names) are held
    /// back: a rejoin within it shows nothing, the rest are shown as leaves when it is
    /// over. `0s` shows them at once. Default `30s`.
    #[serde(
        default = "default_netsplit_hold",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub netsplit_hold: Duration,
    /// Serve only this network (one of `networks`), as biboumi's `fixed_irc_server`: rooms
    /// are `#chan@irc.example.org`, contacts `nick@irc.example.org`, and the network's
    /// messages and commands are the transport's own JID. Default: none (every listed
    /// network, `#chan%net@…`).
    #[serde(default)]
    pub fixed_network: Option<String>,
    /// Channels are persistent (stay joined while their user is away, and come back after
    /// a restart) unless the user's channel `configure` says otherwise; leaving the room
    /// then leaves nothing on IRC. Default false (biboumi's `persistent_by_default`).
    #[serde(default)]
    pub persistent_by_default: bool,
    /// The QUIT message. Default "Switchboard".
    #[serde(default = "default_quit_message")]
    pub quit_message: String,
    /// Answer CTCP VERSION, PING and TIME sent to a user's nick (at most 3 answers at once
    /// and one per 2 s per connection). Default true.
    #[serde(default = "default_true")]
    pub ctcp_replies: bool,
    /// Bounds on what an IRC server can make one connection hold.
    #[serde(default)]
    pub limits: Limits,
}

/// Bounds on what a server (maybe hostile) can make one connection hold; each has a
/// `/metrics` counter of the times it was hit (`switchboard_irc_limit_<name>_total`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// MOTD lines kept before the end of the MOTD (376/422); later ones are dropped, and
    /// each line is cut to 512 bytes. Default 100.
    #[serde(default = "default_motd_lines")]
    pub motd_lines: usize,
    /// `CAP LS` lines read before registration goes on with what was offered so far.
    /// Default 16.
    #[serde(default = "default_cap_ls_lines")]
    pub cap_ls_lines: usize,
    /// Channels the server puts the connection in that the user did not ask for (forced
    /// JOINs) kept at once; more are left (PART) at once. Default 10.
    #[serde(default = "default_forced_joins")]
    pub forced_joins: usize,
    /// Members kept per channel (NAMES, JOIN); past it new members are not shown.
    /// Default 10000.
    #[serde(default = "default_members_per_channel")]
    pub members_per_channel: usize,
    /// Lines waiting for flood control, per connection; past it the connection takes no
    /// more commands until lines are written. Default 1024.
    #[serde(default = "default_queue")]
    pub throttle_queue: usize,
    /// Commands (joins, topics, messages…) waiting for one connection; past it the user
    /// gets a `wait` error. Default 1024.
    #[serde(default = "default_queue")]
    pub command_queue: usize,
    /// Members a joined channel may have for its members' away states to be asked at join
    /// (a WHO, one reply line per member on every user's connection: K users of the gateway
    /// in one channel cost K² lines). Bigger channels show away changes only. 0: never ask.
    /// Default 100.
    #[serde(default = "default_who_on_join")]
    pub who_on_join: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            motd_lines: default_motd_lines(),
            cap_ls_lines: default_cap_ls_lines(),
            forced_joins: default_forced_joins(),
            members_per_channel: default_members_per_channel(),
            throttle_queue: default_queue(),
            command_queue: default_queue(),
            who_on_join: default_who_on_join(),
        }
    }
}

/// One network; unset fields come from `default`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Host name or address. Default: the network's name.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Use TLS.
    pub tls: Option<bool>,
    /// Verify the server's certificate (with TLS). Turn off only for test servers.
    pub tls_verify: Option<bool>,
    /// Flood control: a token bucket of `burst` lines refilled at one line per `interval`.
    /// `false` sends as fast as the socket takes (for servers that allow it).
    pub throttle: Option<bool>,
    /// How bytes that are not UTF-8 are read: `latin-1` (default), `utf-8-lossy`, or an
    /// encoding label such as `windows-1251`, `koi8-r` or `iso-8859-15`.
    pub encoding: Option<String>,
}

/// Defaults for every network.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDefaults {
    /// Port. Default 6697.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Use TLS. Default true.
    #[serde(default = "yes")]
    pub tls: bool,
    /// Verify certificates. Default true.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Flood control. Default true.
    #[serde(default = "yes")]
    pub throttle: bool,
    /// Lines sent at once before flood control slows down. Default 5.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// One more line per this interval once the burst is spent. Default `2s`.
    #[serde(
        default = "default_interval",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub interval: Duration,
    /// How bytes that are not UTF-8 are read. Default `latin-1`.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// Silence after which the server is pinged; a server silent for as long again is
    /// dropped and reconnected. Default `90s`.
    #[serde(
        default = "default_keepalive",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub keepalive: Duration,
    /// How long a write to the server may wait (a server that stops reading, a zero TCP
    /// window); past it the connection counts as lost and is reconnected. Default `30s`.
    #[serde(
        default = "default_write_timeout",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub write_timeout: Duration,
}

impl Default for NetworkDefaults {
    fn default() -> Self {
        Self {
            port: default_port(),
            tls: true,
            tls_verify: true,
            throttle: true,
            burst: default_burst(),
            interval: default_interval(),
            encoding: default_encoding(),
            keepalive: default_keepalive(),
            write_timeout: default_write_timeout(),
        }
    }
}

/// A network with every setting decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The name users write in JIDs.
    pub name: String,
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS.
    pub tls: bool,
    /// Certificate verification.
    pub tls_verify: bool,
    /// Flood control on.
    pub throttle: bool,
    /// Burst size.
    pub burst: u32,
    /// Refill interval.
    pub interval: Duration,
    /// Fallback encoding name.
    pub encoding: String,
    /// Ping after this much silence; give up after as long again.
    pub keepalive: Duration,
    /// A write waiting longer loses the connection.
    pub write_timeout: Duration,
}

impl IrcConfig {
    /// The network named `name`, if users may reach it.
    pub fn network(&self, name: &str) -> Option<Network> {
        let listed = self
            .networks
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, v)| (k.clone(), v.clone()));
        let (name, n) = match listed {
            Some(found) => found,
            None if self.allow_any_network => (name.to_string(), NetworkConfig::default()),
            None => return None,
        };
        let d = &self.default;
        Some(Network {
            host: n.host.clone().unwrap_or_else(|| name.clone()),
            port: n.port.unwrap_or(d.port),
            tls: n.tls.unwrap_or(d.tls),
            tls_verify: n.tls_verify.unwrap_or(d.tls_verify),
            throttle: n.throttle.unwrap_or(d.throttle),
            burst: d.burst,
            interval: d.interval,
            encoding: n.encoding.clone().unwrap_or_else(|| d.encoding.clone()),
            keepalive: d.keepalive,
            write_timeout: d.write_timeout,
            name,
        })
    }

    /// Problems a parsed section still has, as (key below `irc`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut encoding = |key: String, value: &str| {
            if let Err(e) = value.parse::<crate::text::Fallback>() {
                out.push((key, e.to_string()));
            }
        };
        encoding("default.encoding".into(), &self.default.encoding);
        for (name, n) in &self.networks {
            if let Some(e) = &n.encoding {
                encoding(format!("networks.{name}.encoding"), e);
            }
        }
        for (name, n) in &self.networks {
            if name.is_empty() || name.contains(['%', '@', '/', ' ']) {
                out.push((
                    format!("networks.{name}"),
                    "a network name may not contain %, @, / or spaces".into(),
                ));
            }
            if n.port == Some(0) {
                out.push((
                    format!("networks.{name}.port"),
                    "must be between 1 and 65535".into(),
                ));
            }
        }
        // Network names match ignoring case (XMPP servers lowercase JID local parts), so
        // two keys that differ only in case would be one network.
        let names: Vec<&String> = self.networks.keys().collect();
        for (i, name) in names.iter().enumerate() {
            if let Some(first) = names[..i].iter().find(|n| n.eq_ignore_ascii_case(name)) {
                out.push((
                    format!("networks.{name}"),
                    format!("the same network as '{first}' (names match ignoring case)"),
                ));
            }
        }
        if let Some(fixed) = &self.fixed_network {
            if !self.networks.keys().any(|n| n.eq_ignore_ascii_case(fixed)) {
                out.push((
                    "fixed_network".into(),
                    format!("'{fixed}' is not one of the networks listed under networks"),
                ));
            }
        }
        if self.default.keepalive.is_zero() {
            out.push(("default.keepalive".into(), "must be longer than 0s".into()));
        }
        if self.default.burst == 0 {
            out.push(("default.burst".into(), "must be at least 1".into()));
        }
        if self.default.write_timeout.is_zero() {
            out.push((
                "default.write_timeout".into(),
                "must be longer than 0s".into(),
            ));
        }
        let l = &self.limits;
        for (key, value) in [
            ("motd_lines", l.motd_lines),
            ("cap_ls_lines", l.cap_ls_lines),
            ("members_per_channel", l.members_per_channel),
            ("throttle_queue", l.throttle_queue),
            ("command_queue", l.command_queue),
        ] {
            if value == 0 {
                out.push((format!("limits.{key}"), "must be at least 1".into()));
            }
        }
        out
    }
}

fn default_max_channels() -> usize {
    100
}
fn default_max_followed() -> usize {
    500
}
fn default_max_connections() -> usize {
    1000
}
fn default_netsplit_hold() -> Duration {
    Duration::from_secs(30)
}
fn default_quit_grace() -> Duration {
    Duration::from_secs(10)
}
fn default_true() -> bool {
    true
}

fn default_quit_message() -> String {
    "Switchboard".into()
}
fn default_port() -> u16 {
    6697
}
fn default_burst() -> u32 {
    5
}
fn default_interval() -> Duration {
    Duration::from_secs(2)
}
fn default_keepalive() -> Duration {
    Duration::from_secs(90)
}
fn default_write_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_motd_lines() -> usize {
    100
}
fn default_cap_ls_lines() -> usize {
    16
}
fn default_forced_joins() -> usize {
    10
}
fn default_members_per_channel() -> usize {
    10_000
}
fn default_who_on_join() -> usize {
    100
}
fn default_queue() -> usize {
    1024
}
fn default_encoding() -> String {
    "latin-1".into()
}
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests;
