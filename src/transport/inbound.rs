//! Network-wide events from the bridge (an SMS to a number, a mail to an alias, a
//! delivery report), stored before they are acknowledged and delivered from storage.
//!
//! * The acceptor takes each [`Delivery`] from the bridge's inbox, checks what can be
//!   refused for good at once (an owner that is no JID, or outside `xmpp.allow`), writes
//!   its items in one transaction to the store (deduplicated by their `once` keys) and
//!   only then answers the bridge, which answers the provider (2xx) or the mail client
//!   (250). A store that fails answers transient, so the foreign side retries.
//! * The worker reads what is stored, in order of arrival (so in order per user), waits
//!   for the component link, has the run loop turn each event into stanzas, then queues a
//!   marker behind them (a ping of the transport to itself) and removes the rows once the
//!   XMPP server has sent the marker back, so has read every stanza before it. A crash or
//!   SIGKILL of the gateway or the server before that leaves the rows stored: they are
//!   delivered again (at the next start, or on the next connection) with the stanza ids
//!   minted when they were stored.

use super::Transport;
use crate::access::Access;
use crate::link::{Backoff, LinkHandle};
use crate::store::{InboundId, Store, StoredInbound};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_bridge::{Accepted, BridgeError, Counter, Delivery, Envelope, Recipient};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;
use xmpp_parsers::jid::{BareJid, Jid};

/// How long a deduplication key (Twilio's `MessageSid`, a mail's Message-ID) is kept.
pub(crate) const DEDUPE_KEEP: Duration = Duration::from_secs(7 * 86_400);
/// Events handed to the link per marker.
const BATCH: usize = 64;
/// How long the server may take to send a flush marker back.
const ECHO_WAIT: Duration = Duration::from_secs(60);
/// Transient failures before a stored event is given up (hours with the backoff below).
const MAX_ATTEMPTS: u32 = 500;

/// One stored event on its way to the run loop, with the answer coming back.
pub(super) type ToLoop = (StoredInbound, oneshot::Sender<Result<(), BridgeError>>);

/// What the inbound path counts, for `/metrics`.
#[derive(Debug, Default)]
pub(super) struct InboundStats {
    stored: AtomicU64,
    duplicates: AtomicU64,
    store_failures: AtomicU64,
    refused: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
}

impl InboundStats {
    pub(super) fn counters(&self) -> Vec<Counter> {
        let c = |name, help, v: &AtomicU64| Counter {
            name,
            help,
            value: v.load(Ordering::Relaxed),
        };
        vec![
            c(
                "switchboard_inbound_stored_total",
                "Events from the bridge (SMS, mail, reports) stored before they were acknowledged.",
                &self.stored,
            ),
            c(
                "switchboard_inbound_duplicates_total",
                "Events whose key (MessageSid, Message-ID) was taken before: acknowledged, not delivered again.",
                &self.duplicates,
            ),
            c(
                "switchboard_inbound_store_failures_total",
                "Hand-overs refused because the store failed (the provider or mail client retries).",
                &self.store_failures,
            ),
            c(
                "switchboard_inbound_refused_total",
                "Hand-overs refused for good (owner not a JID or outside xmpp.allow).",
                &self.refused,
            ),
            c(
                "switchboard_inbound_delivered_total",
                "Stored events handed to the XMPP server and removed from the store.",
                &self.delivered,
            ),
            c(
                "switchboard_inbound_dropped_total",
                "Stored events that could not be delivered for good (no user, refused owner).",
                &self.dropped,
            ),
        ]
    }
}

/// Checks and stores one delivery; the answer the bridge gets.
pub(super) async fn accept(
    store: &dyn Store,
    access: &Access,
    domain: &str,
    stats: &InboundStats,
    delivery: &Delivery,
) -> Result<Vec<Accepted>, BridgeError> {
    for item in &delivery.items {
        if let Recipient::Owner(owner) = &item.to {
            if let Err(e) = check_owner(access, owner) {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
    match store
        .inbound_push(domain, &delivery.items, DEDUPE_KEEP)
        .await
    {
        Ok(answers) => {
            for a in &answers {
                let counter = match a {
                    Accepted::Stored => &stats.stored,
                    Accepted::Duplicate => &stats.duplicates,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if answers.contains(&Accepted::Duplicate) {
                tracing::info!(%domain, "A repeated event (same MessageSid or Message-ID) was not stored again");
            }
            Ok(answers)
        }
        Err(e) => {
            stats.store_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%domain, error = %e, "Cannot store an inbound event; refusing it so that it is sent again");
            Err(BridgeError::Transient(
                "the gateway cannot store this now".into(),
            ))
        }
    }
}

/// An owner as the core will use it: a bare JID that may use the gateway.
pub(super) fn check_owner(access: &Access, owner: &str) -> Result<BareJid, BridgeError> {
    let jid = BareJid::new(owner)
        .map_err(|e| BridgeError::InvalidAddress(format!("owner {owner}: {e}")))?;
    if !access.allowed(&Jid::from(jid.clone())) {
        tracing::warn!(owner = %jid, "Not delivering to a user outside xmpp.allow");
        return Err(BridgeError::NotAllowed(format!(
            "{jid} may not use this gateway (xmpp.allow)"
        )));
    }
    Ok(jid)
}

/// Serves the bridge's inbox until `shutdown`; wakes `stored` after each write.
pub(super) async fn acceptor(
    transport: Arc<Transport>,
    mut deliveries: mpsc::Receiver<Delivery>,
    stored: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            Some(d) = deliveries.recv() => d,
            _ = shutdown.cancelled() => return,
        };
        let answer = accept(
            transport.store.as_ref(),
            &transport.access,
            &transport.domain,
            &transport.inbound_stats,
            &delivery,
        )
        .await;
        if answer.as_ref().is_ok_and(|a| a.contains(&Accepted::Stored)) {
            stored.notify_one();
        }
        let _ = delivery.done.send(answer);
    }
}

/// Delivers what is stored, oldest first, until `shutdown`.
pub(super) async fn worker(
    transport: Arc<Transport>,
    to_loop: mpsc::Sender<ToLoop>,
    stored: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let link = transport.link.clone();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    loop {
        let batch = match transport
            .store
            .inbound_pending(&transport.domain, BATCH)
            .await
        {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(domain = %transport.domain, error = %e, "Cannot read stored inbound events");
                if pause(backoff.next_delay(), &shutdown).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = stored.notified() => continue,
                _ = shutdown.cancelled() => return,
            }
        }
        // Handed over only while the server can have them: a link that is down would
        // keep them in memory, where a crash loses nothing (they are stored) but a long
        // outage would fill the queue.
        if !wait_up(&link, &shutdown).await {
            return;
        }
        let Some(outcome) = hand_over(&transport, &to_loop, batch, &shutdown).await else {
            return;
        };
        let Some(read) = wait_read(&link, &outcome.done, &shutdown).await else {
            return;
        };
        if read {
            finish(&transport, &outcome).await;
        }
        if outcome.retry {
            if pause(backoff.next_delay(), &shutdown).await {
                return;
            }
        } else {
            backoff.reset();
        }
    }
}

/// What became of a batch in the run loop.
struct Outcome {
    /// Turned into stanzas (queued on the link) or refused for good: removed once the
    /// marker is back.
    done: Vec<InboundId>,
    /// Of those, how many were refused for good.
    dropped: u64,
    /// A transient failure stopped the batch (what follows stays stored, in order).
    retry: bool,
}

async fn hand_over(
    transport: &Transport,
    to_loop: &mpsc::Sender<ToLoop>,
    batch: Vec<StoredInbound>,
    shutdown: &CancellationToken,
) -> Option<Outcome> {
    let mut outcome = Outcome {
        done: Vec::new(),
        dropped: 0,
        retry: false,
    };
    for row in batch {
        let (id, attempts) = (row.id, row.attempts);
        let (tell, answer) = oneshot::channel();
        if to_loop.send((row, tell)).await.is_err() {
            return None;
        }
        let result = tokio::select! {
            r = answer => r.ok()?,
            _ = shutdown.cancelled() => return None,
        };
        match result {
            Ok(()) => outcome.done.push(id),
            Err(e) if e.is_transient() && attempts + 1 < MAX_ATTEMPTS => {
                tracing::info!(domain = %transport.domain, error = %e, "A stored event cannot be delivered yet; retrying");
                let _ = transport.store.inbound_attempted(id).await;
                outcome.retry = true;
                break; // in order: nothing after it goes first
            }
            Err(e) => {
                tracing::warn!(domain = %transport.domain, error = %e, "A stored event cannot be delivered; dropped");
                outcome.done.push(id);
                outcome.dropped += 1;
            }
        }
    }
    Some(outcome)
}

/// Waits until the server has sent back the marker queued behind `done`'s stanzas, so
/// has read them. `Some(false)`: the connection was lost first, or the marker did not
/// come back in time (the rows stay stored and are delivered again, with the same
/// stanza ids); `None`: shutting down.
async fn wait_read(
    link: &LinkHandle,
    done: &[InboundId],
    shutdown: &CancellationToken,
) -> Option<bool> {
    if done.is_empty() {
        return Some(false);
    }
    let Ok(marker) = link.flushed().await else {
        return Some(false);
    };
    // On shutdown the link still writes what is queued; what the server did not send
    // back stays stored and goes out at the next start.
    tokio::select! {
        r = tokio::time::timeout(ECHO_WAIT, marker) => match r {
            Ok(r) => Some(r.is_ok()),
            Err(_) => {
                tracing::warn!("The XMPP server did not send a flush marker back; delivering again");
                Some(false)
            }
        },
        _ = shutdown.cancelled() => None,
    }
}

async fn finish(transport: &Transport, outcome: &Outcome) {
    let stats = &transport.inbound_stats;
    match transport.store.inbound_remove(&outcome.done).await {
        Ok(()) => {
            let delivered = outcome.done.len() as u64 - outcome.dropped;
            stats.delivered.fetch_add(delivered, Ordering::Relaxed);
            stats.dropped.fetch_add(outcome.dropped, Ordering::Relaxed);
        }
        // Left in place they are delivered again (same stanza ids); say so loudly.
        Err(e) => {
            tracing::error!(domain = %transport.domain, error = %e, "Cannot remove delivered inbound events")
        }
    }
}

async fn wait_up(link: &LinkHandle, shutdown: &CancellationToken) -> bool {
    let mut state = link.state_changes();
    tokio::select! {
        r = state.wait_for(|s| *s == crate::link::LinkState::Up) => r.is_ok(),
        _ = shutdown.cancelled() => false,
    }
}

/// Sleeps; true when shutdown came first.
async fn pause(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => false,
        _ = shutdown.cancelled() => true,
    }
}

impl Transport {
    /// One stored event, in the run loop: found its user (opening a session when the
    /// network needs no registration) and turned into stanzas with the stored ids.
    pub(super) async fn handle_stored(
        self: &Arc<Self>,
        row: StoredInbound,
    ) -> Result<(), BridgeError> {
        let login = match row.to {
            Recipient::Login(login) => match self.sessions().get(&login) {
                Some(_) => login,
                None => return Err(BridgeError::NotFound(format!("no session {login}"))),
            },
            Recipient::Owner(owner) => {
                let jid = check_owner(&self.access, &owner)?;
                self.login_for(&jid).await?
            }
        };
        self.handle_event_with_id(
            Envelope {
                login,
                event: row.event,
            },
            Some(&row.stanza_id),
        )
        .await;
        Ok(())
    }

    /// Events stored and not yet handed to the XMPP server.
    pub async fn inbound_waiting(&self) -> u64 {
        self.store
            .inbound_total(&self.domain)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Cannot count stored inbound events");
                0
            })
    }
}

#[cfg(test)]
mod tests;
