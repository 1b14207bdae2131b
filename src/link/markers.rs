//! Flush markers: pings of the transport to itself queued behind other stanzas, answered
//! when the server sends them back (so it has read everything before them).

use super::session::KEEPALIVE_ID;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza::Stanza;

/// Markers sent and not yet back, by stanza id.
#[derive(Debug, Default)]
pub(crate) struct Markers {
    next: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<()>>>,
}

impl Markers {
    /// A new marker id and the receiver told when it comes back.
    pub(super) fn add(&self) -> (String, oneshot::Receiver<()>) {
        let id = format!(
            "{KEEPALIVE_ID}-flush-{}",
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let (tell, answer) = oneshot::channel();
        self.lock().insert(id.clone(), tell);
        (id, answer)
    }

    /// A keepalive read from the server: when it is a marker, tells its waiter. True when
    /// it was one.
    pub(crate) fn echoed(&self, stanza: &Stanza) -> bool {
        let Stanza::Iq(Iq::Get { id, .. } | Iq::Result { id, .. }) = stanza else {
            return false;
        };
        match self.lock().remove(id) {
            Some(tell) => {
                let _ = tell.send(());
                true
            }
            None => false,
        }
    }

    /// The connection is gone: no marker sent on it comes back; their waiters are told.
    pub(crate) fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
        self.waiting.lock().expect("markers mutex poisoned")
    }
}
