//! Delivery of a login's stored messages to its foreign session, in order.
//!
//! A message is removed from the outbox only when the bridge took it. Transient failures
//! are retried with backoff (the message stays stored, so a restart retries too);
//! permanent failures, and transient ones that last past [`MAX_ATTEMPTS`], come back to
//! the sender as an error.

use super::Transport;
use crate::link::Backoff;
use crate::store::OutboxEntry;
use crate::xmpp::errors;
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_bridge::{BridgeError, LoginId, Session};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Id, Message};

/// Attempts before a transiently failing message is given up (about a day with the
/// backoff below).
const MAX_ATTEMPTS: u32 = 300;
const BATCH: usize = 64;

pub(super) async fn worker(
    transport: Arc<Transport>,
    login: LoginId,
    session: Arc<dyn Session>,
    notify: Arc<Notify>,
    queued: Arc<AtomicU64>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(300));
    // Networks where order does not matter take several messages at once (an SMS API);
    // with a window of 1 the messages go strictly one after the other.
    let window = transport.connector.info().send_window.max(1);
    loop {
        let batch = match transport.store.outbox_pending(&login, BATCH).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(login = %login, error = %e, "Cannot read the outbox");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = notify.notified() => continue,
                _ = cancel.cancelled() => return,
            }
        }
        // A sliding window: a new message goes out as soon as one in flight is answered.
        // After a transient failure nothing new is started; what is in flight finishes.
        let mut waiting = batch.iter();
        let mut in_flight = FuturesUnordered::new();
        let mut retry = None;
        loop {
            while retry.is_none() && in_flight.len() < window {
                let Some(entry) = waiting.next() else { break };
                let session = &session;
                in_flight.push(async move {
                    let result = session.send_message(entry.entry.message.clone()).await;
                    (entry, result)
                });
            }
            let next = tokio::select! {
                next = in_flight.next() => next,
                _ = cancel.cancelled() => return,
            };
            let Some((entry, result)) = next else { break };
            match result {
                Ok(_) => {
                    remove(&transport, entry, &queued).await;
                    reflect(&transport, &login, entry).await;
                }
                Err(e) if e.is_transient() && entry.attempts + 1 < MAX_ATTEMPTS => {
                    let _ = transport.store.outbox_attempted(entry.id).await;
                    retry = Some(e);
                }
                Err(e) => {
                    tracing::info!(login = %login, error = %e, "Delivery failed for good");
                    remove(&transport, entry, &queued).await;
                    let _ = transport.store.receipt_take(&entry.entry.message.txn).await;
                    bounce(&transport, entry, &e);
                }
            }
        }
        match retry {
            // What failed is still stored: it is read again, first, after the delay.
            Some(e) => {
                let delay = backoff.next_delay();
                tracing::info!(login = %login, error = %e, delay_ms = delay.as_millis() as u64, "Delivery failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return,
                }
            }
            None => backoff.reset(),
        }
    }
}

/// Removes a message the network took. Queued, not waited for: the next read of the
/// outbox comes after it, and the removals of many messages share one commit.
async fn remove(transport: &Transport, entry: &OutboxEntry, queued: &AtomicU64) {
    let _ = queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    let removed = transport.store.outbox_remove(entry.id);
    tokio::spawn(async move {
        if let Err(e) = removed.await {
            // Left in place it would be sent again after a restart; say so loudly.
            tracing::error!(error = %e, "Cannot remove a delivered message from the outbox");
        }
    });
}

/// A message to a group is shown back to every resource of the sender in the room, with
/// the id the sender gave it, once the network took it (XEP-0045 reflection).
async fn reflect(transport: &Transport, login: &LoginId, entry: &OutboxEntry) {
    let message = &entry.entry.message;
    if let switchboard_bridge::Chat::Group(group) = &message.chat {
        let body = crate::xmpp::message::body(&message.content);
        transport
            .to_room(
                login,
                group,
                None,
                body,
                entry.entry.stanza_id.clone(),
                None,
            )
            .await;
    }
}

/// Tells the sender that their message could not be delivered.
fn bounce(transport: &Transport, entry: &OutboxEntry, e: &BridgeError) {
    let (Ok(to), Ok(from)) = (
        Jid::new(&entry.entry.sender),
        Jid::new(&entry.entry.recipient),
    ) else {
        return;
    };
    let mut m = Message::error(to).with_payload(errors::from_bridge(e));
    m.from = Some(from);
    m.id = entry.entry.stanza_id.clone().map(Id);
    m.bodies
        .insert("".into(), entry.entry.message.content.text.clone());
    transport.reply(m);
}
