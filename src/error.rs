//! The core's one error type.

use crate::config::ConfigError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong in the gateway core.
#[derive(Debug, Error)]
pub enum Error {
    /// The configuration file has problems (each named with its key).
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The database could not be opened or migrated at startup.
    #[error("cannot open the database {path}: {source}")]
    StoreOpen {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },

    /// A database query failed while running (disk full, locked, corrupt).
    #[error("database error: {0}")]
    Store(#[from] rusqlite::Error),

    /// A stored value could not be decoded (written by an incompatible version?).
    #[error("stored data is unreadable: {0}")]
    StoreDecode(#[from] serde_json::Error),

    /// A database worker thread died.
    #[error("database worker failed: {0}")]
    StoreWorker(String),

    /// The component link could not reach the XMPP server (refused, reset, timed out).
    #[error("cannot reach the XMPP server at {addr}: {source}")]
    LinkIo {
        /// The server address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },

    /// The XMPP server refused the component handshake: a wrong secret, a domain the
    /// server does not declare, or another connection already holding the domain.
    #[error("the XMPP server refused the component {domain}: {reason}")]
    LinkAuth {
        /// The transport domain.
        domain: String,
        /// The server's stream error, when it sent one.
        reason: String,
    },

    /// The server broke the XEP-0114 protocol during the handshake.
    #[error("XMPP stream error on {domain}: {reason}")]
    LinkProtocol {
        /// The transport domain.
        domain: String,
        /// What went wrong.
        reason: String,
    },

    /// A bridge could not start its network-wide part (stored state unreadable, a
    /// listener of its own that cannot bind).
    #[error("the {transport} bridge cannot start: {source}")]
    BridgeStart {
        /// The transport's config key.
        transport: &'static str,
        /// Why.
        source: switchboard_bridge::BridgeError,
    },

    /// The HTTP listener could not bind its address.
    #[error("cannot listen on {addr} for HTTP: {source}")]
    HttpBind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    /// True when trying again later may succeed (the server is down or restarting).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::LinkIo { .. } | Error::LinkProtocol { .. })
    }
}
