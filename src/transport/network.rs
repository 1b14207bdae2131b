//! Network-wide work of a bridge: starting it (routes, stored state) and events it sends
//! for users who may have no session yet (an SMS to a number, a mail to an alias).

use super::Transport;
use std::sync::Arc;
use switchboard_bridge::{
    axum::Router, BridgeError, BridgeStore, Delivery, Envelope, Network, Recipient,
};
use tokio_util::sync::CancellationToken;
use xmpp_parsers::jid::{BareJid, Jid};

impl Transport {
    /// Starts the bridge's network-wide part; returns the HTTP routes it serves.
    pub async fn start_network(
        &self,
        store: Arc<dyn BridgeStore>,
        public_url: Option<String>,
        shutdown: CancellationToken,
    ) -> Result<Option<Router>, BridgeError> {
        self.connector
            .start(Network {
                inbox: self.inbox.clone(),
                store,
                shutdown,
                public_url,
                watcher: self.watch.clone(),
            })
            .await
    }

    /// One event from the bridge's inbox: found its user (opening a session when the
    /// network needs no registration), turned into stanzas, then acknowledged.
    pub(super) async fn handle_delivery(self: &Arc<Self>, delivery: Delivery) {
        let Delivery { to, event, done } = delivery;
        // What the bridge hands over here it may then forget (an SMS answered 200, a mail
        // removed from its store): take it only while the XMPP server can have it.
        if self.link.state() != crate::link::LinkState::Up {
            let _ = done.send(Err(BridgeError::Transient(
                "the XMPP server is not connected".into(),
            )));
            return;
        }
        let login = match to {
            Recipient::Login(login) => match self.sessions().get(&login) {
                Some(_) => Ok(login),
                None => Err(BridgeError::NotFound(format!("no session {login}"))),
            },
            Recipient::Owner(owner) => self.owner_login(&owner).await,
        };
        let result = match login {
            Ok(login) => {
                self.handle_event(Envelope { login, event }).await;
                Ok(())
            }
            Err(e) => Err(e),
        };
        let _ = done.send(result);
    }

    async fn owner_login(
        self: &Arc<Self>,
        owner: &str,
    ) -> Result<switchboard_bridge::LoginId, BridgeError> {
        let jid = BareJid::new(owner)
            .map_err(|e| BridgeError::InvalidAddress(format!("owner {owner}: {e}")))?;
        if !self.access.allowed(&Jid::from(jid.clone())) {
            tracing::warn!(domain = %self.domain, owner = %jid, "Not delivering to a user outside xmpp.allow");
            return Err(BridgeError::NotAllowed(format!(
                "{jid} may not use this gateway (xmpp.allow)"
            )));
        }
        self.login_for(&jid).await
    }
}
