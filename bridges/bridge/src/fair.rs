//! Per-login event queues, taken in turn: the sessions of a transport each report into a
//! small bounded queue of their own, and the core takes one event from each queue that
//! has any, round and round. A session flooded by its foreign peer fills only its own
//! queue and then waits (its foreign connection is read no further); every other
//! session's events still come out after at most one of the flood's per turn.
//!
//! The order of one sink's events is kept; nothing is dropped. Dropping the
//! [`EventReceiver`] closes every sink made from its [`EventQueues`].

use crate::sink::SinkClosed;
use crate::{Envelope, EventSink, LoginId, RemoteEvent};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// Makes the sinks of one transport's sessions (cheap to clone).
#[derive(Clone, Debug)]
pub struct EventQueues {
    shared: Arc<Shared>,
}

/// The core's end: takes the sessions' events in turn.
#[derive(Debug)]
pub struct EventReceiver {
    shared: Arc<Shared>,
}

/// New queues of `per_login` events each (at least one), and their receiver.
pub fn event_queues(per_login: usize) -> (EventQueues, EventReceiver) {
    let shared = Arc::new(Shared {
        ready: Mutex::default(),
        wake: Notify::new(),
        closed: CancellationToken::new(),
        per_login: per_login.max(1),
        full: AtomicU64::new(0),
    });
    (
        EventQueues {
            shared: shared.clone(),
        },
        EventReceiver { shared },
    )
}

#[derive(Debug)]
struct Shared {
    /// Queues with events, in the order of their next turn.
    ready: Mutex<VecDeque<Arc<Queue>>>,
    /// Rung when a queue joins `ready`.
    wake: Notify,
    /// Cancelled when the receiver is gone.
    closed: CancellationToken,
    per_login: usize,
    /// Emits that found their queue full and waited.
    full: AtomicU64,
}

impl Shared {
    fn ready(&self) -> MutexGuard<'_, VecDeque<Arc<Queue>>> {
        self.ready.lock().expect("event turns poisoned")
    }
}

/// One sink's queue.
#[derive(Debug)]
pub(crate) struct Queue {
    login: LoginId,
    state: Mutex<QueueState>,
    /// Free places in the queue.
    room: Semaphore,
}

#[derive(Debug, Default)]
struct QueueState {
    events: VecDeque<RemoteEvent>,
    /// In `ready`, or taken out of it by the receiver for its turn.
    scheduled: bool,
}

impl Queue {
    fn state(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().expect("event queue poisoned")
    }
}

impl EventQueues {
    /// A sink of its own, with an empty queue, for the session of `login`.
    pub fn sink(&self, login: LoginId) -> EventSink {
        let queue = Arc::new(Queue {
            login: login.clone(),
            state: Mutex::default(),
            room: Semaphore::new(self.shared.per_login),
        });
        EventSink::fair(
            login,
            FairTx {
                queue,
                shared: self.shared.clone(),
            },
        )
    }

    /// How many times a session found its queue full and waited (its foreign side was
    /// then read more slowly).
    pub fn full(&self) -> u64 {
        self.shared.full.load(Ordering::Relaxed)
    }
}

/// A sink's way into its queue.
#[derive(Clone, Debug)]
pub(crate) struct FairTx {
    queue: Arc<Queue>,
    shared: Arc<Shared>,
}

impl FairTx {
    /// Queues one event, waiting while this sink's queue is full.
    pub(crate) async fn send(&self, event: RemoteEvent) -> Result<(), SinkClosed> {
        let closed = &self.shared.closed;
        if closed.is_cancelled() {
            return Err(SinkClosed);
        }
        let permit = match self.queue.room.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                self.shared.full.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    permit = self.queue.room.acquire() => permit.map_err(|_| SinkClosed)?,
                    _ = closed.cancelled() => return Err(SinkClosed),
                }
            }
        };
        // The receiver gives the place back when it takes the event.
        permit.forget();
        let schedule = {
            let mut state = self.queue.state();
            state.events.push_back(event);
            !std::mem::replace(&mut state.scheduled, true)
        };
        if schedule {
            self.shared.ready().push_back(self.queue.clone());
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Events waiting in this sink's queue.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.queue.state().events.len()
    }
}

impl EventReceiver {
    /// The next event: one from the queue whose turn it is. Waits while every queue is
    /// empty. Cancel-safe (nothing is taken unless it is returned).
    pub async fn recv(&mut self) -> Envelope {
        loop {
            if let Some(envelope) = self.try_recv() {
                return envelope;
            }
            self.shared.wake.notified().await;
        }
    }

    /// The next event, if any is waiting.
    pub fn try_recv(&mut self) -> Option<Envelope> {
        let queue = self.shared.ready().pop_front()?;
        let (event, again) = {
            let mut state = queue.state();
            let event = state
                .events
                .pop_front()
                .expect("a queue in turn has an event");
            let again = !state.events.is_empty();
            state.scheduled = again;
            (event, again)
        };
        queue.room.add_permits(1);
        let login = queue.login.clone();
        if again {
            self.shared.ready().push_back(queue);
        }
        Some(Envelope { login, event })
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        self.shared.closed.cancel();
        self.shared.ready().clear();
    }
}

#[cfg(test)]
#[path = "fair_tests.rs"]
mod tests;
