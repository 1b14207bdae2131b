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
    /// The QUIT message. Default "Switchboard".
    #[serde(default = "default_quit_message")]
    pub quit_message: String,
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
    /// How bytes that are not UTF-8 are read: `latin-1` (default) or `utf-8-lossy`.
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
            name,
        })
    }

    /// Problems a parsed section still has, as (key below `irc`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut encoding = |key: String, value: &str| {
            if value.parse::<crate::text::Fallback>().is_err() {
                out.push((
                    key,
                    format!("'{value}' is not an encoding: use latin-1 or utf-8-lossy"),
                ));
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
        if self.default.keepalive.is_zero() {
            out.push(("default.keepalive".into(), "must be longer than 0s".into()));
        }
        if self.default.burst == 0 {
            out.push(("default.burst".into(), "must be at least 1".into()));
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
fn default_quit_grace() -> Duration {
    Duration::from_secs(10)
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
fn default_encoding() -> String {
    "latin-1".into()
}
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> IrcConfig {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn listed_networks_take_defaults_and_host_defaults_to_the_name() {
        let c = parse("networks: {\"127.0.0.1\": {port: 26667, tls: false, throttle: false}, libera: {host: irc.libera.chat}}");
        let local = c.network("127.0.0.1").unwrap();
        assert_eq!(
            (local.host.as_str(), local.port, local.tls, local.throttle),
            ("127.0.0.1", 26667, false, false)
        );
        let libera = c.network("LIBERA").unwrap();
        assert_eq!(
            (
                libera.host.as_str(),
                libera.port,
                libera.tls,
                libera.tls_verify
            ),
            ("irc.libera.chat", 6697, true, true)
        );
        assert_eq!(libera.name, "libera");
        assert!(c.problems().is_empty());
    }

    #[test]
    fn unlisted_hosts_are_refused_unless_allowed() {
        let closed = parse("networks: {}");
        assert_eq!(closed.network("evil.example"), None);
        let open = parse("allow_any_network: true");
        assert_eq!(open.network("irc.example").unwrap().host, "irc.example");
    }

    #[test]
    fn bad_values_are_problems_and_unknown_keys_errors() {
        let c = parse(
            "networks: {\"a b\": {encoding: klingon, port: 0}}\ndefault: {burst: 0, keepalive: 0s}",
        );
        let keys: Vec<String> = c.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "networks.a b.encoding",
                "networks.a b",
                "networks.a b.port",
                "default.keepalive",
                "default.burst"
            ]
        );
        assert!(serde_yaml_ng::from_str::<IrcConfig>("colour: blue").is_err());
    }
}
