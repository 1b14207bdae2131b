//! XEP-0114 component links: one per transport domain.
//!
//! The only module that touches the component socket. It owns the session loop on
//! tokio-xmpp's low-level `xmlstream` rather than `tokio_xmpp::Component`, because that
//! stream ends on inbound silence and on any stanza xmpp-parsers cannot parse (so a user
//! could knock a transport offline with `<message type='bogus'/>`). Here:
//!
//! * a stanza that does not parse is skipped and its sender gets `<bad-request/>`;
//! * inbound silence triggers a ping to ourselves through the server, and only a server
//!   that stays silent after that counts as gone;
//! * a stanza whose content XML cannot carry (a control character that escaped
//!   [`crate::xmpp::text`]) is checked before it is written, dropped, logged and counted:
//!   it never reaches the stream, is never retried, and the link stays up;
//! * a lost link reconnects with exponential backoff and jitter (capped at 30 s), while
//!   stanzas for the XMPP side wait in a bounded queue ([`LinkHandle::send`]).
//!
//! The link ends when every [`LinkHandle`] is dropped: it sends what is queued, closes
//! the stream and returns.

mod backoff;
mod markers;
mod session;

pub use backoff::Backoff;
pub(crate) use markers::Markers;

use crate::config::Secret;
use crate::xmpp::room_line::RoomLineCopy;
use minidom::Element;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use xmpp_parsers::stanza::Stanza;

/// Where a link connects and as whom.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// The XMPP server's component port, `host:port`.
    pub server: String,
    /// The component domain.
    pub domain: String,
    /// The component secret.
    pub secret: Secret,
    /// Inbound silence after which the link pings the server.
    pub keepalive: Duration,
    /// How many stanzas wait while the link is down.
    pub queue: usize,
}

/// The link's health, for status commands, presence and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting or authenticating.
    Connecting,
    /// Authenticated and exchanging stanzas.
    Up,
    /// Lost or refused; retrying after a delay.
    Down {
        /// Why, for operators.
        reason: String,
    },
    /// Closed on shutdown.
    Closed,
}

/// The queue toward the XMPP server is full (or the link closed); the stanza was not taken.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A stanza waiting in the queue, holding its share of the queue's bound until written.
pub(crate) struct Queued {
    /// The stanza.
    pub(crate) stanza: Outgoing,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A stanza as the link writes it.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    /// Serialised to an element once (stanza types are not `Clone`; an element is, and a
    /// write that fails keeps it for the next connection). Checked for what XML cannot
    /// carry before it is written.
    Element(Element),
    /// One recipient's copy of a room line, written from the parts every copy shares
    /// (checked once, when the line was made).
    Line(RoomLineCopy),
}

impl Queued {
    /// The stanza as an element (built for a room line's copy).
    pub(crate) fn element(&self) -> std::borrow::Cow<'_, Element> {
        match &self.stanza {
            Outgoing::Element(e) => std::borrow::Cow::Borrowed(e),
            Outgoing::Line(copy) => std::borrow::Cow::Owned(copy.element()),
        }
    }
}

/// The sending side of a link. Cheap to clone.
///
/// The queue holds `queue` ordinary stanzas plus a reserve for error replies, so that a
/// user can still be told `<resource-constraint/>` when the queue is full.
#[derive(Clone)]
pub struct LinkHandle {
    tx: mpsc::Sender<Queued>,
    budget: Arc<Semaphore>,
    limit: usize,
    state: watch::Receiver<LinkState>,
    stats: Arc<LinkStats>,
    domain: Arc<str>,
}

/// Counters kept by a link.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Connections established since start.
    pub connects: std::sync::atomic::AtomicU64,
    /// Stanzas read that did not parse (bounced to their sender).
    pub invalid_stanzas: std::sync::atomic::AtomicU64,
    /// Stanzas not written because XML cannot carry their content (dropped, never retried).
    pub unserialisable: std::sync::atomic::AtomicU64,
    /// Flush markers sent and not yet back from the server.
    pub(crate) markers: Markers,
}

impl LinkHandle {
    /// Queues a stanza for the server. Never waits: when the queue is full the stanza
    /// comes back, so the caller can answer its sender with `<resource-constraint/>`.
    pub fn send(&self, stanza: Stanza) -> Result<(), QueueFull> {
        match self.budget.clone().try_acquire_owned() {
            Ok(permit) => self.push(stanza, Some(permit)),
            Err(_) => Err(QueueFull),
        }
    }

    /// Queues a reply to a user (a result or an error): uses the reserve when the queue
    /// is full, so errors about overload still get out.
    pub fn send_reply(&self, stanza: Stanza) -> Result<(), QueueFull> {
        let permit = self.budget.clone().try_acquire_owned().ok();
        self.push(stanza, permit)
    }

    /// Queues a stanza, waiting while the queue is full (backpressure toward bridges:
    /// nothing is dropped, the foreign side is read more slowly).
    pub async fn send_wait(&self, stanza: Stanza) -> Result<(), QueueFull> {
        let Ok(permit) = self.budget.clone().acquire_owned().await else {
            return Err(QueueFull);
        };
        self.tx
            .send(Queued {
                stanza: Outgoing::Element(stanza.into()),
                _permit: Some(permit),
            })
            .await
            .map_err(|_| QueueFull)
    }

    /// [`LinkHandle::send_wait`] for one recipient's copy of a room line (the relay's hot
    /// path: no typed stanza and no element per recipient).
    pub async fn send_line_wait(&self, copy: RoomLineCopy) -> Result<(), QueueFull> {
        let Ok(permit) = self.budget.clone().acquire_owned().await else {
            return Err(QueueFull);
        };
        self.tx
            .send(Queued {
                stanza: Outgoing::Line(copy),
                _permit: Some(permit),
            })
            .await
            .map_err(|_| QueueFull)
    }

    /// Queues a marker behind everything queued so far (waiting while the queue is full);
    /// the answer comes once the server has sent the marker back, so once it has read
    /// every stanza queued before it on this stream (the queue is written in order, and
    /// the server handles a stream's stanzas in order). The marker is a ping of the
    /// transport to itself, which the link takes back as a keepalive. The receiver errs
    /// when the connection is lost first: what was queued before may or may not have
    /// reached the server.
    pub async fn flushed(&self) -> Result<oneshot::Receiver<()>, QueueFull> {
        let Ok(permit) = self.budget.clone().acquire_owned().await else {
            return Err(QueueFull);
        };
        let (id, answer) = self.stats.markers.add();
        self.tx
            .send(Queued {
                stanza: Outgoing::Element(session::keepalive_ping(&self.domain, &id).into()),
                _permit: Some(permit),
            })
            .await
            .map_err(|_| QueueFull)?;
        Ok(answer)
    }

    /// The markers waiting for the server (the read loop answers them; tests too).
    #[cfg(test)]
    pub(crate) fn markers(&self) -> &Markers {
        &self.stats.markers
    }

    fn push(&self, stanza: Stanza, permit: Option<OwnedSemaphorePermit>) -> Result<(), QueueFull> {
        self.tx
            .try_send(Queued {
                stanza: Outgoing::Element(stanza.into()),
                _permit: permit,
            })
            .map_err(|_| QueueFull)
    }

    /// True when ordinary stanzas would be refused.
    pub fn is_full(&self) -> bool {
        self.budget.available_permits() == 0
    }

    /// The link's current state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// Follows the link's state: every change, including each new connection (tell them
    /// apart from an unbroken one with [`LinkStats::connects`]).
    pub fn state_changes(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// Waits until the link is up (or `deadline` passes); true when up.
    pub async fn wait_up(&self, deadline: Duration) -> bool {
        let mut state = self.state.clone();
        tokio::time::timeout(deadline, state.wait_for(|s| *s == LinkState::Up))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stanzas waiting to be written.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The configured bound for ordinary stanzas.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Counters.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }
}

/// Starts a link task. Stanzas read from the server go to `inbound` (the link waits when
/// the reader is behind). `abort` ends the link at once, even with stanzas queued; the
/// normal way to end it is to drop every [`LinkHandle`].
pub fn spawn(
    config: LinkConfig,
    inbound: mpsc::Sender<Stanza>,
    abort: CancellationToken,
) -> (LinkHandle, tokio::task::JoinHandle<()>) {
    let limit = config.queue.max(1);
    let (tx, rx) = mpsc::channel(limit + (limit / 10).max(16));
    let (state_tx, state_rx) = watch::channel(LinkState::Connecting);
    let stats = Arc::new(LinkStats::default());
    let handle = LinkHandle {
        tx,
        budget: Arc::new(Semaphore::new(limit)),
        limit,
        state: state_rx,
        stats: stats.clone(),
        domain: config.domain.as_str().into(),
    };
    let task = tokio::spawn(run(config, rx, inbound, state_tx, stats, abort));
    (handle, task)
}

async fn run(
    config: LinkConfig,
    mut outbound: mpsc::Receiver<Queued>,
    inbound: mpsc::Sender<Stanza>,
    state: watch::Sender<LinkState>,
    stats: Arc<LinkStats>,
    abort: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    // A stanza taken from the queue whose write failed: sent first after reconnecting.
    let mut unsent: Option<Queued> = None;
    loop {
        state.send_replace(LinkState::Connecting);
        let connected = tokio::select! {
            r = session::connect(&config) => r,
            _ = abort.cancelled() => break,
        };
        match connected {
            Ok(stream) => {
                let since = Instant::now();
                stats
                    .connects
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                state.send_replace(LinkState::Up);
                tracing::info!(domain = %config.domain, "Component link up");
                let end = session::run(
                    stream,
                    &config,
                    &mut outbound,
                    &mut unsent,
                    &inbound,
                    &stats,
                    &abort,
                )
                .await;
                // Markers not sent back on that stream never will be.
                stats.markers.forget();
                match end {
                    session::End::Closed => break,
                    session::End::Lost(reason) => {
                        tracing::warn!(domain = %config.domain, %reason, "Component link lost");
                        state.send_replace(LinkState::Down { reason });
                    }
                }
                if since.elapsed() > Duration::from_secs(10) {
                    backoff.reset();
                }
            }
            Err(e) => {
                tracing::warn!(domain = %config.domain, error = %e, "Component link failed");
                state.send_replace(LinkState::Down {
                    reason: e.to_string(),
                });
            }
        }
        if outbound.is_closed() && outbound.is_empty() && unsent.is_none() {
            break; // shutting down with nothing left to say: do not wait for the server
        }
        let delay = backoff.next_delay();
        tracing::debug!(domain = %config.domain, delay_ms = delay.as_millis() as u64, "Reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = abort.cancelled() => break,
        }
    }
    state.send_replace(LinkState::Closed);
    tracing::info!(domain = %config.domain, "Component link closed");
}

/// A link without a server, for in-process tests and fuzzing: what the code under test
/// sends comes out of the receiver, and the state is set by hand.
pub(crate) fn test_link(
    queue: usize,
) -> (LinkHandle, mpsc::Receiver<Queued>, watch::Sender<LinkState>) {
    let (tx, rx) = mpsc::channel(queue + 16);
    let (state_tx, state) = watch::channel(LinkState::Connecting);
    let handle = LinkHandle {
        tx,
        budget: Arc::new(Semaphore::new(queue)),
        limit: queue,
        state,
        stats: Arc::default(),
        domain: "link.test".into(),
    };
    (handle, rx, state_tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::presence::Presence;

    fn handle(queue: usize) -> (LinkHandle, mpsc::Receiver<Queued>) {
        let (tx, rx) = mpsc::channel(queue + 2);
        let (_, state) = watch::channel(LinkState::Connecting);
        let h = LinkHandle {
            tx,
            budget: Arc::new(Semaphore::new(queue)),
            limit: queue,
            state,
            stats: Arc::default(),
            domain: "link.test".into(),
        };
        (h, rx)
    }

    #[test]
    fn a_full_queue_refuses_ordinary_stanzas_but_takes_replies() {
        let (h, mut rx) = handle(2);
        let p = || Stanza::from(Presence::available());
        h.send(p()).unwrap();
        h.send(p()).unwrap();
        assert!(h.is_full());
        assert!(h.send(p()).is_err(), "past the bound");
        h.send_reply(p()).expect("the reserve takes a reply");
        assert_eq!(h.queued(), 3);
        // Writing a stanza frees its share of the bound.
        drop(rx.try_recv().unwrap());
        assert!(!h.is_full());
        h.send(p()).unwrap();
    }

    #[tokio::test]
    async fn a_flush_marker_answers_once_the_server_sent_it_back() {
        let (h, mut rx) = handle(4);
        h.send(Stanza::from(Presence::available())).unwrap();
        let mut answer = h.flushed().await.unwrap();
        let _first = rx.try_recv().unwrap();
        let marker = rx.try_recv().unwrap();
        assert_eq!(marker.element().name(), "iq", "a ping to ourselves");
        assert!(answer.try_recv().is_err(), "not before it comes back");
        let echo = Stanza::try_from(marker.element().into_owned()).unwrap();
        assert!(h.markers().echoed(&echo));
        assert!(answer.try_recv().is_ok());
        assert!(!h.markers().echoed(&echo), "once");
        // A marker lost with its connection errs instead of hanging.
        let answer = h.flushed().await.unwrap();
        h.markers().forget();
        assert!(answer.await.is_err());
    }
}
