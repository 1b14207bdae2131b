//! Network-wide work of a bridge: starting it (routes, stored state). The events it sends
//! for users who may have no session yet (an SMS to a number, a mail to an alias) go
//! through the store ([`super::inbound`]).

use super::Transport;
use std::sync::Arc;
use switchboard_bridge::{axum::Router, BridgeError, BridgeStore, Network};
use tokio_util::sync::CancellationToken;

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
}
