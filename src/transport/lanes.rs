//! One lane per user: the stanzas of each user are served in order by a task of their
//! own, so a bridge call that waits on a foreign peer (a slow IRC server, an SMTP relay,
//! a LIST that never ends) delays only the user it belongs to, never the transport's
//! shared loop or another user.
//!
//! A lane's queue is bounded: a user whose lane is full gets `resource-constraint`
//! (type `wait`) at once. A lane with nothing to do for a while ends; the next stanza
//! starts a new one.

use super::Transport;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

/// Stanzas of one user waiting to be served. Large enough for a client's bursts (a
/// client joining its hundred bookmarked rooms at login sends them all at once).
pub(super) const LANE_QUEUE: usize = 512;
/// A lane idle this long ends.
const LANE_IDLE: Duration = Duration::from_secs(60);

/// The running lanes, by user.
#[derive(Default)]
pub(super) struct Lanes(HashMap<BareJid, mpsc::Sender<(Jid, Stanza)>>);

impl Transport {
    /// Hands an admitted stanza from `from` to that user's lane, starting it if needed.
    pub(super) fn to_lane(self: &Arc<Self>, from: Jid, stanza: Stanza) {
        let user = from.to_bare();
        let refused = {
            let mut lanes = self.lanes.lock().expect("lanes poisoned");
            let tx = lanes.0.entry(user.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(LANE_QUEUE);
                self.tasks.spawn(lane(self.clone(), user.clone(), rx));
                tx
            });
            match tx.try_send((from, stanza)) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full((_, stanza))) => Some(stanza),
                // A lane ends only under this lock with its queue empty, and removes
                // itself first: a closed sender here means shutdown.
                Err(mpsc::error::TrySendError::Closed(_)) => None,
            }
        };
        if let Some(stanza) = refused {
            self.lane_full
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(domain = %self.domain, user = %user, "A user's requests wait for their network; refusing one more");
            self.reply_error(
                &stanza,
                ErrorType::Wait,
                DefinedCondition::ResourceConstraint,
                format!(
                    "{LANE_QUEUE} of your requests are still waiting for the network; try again in a moment"
                ),
            );
        }
    }
}

async fn lane(t: Arc<Transport>, user: BareJid, mut rx: mpsc::Receiver<(Jid, Stanza)>) {
    let stop = t.session_shutdown.clone();
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(LANE_IDLE, rx.recv()) => next,
            _ = stop.cancelled() => return,
        };
        match next {
            Ok(Some((from, stanza))) => tokio::select! {
                _ = t.serve(from, stanza) => {}
                _ = stop.cancelled() => return,
            },
            Ok(None) => return,
            Err(_) => {
                let mut lanes = t.lanes.lock().expect("lanes poisoned");
                if rx.is_empty() {
                    lanes.0.remove(&user);
                    return;
                }
            }
        }
    }
}
