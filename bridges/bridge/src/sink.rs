//! The channel a session reports through.

use crate::fair::FairTx;
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
/// connection down instead of losing events. The core gives each session a queue of its
/// own ([`crate::EventQueues`]), so a session waits only for its own backlog.
#[derive(Clone, Debug)]
pub struct EventSink {
    login: LoginId,
    pub(crate) tx: Tx,
}

#[derive(Clone, Debug)]
pub(crate) enum Tx {
    /// A channel shared with whoever else the caller gave it to.
    Channel(mpsc::Sender<Envelope>),
    /// A queue of this sink's own, taken in turn with the others.
    Fair(FairTx),
}

impl EventSink {
    /// A sink that stamps events with `login` and sends them into `tx` (tests, and a
    /// bridge's own plumbing; the core uses [`crate::EventQueues::sink`]).
    pub fn new(login: LoginId, tx: mpsc::Sender<Envelope>) -> Self {
        Self {
            login,
            tx: Tx::Channel(tx),
        }
    }

    pub(crate) fn fair(login: LoginId, tx: FairTx) -> Self {
        Self {
            login,
            tx: Tx::Fair(tx),
        }
    }

    /// The login this sink reports for.
    pub fn login(&self) -> &LoginId {
        &self.login
    }

    /// Reports one event; waits while the core is behind.
    pub async fn emit(&self, event: RemoteEvent) -> Result<(), SinkClosed> {
        match &self.tx {
            Tx::Channel(tx) => tx
                .send(Envelope {
                    login: self.login.clone(),
                    event,
                })
                .await
                .map_err(|_| SinkClosed),
            Tx::Fair(tx) => tx.send(event).await,
        }
    }
}
