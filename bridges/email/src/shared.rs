//! State shared by the connector, its sessions and the SMTP listener.

use crate::compose::Thread;
use crate::config::EmailConfig;
use crate::relay::Relay;
use std::sync::OnceLock;
use switchboard_bridge::{BridgeError, Network};

/// Store key of an alias (its owner, a bare JID).
pub fn alias_key(alias: &str) -> String {
    format!("alias:{alias}")
}

/// Store key of the alias an owner holds.
pub fn owner_key(owner: &str) -> String {
    format!("owner:{owner}")
}

/// Store key of a conversation thread.
pub fn thread_key(owner: &str, correspondent: &str) -> String {
    format!("thread:{owner}:{}", correspondent.to_ascii_lowercase())
}

/// Everything the connector, sessions and the listener share.
pub struct Shared {
    /// The configuration.
    pub config: EmailConfig,
    /// The outgoing relay.
    pub relay: Relay,
    /// Set when the transport starts.
    pub network: OnceLock<Network>,
    /// Counters of the inbound listener (limits hit, unverified senders).
    pub inbound: InboundStats,
}

/// Counters of inbound mail for `/metrics`.
#[derive(Default)]
pub struct InboundStats {
    /// The SMTP listener's limits.
    pub smtp: std::sync::Arc<crate::smtp::SmtpStats>,
    /// Mail refused: its sender was not verified.
    pub unverified_refused: std::sync::atomic::AtomicU64,
    /// Mail delivered marked as from an unverified sender.
    pub unverified_marked: std::sync::atomic::AtomicU64,
}

impl InboundStats {
    /// The counters, for `/metrics`.
    pub fn counters(&self) -> Vec<switchboard_bridge::Counter> {
        use std::sync::atomic::Ordering::Relaxed;
        let counter =
            |name, help, value: &std::sync::atomic::AtomicU64| switchboard_bridge::Counter {
                name,
                help,
                value: value.load(Relaxed),
            };
        let smtp = &self.smtp;
        vec![
            counter(
                "switchboard_email_smtp_refused_busy_total",
                "SMTP connections refused: the listener was full",
                &smtp.refused_busy,
            ),
            counter(
                "switchboard_email_smtp_refused_per_ip_total",
                "SMTP connections refused: their IP address held max_connections_per_ip",
                &smtp.refused_per_ip,
            ),
            counter(
                "switchboard_email_smtp_closed_errors_total",
                "SMTP sessions closed after too many errors or refused recipients",
                &smtp.closed_errors,
            ),
            counter(
                "switchboard_email_smtp_closed_idle_total",
                "SMTP sessions closed after too many commands without mail",
                &smtp.closed_idle,
            ),
            counter(
                "switchboard_email_smtp_closed_lifetime_total",
                "SMTP sessions closed at max_session",
                &smtp.closed_lifetime,
            ),
            counter(
                "switchboard_email_smtp_rcpt_refused_total",
                "Recipients refused with 550",
                &smtp.rcpt_refused,
            ),
            counter(
                "switchboard_email_unverified_refused_total",
                "Inbound mail refused: its sender was not verified",
                &self.unverified_refused,
            ),
            counter(
                "switchboard_email_unverified_marked_total",
                "Inbound mail delivered marked as from an unverified sender",
                &self.unverified_marked,
            ),
        ]
    }
}

impl Shared {
    /// The network context; the core starts a connector before anything else runs.
    pub fn network(&self) -> Result<&Network, BridgeError> {
        self.network
            .get()
            .ok_or_else(|| BridgeError::Transient("the email bridge is starting".into()))
    }

    /// Gives `alias` to `owner` (releasing the owner's earlier alias), unless someone
    /// else holds it.
    pub async fn claim_alias(&self, alias: &str, owner: &str) -> Result<(), BridgeError> {
        let store = &self.network()?.store;
        if let Some(holder) = store.get(&alias_key(alias)).await? {
            if holder != owner {
                return Err(BridgeError::Conflict(format!(
                    "{alias}@{} is taken; choose another alias",
                    self.config.address_domain
                )));
            }
        }
        if let Some(old) = store.get(&owner_key(owner)).await? {
            if old != alias {
                store.delete(&alias_key(&old)).await?;
            }
        }
        store.put(&alias_key(alias), owner, None).await?;
        store.put(&owner_key(owner), alias, None).await?;
        Ok(())
    }

    /// Frees the alias of `owner` (on unregistration).
    pub async fn release_alias(&self, owner: &str) -> Result<(), BridgeError> {
        let store = &self.network()?.store;
        if let Some(alias) = store.get(&owner_key(owner)).await? {
            store.delete(&alias_key(&alias)).await?;
            store.delete(&owner_key(owner)).await?;
        }
        Ok(())
    }

    /// The alias `owner` holds, if they registered.
    pub async fn alias_of(&self, owner: &str) -> Result<Option<String>, BridgeError> {
        Ok(self.network()?.store.get(&owner_key(owner)).await?)
    }

    /// Who holds `alias`.
    pub async fn owner_of_alias(&self, alias: &str) -> Result<Option<String>, BridgeError> {
        Ok(self.network()?.store.get(&alias_key(alias)).await?)
    }

    /// The thread with a correspondent.
    pub async fn thread(&self, owner: &str, correspondent: &str) -> Result<Thread, BridgeError> {
        let json = self
            .network()?
            .store
            .get(&thread_key(owner, correspondent))
            .await?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Saves the thread with a correspondent.
    pub async fn save_thread(
        &self,
        owner: &str,
        correspondent: &str,
        thread: &Thread,
    ) -> Result<(), BridgeError> {
        let json = serde_json::to_string(thread).unwrap_or_default();
        self.network()?
            .store
            .put(&thread_key(owner, correspondent), &json, None)
            .await?;
        Ok(())
    }
}
