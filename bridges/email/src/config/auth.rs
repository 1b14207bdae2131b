//! `email.auth`: which inbound mail counts as coming from its From address.

use serde::Deserialize;
use std::time::Duration;

/// Sender verification (`email.auth`): a From is believed only when an authenticated path
/// vouches for it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// What happens to mail whose From nobody vouches for: `mark` (default: delivered,
    /// marked as unverified to the user, never continuing a thread) or `refuse` (`554
    /// 5.7.1` at the end of DATA, nothing stored).
    #[serde(default)]
    pub unverified: Unverified,
    /// Relays whose word is taken (the gateway's MX in front of it): mail that arrives
    /// from one of these IP addresses is verified by its `Authentication-Results` header.
    #[serde(default)]
    pub trusted_relays: Vec<TrustedRelay>,
    /// The DNS server for the gateway's own DKIM, SPF and DMARC checks, `ip:port`.
    /// Default: the system's resolvers (`/etc/resolv.conf`).
    #[serde(default)]
    pub dns: Option<String>,
    /// How long the DNS lookups for one mail may take in all; a mail not verified by
    /// then is unverified. Default `10s`.
    #[serde(
        default = "default_auth_timeout",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub timeout: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            unverified: Unverified::default(),
            trusted_relays: Vec::new(),
            dns: None,
            timeout: default_auth_timeout(),
        }
    }
}

/// A relay whose authentication results are trusted (`email.auth.trusted_relays[]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedRelay {
    /// The address the relay connects from.
    pub ip: std::net::IpAddr,
    /// The authserv-id the relay writes in its `Authentication-Results` header; only
    /// that header counts (`dmarc=pass`, or `dkim=pass` with `header.d` the From domain).
    /// Without it, every mail from this relay counts as verified: for a relay that
    /// refuses what fails DMARC itself.
    #[serde(default)]
    pub authserv_id: Option<String>,
}

/// What is done with mail whose sender is not verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unverified {
    /// Delivered, marked: the text starts with `[unverified sender]` and the name ends
    /// with `(unverified)`.
    #[default]
    Mark,
    /// Refused at the end of DATA.
    Refuse,
}

fn default_auth_timeout() -> Duration {
    Duration::from_secs(10)
}

impl AuthConfig {
    /// Problems serde cannot see, as (key below `email.`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(dns) = &self.dns {
            if dns.parse::<std::net::SocketAddr>().is_err() {
                out.push(("auth.dns".into(), format!("'{dns}' is not ip:port")));
            }
        }
        if self.timeout < Duration::from_millis(100) {
            out.push(("auth.timeout".into(), "must be at least 100ms".into()));
        }
        for (i, relay) in self.trusted_relays.iter().enumerate() {
            if relay
                .authserv_id
                .as_deref()
                .is_some_and(|id| id.trim().is_empty() || id.contains([';', ' ']))
            {
                out.push((
                    format!("auth.trusted_relays[{i}].authserv_id"),
                    "must be one word (the relay's host name)".into(),
                ));
            }
        }
        out
    }
}
