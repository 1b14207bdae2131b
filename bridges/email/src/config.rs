//! The `email` section of the configuration (besides the component `domain` and `secret`,
//! which the core reads).

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod auth;
pub use auth::{AuthConfig, TrustedRelay, Unverified};

/// Email bridge settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The domain of users' own addresses: `<alias>@<address_domain>` (its MX must point at
    /// `listen`).
    pub address_domain: String,
    /// The relay that sends the gateway's mail.
    pub smtp: SmtpConfig,
    /// Where the inbound SMTP listener listens, `ip:port` (replies and new mail).
    pub listen: String,
    /// The name the listener greets with and puts in Message-IDs. Default: `address_domain`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Largest inbound message taken, in bytes. Default 10 MiB.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
    /// Recipients per inbound message. Default 20.
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// The listener's certificate: with it, EHLO offers STARTTLS. Without it mail comes
    /// in as plain text only.
    #[serde(default)]
    pub tls: Option<ListenerTls>,
    /// Digests of chat by mail.
    #[serde(default)]
    pub digest: DigestConfig,
    /// Who gets mail for `postmaster` (RFC 5321 §4.5.1), as chat: a bare JID that has
    /// registered with the transport. Without it (or before that registration), the
    /// listener refuses such mail with 550.
    #[serde(default)]
    pub postmaster: Option<String>,
    /// Connections one client IP address may hold at once on the listener (besides the
    /// cap of 100 for all); one more gets `421`. Default 10.
    #[serde(default = "default_per_ip")]
    pub max_connections_per_ip: usize,
    /// Longest life of one SMTP connection, however busy it keeps (`421` after it).
    /// Default `30m`.
    #[serde(
        default = "default_max_session",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub max_session: Duration,
    /// Which inbound mail counts as coming from its From address.
    #[serde(default)]
    pub auth: AuthConfig,
}

/// Digest settings (`email.digest`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// The nick the gateway joins followed rooms with. Default `digest`.
    #[serde(default = "default_nick")]
    pub nick: String,
    /// The shortest `every` a subscription may ask for. Default `5m`.
    #[serde(
        default = "default_min_interval",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub min_interval: Duration,
    /// A message counts as missed once it has waited this long with its user offline.
    /// Default `10m`.
    #[serde(
        default = "default_missed_after",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub missed_after: Duration,
    /// Messages shown per source in one digest; the rest are counted. Default 20.
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// Subscriptions one user may hold. Default 20.
    #[serde(default = "default_max_subscriptions")]
    pub max_subscriptions: usize,
    /// Digests handed to the relay at once. Default 8.
    #[serde(default = "default_send_parallel")]
    pub send_parallel: usize,
    /// Verification-code mails sent to one address per UTC day. Default 3.
    #[serde(default = "default_codes_per_address")]
    pub max_code_mails_per_address: u32,
    /// Verification-code mails one user may have sent per UTC day. Default 10.
    #[serde(default = "default_codes_per_user")]
    pub max_code_mails_per_user: u32,
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            nick: default_nick(),
            min_interval: default_min_interval(),
            missed_after: default_missed_after(),
            max_items: default_max_items(),
            max_subscriptions: default_max_subscriptions(),
            send_parallel: default_send_parallel(),
            max_code_mails_per_address: default_codes_per_address(),
            max_code_mails_per_user: default_codes_per_user(),
        }
    }
}

fn default_nick() -> String {
    "digest".into()
}
fn default_min_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_missed_after() -> Duration {
    Duration::from_secs(600)
}
fn default_max_items() -> usize {
    20
}
fn default_max_subscriptions() -> usize {
    20
}
fn default_send_parallel() -> usize {
    8
}
fn default_codes_per_address() -> u32 {
    3
}
fn default_codes_per_user() -> u32 {
    10
}
fn default_per_ip() -> usize {
    10
}
fn default_max_session() -> Duration {
    Duration::from_secs(1800)
}

/// The certificate and key the inbound listener uses for STARTTLS (read at start).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// PEM certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.
    pub key: PathBuf,
}

/// How outgoing mail is sent.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay, `host:port`.
    pub relay: String,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (loopback relays only).
    #[serde(default)]
    pub security: Security,
    /// Login at the relay, with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password at the relay.
    #[serde(default)]
    pub password: Option<String>,
    /// How long one delivery attempt may take. Default `30s`.
    #[serde(
        default = "default_timeout",
        deserialize_with = "switchboard_bridge::config::duration"
    )]
    pub timeout: Duration,
    /// PEM file of extra root certificates trusted for the relay's certificate (a private
    /// CA), besides the built-in Mozilla roots (webpki-roots). Only with `starttls`/`tls`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("relay", &self.relay)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// Transport security toward the relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// Plain text (for a relay on loopback).
    None,
}

fn default_max_message() -> u64 {
    10 * 1024 * 1024
}
fn default_max_recipients() -> usize {
    20
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl EmailConfig {
    /// Problems serde cannot see, as (key below `email.`, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if crate::address::MailAddress::parse(&format!("x@{}", self.address_domain)).is_err() {
            out.push((
                "address_domain".into(),
                format!("'{}' is not a mail domain", self.address_domain),
            ));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(("listen".into(), format!("'{}' is not ip:port", self.listen)));
        }
        if !host_port(&self.smtp.relay) {
            out.push((
                "smtp.relay".into(),
                format!("'{}' is not host:port", self.smtp.relay),
            ));
        }
        if self.smtp.username.is_some() != self.smtp.password.is_some() {
            out.push((
                "smtp.password".into(),
                "username and password go together".into(),
            ));
        }
        if let Some(ca_file) = &self.smtp.ca_file {
            if self.smtp.security == Security::None {
                out.push((
                    "smtp.ca_file".into(),
                    "only used with security: starttls or tls".into(),
                ));
            } else if let Err(e) = crate::relay::load_roots(ca_file) {
                out.push(("smtp.ca_file".into(), e));
            }
        }
        if let Some(tls) = &self.tls {
            out.extend(tls.problem());
        }
        if self.max_message_bytes < 1024 {
            out.push(("max_message_bytes".into(), "must be at least 1024".into()));
        }
        if self.max_recipients == 0 {
            out.push(("max_recipients".into(), "must be at least 1".into()));
        }
        if self.max_connections_per_ip == 0 {
            out.push(("max_connections_per_ip".into(), "must be at least 1".into()));
        }
        if self.max_session < Duration::from_secs(10) {
            out.push(("max_session".into(), "must be at least 10s".into()));
        }
        out.extend(self.auth.problems());
        let nick = self.digest.nick.trim();
        if nick.is_empty()
            || nick.len() > 32
            || nick
                .chars()
                .any(|c| c.is_control() || c == '/' || c.is_whitespace())
        {
            out.push((
                "digest.nick".into(),
                format!(
                    "'{}' is not a nick (1 to 32 characters, no spaces or '/')",
                    self.digest.nick
                ),
            ));
        }
        if self.digest.min_interval < Duration::from_secs(1) {
            out.push(("digest.min_interval".into(), "must be at least 1s".into()));
        }
        if self.digest.max_items == 0 {
            out.push(("digest.max_items".into(), "must be at least 1".into()));
        }
        if self.digest.max_code_mails_per_address == 0 {
            out.push((
                "digest.max_code_mails_per_address".into(),
                "must be at least 1".into(),
            ));
        }
        if self.digest.max_code_mails_per_user == 0 {
            out.push((
                "digest.max_code_mails_per_user".into(),
                "must be at least 1".into(),
            ));
        }
        if self.digest.send_parallel == 0 {
            out.push(("digest.send_parallel".into(), "must be at least 1".into()));
        }
        out
    }

    /// The host name for the greeting and Message-IDs.
    pub fn hostname(&self) -> &str {
        self.hostname.as_deref().unwrap_or(&self.address_domain)
    }
}

impl ListenerTls {
    /// What is wrong with the files (they are read and the rustls configuration is built,
    /// as at start), as (key below `email.`, message).
    fn problem(&self) -> Option<(String, String)> {
        use crate::smtp::TlsConfigError;
        match crate::smtp::load_tls_config(&self.cert, &self.key) {
            Ok(_) => None,
            Err(TlsConfigError::Pem { path, reason }) => {
                // One file for both: which part is wrong is in the message.
                let key = match (path == self.cert, path == self.key) {
                    (true, false) => "tls.cert",
                    (false, true) => "tls.key",
                    _ => "tls",
                };
                Some((key.into(), format!("{}: {reason}", path.display())))
            }
            // rustls refused the chain or the key, or they do not belong together.
            Err(e) => Some(("tls".into(), e.to_string())),
        }
    }
}

fn host_port(s: &str) -> bool {
    s.rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests;
