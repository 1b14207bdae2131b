//! What the listener is told ([`SmtpServerConfig`]: limits and timeouts) and whom it asks
//! ([`SmtpHandler`]: recipients and storage).

use super::limits::SmtpStats;
use super::session::{DeliverError, Envelope, RcptVerdict};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;

/// How the listener behaves.
#[derive(Debug, Clone)]
pub struct SmtpServerConfig {
    /// Our host name, in the banner (`220 <hostname> ESMTP Switchboard`) and replies.
    pub hostname: String,
    /// Largest message taken, in octets; advertised as `SIZE`. Default 10 MiB.
    pub max_message_bytes: u64,
    /// Most recipients per message (`452` beyond). Default 100 (RFC 5321 §4.5.3.1.8).
    pub max_recipients: usize,
    /// Most connections at once; one more gets `421` and is closed. Default 100.
    pub max_connections: usize,
    /// Most connections at once from one client IP address (`421` beyond). Default 10.
    pub max_connections_per_ip: usize,
    /// Longest life of a connection, however active (`421` after it). Default 30 minutes.
    pub max_session: Duration,
    /// Pause before answering a refused recipient (`550`): guessing addresses is slow.
    /// Default 1 second.
    pub rcpt_reject_delay: Duration,
    /// Counters of the limits hit, for `/metrics`.
    pub stats: Arc<SmtpStats>,
    /// Longest wait for a command, for each read during DATA and for the TLS handshake
    /// (`421` after it). Default 5 minutes (RFC 5321 §4.5.3.2.7).
    pub command_timeout: Duration,
    /// Longest time from `354` to the end of the message. Default 10 minutes.
    pub data_timeout: Duration,
    /// The certificate for STARTTLS; without one STARTTLS is neither offered nor taken.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for SmtpServerConfig {
    /// The defaults, for host name `localhost`.
    fn default() -> Self {
        SmtpServerConfig::new("localhost")
    }
}

impl SmtpServerConfig {
    /// The defaults for `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        SmtpServerConfig {
            hostname: hostname.into(),
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 100,
            max_connections_per_ip: 10,
            max_session: Duration::from_secs(1800),
            rcpt_reject_delay: Duration::from_secs(1),
            stats: Arc::default(),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            tls: None,
        }
    }
}

/// What the gateway does with the mail: decides on recipients and stores messages.
#[async_trait]
pub trait SmtpHandler: Send + Sync {
    /// Whether `rcpt` (as given in RCPT TO, a checked address or `postmaster`) is ours.
    async fn check_recipient(&self, rcpt: &str) -> RcptVerdict;
    /// Stores the message durably and returns its id; the client hears `250` only after
    /// this returns `Ok`. It has no timeout and shutdown waits for it, for up to
    /// [`SHUTDOWN_GRACE`](super::SHUTDOWN_GRACE); if it is aborted then, no `250` was sent, so the client retries:
    /// store atomically (one transaction) so that an abort leaves nothing half-written.
    async fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> Result<String, DeliverError>;
}
