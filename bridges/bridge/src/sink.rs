//! The channel a session reports through.

use crate::{Envelope, LoginId, RemoteEvent};
use thiserror::Error;
use tokio::sync::mpsc;

/// The core no longer takes events (it is shutting down, or this login was removed).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the gateway no longer takes events from this session")]
pub struct SinkClosed;

/// Where a session sends its [`RemoteEvent`]s. Cheap to clone.
///
/// Bounded: when the core is behind, `emit` waits, so a session slows its foreign
/// connection down instead of losing events.
#[derive(Clone, Debug)]
pub struct EventSink {
    login: LoginId,
    tx: mpsc::Sender<Envelope>,
}

impl EventSink {
    /// A sink that stamps events with `login` (called by the core).
    pub fn new(login: LoginId, tx: mpsc::Sender<Envelope>) -> Self {
        Self { login, tx }
    }

    /// The login this sink reports for.
    pub fn login(&self) -> &LoginId {
        &self.login
    }

    /// Reports one event; waits while the core is behind.
    pub async fn emit(&self, event: RemoteEvent) -> Result<(), SinkClosed> {
        self.tx
            .send(Envelope {
                login: self.login.clone(),
                event,
            })
            .await
            .map_err(|_| SinkClosed)
    }
}
