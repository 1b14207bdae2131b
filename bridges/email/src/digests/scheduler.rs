//! Sends digests when due: one scan of a source's items for all its due subscriptions,
//! a few mails in flight at once, and each subscription's progress stored so that a
//! digest goes out once and nothing collected is lost across restarts.

use super::subscription::{self, InFlight, SourceRef, Subscription};
use super::Digests;
use crate::address::MailAddress;
use crate::digest::{self, Item, Source};
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use switchboard_bridge::BridgeError;

/// The longest the scheduler sleeps without looking (clock changes, missed wakes).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// When the relay could not take a digest, the next try.
const RETRY: chrono::Duration = chrono::Duration::seconds(60);

/// Items of one source, in key order.
type Items = Vec<(String, Item)>;

impl Digests {
    /// Runs until the gateway stops.
    pub(super) async fn run_scheduler(self: Arc<Self>) {
        let Ok(shutdown) = self.shared.network().map(|n| n.shutdown.clone()) else {
            return;
        };
        loop {
            let wait = match self.send_due().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!(error = %e, "Digest round failed; trying again");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends every digest due now; returns how long until the next one is due.
    pub(super) async fn send_due(self: &Arc<Self>) -> Result<Duration, BridgeError> {
        let now = self.clock.now();
        let due: Vec<Subscription> = self
            .index()
            .subs
            .values()
            .filter(|s| s.active() && s.next_due <= now)
            .cloned()
            .collect();
        let mut by_source: BTreeMap<SourceRef, Vec<Subscription>> = BTreeMap::new();
        for sub in due {
            by_source.entry(sub.source.clone()).or_default().push(sub);
        }
        for (source, subs) in by_source {
            let items = Arc::new(self.items(&source).await?);
            let parallel = self.shared.config.digest.send_parallel;
            stream::iter(subs)
                .map(|sub| {
                    let items = items.clone();
                    async move {
                        let id = sub.id.clone();
                        if let Err(e) = self.send_one(sub, &items, now).await {
                            tracing::warn!(id = %id, error = %e, "Digest not sent");
                        }
                    }
                })
                .buffer_unordered(parallel)
                .collect::<Vec<()>>()
                .await;
            self.prune(&source, &items).await?;
        }
        let next = self
            .index()
            .subs
            .values()
            .filter(|s| s.active())
            .map(|s| s.next_due)
            .min();
        let now = self.clock.now();
        Ok(next
            .map(|n| (n - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP))
    }

    /// What a source collected, oldest first.
    async fn items(&self, source: &SourceRef) -> Result<Items, BridgeError> {
        let stored = self
            .shared
            .network()?
            .store
            .scan(&subscription::items_prefix(source))
            .await?;
        Ok(stored
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_str(&v).ok()?)))
            .collect())
    }

    /// One subscription's digest: what it covers is recorded before the relay is called.
    async fn send_one(
        &self,
        mut sub: Subscription,
        items: &Items,
        now: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let schedule = sub
            .schedule
            .schedule(Duration::ZERO)
            .map_err(|e| BridgeError::Invalid(e.to_string()))?;
        let in_flight = match sub.in_flight.clone() {
            Some(f) => f,
            None => {
                // Missed messages wait `missed_after` (the user may come back first).
                let ripe = now
                    - chrono::Duration::from_std(self.shared.config.digest.missed_after)
                        .unwrap_or_default();
                let upto = items
                    .iter()
                    .filter(|(k, _)| *k > sub.cursor)
                    .take_while(|(_, i)| matches!(sub.source, SourceRef::Room(_)) || i.at <= ripe)
                    .map(|(k, _)| k.clone())
                    .last();
                let Some(upto) = upto else {
                    // An empty period sends nothing.
                    sub.next_due = schedule.next_after(now);
                    return self.save_if_present(&sub).await.map(|_| ());
                };
                let f = InFlight {
                    message_id: format!(
                        "digest.{}.{}@{}",
                        sub.id,
                        subscription::short_hash(&upto),
                        self.shared.config.hostname()
                    ),
                    upto,
                };
                sub.in_flight = Some(f.clone());
                if !self.save_if_present(&sub).await? {
                    return Ok(());
                }
                f
            }
        };
        let chosen: Vec<Item> = items
            .iter()
            .filter(|(k, _)| *k > sub.cursor && *k <= in_flight.upto)
            .map(|(_, i)| i.clone())
            .collect();
        let result = match self.digest_mail(&sub, &in_flight, chosen)? {
            Some(mail) => self.shared.relay.send(mail).await,
            None => Ok(()), // pruned meanwhile: nothing left to say
        };
        match result {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(id = %sub.id, "Digest sent");
                sub.cursor = in_flight.upto;
                sub.in_flight = None;
                sub.last_error = None;
                sub.next_due = schedule.next_after(now);
            }
            Err(e) if e.is_transient() => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                sub.last_error = Some(e.to_string());
                sub.next_due = now + RETRY;
            }
            Err(e) => {
                // The relay refuses this address: this period's digest is dropped (the
                // owner sees why in digest-list); the next period tries again.
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = %sub.id, error = %e, "The relay refused a digest");
                sub.last_error = Some(e.to_string());
                sub.cursor = in_flight.upto;
                sub.in_flight = None;
                sub.next_due = schedule.next_after(now);
            }
        }
        self.save_if_present(&sub).await.map(|_| ())
    }

    /// Saves a subscription unless it was removed meanwhile; true when saved.
    async fn save_if_present(&self, sub: &Subscription) -> Result<bool, BridgeError> {
        let _writes = self.writes.lock().await;
        if !self.index().subs.contains_key(&sub.id) {
            return Ok(false);
        }
        self.save(sub).await?;
        Ok(true)
    }

    /// The mail for a subscription's items.
    fn digest_mail(
        &self,
        sub: &Subscription,
        in_flight: &InFlight,
        items: Vec<Item>,
    ) -> Result<Option<lettre::Message>, BridgeError> {
        let config = &self.shared.config;
        let from = MailAddress::parse(&format!("noreply@{}", config.address_domain))
            .map_err(|e| BridgeError::Invalid(e.to_string()))?;
        let to = MailAddress::parse(&sub.address)
            .map_err(|e| BridgeError::InvalidAddress(e.to_string()))?;
        let public_url = self
            .shared
            .network()?
            .public_url
            .clone()
            .unwrap_or_default();
        let mailto = format!("unsubscribe+{}@{}", sub.token, config.address_domain);
        let url = super::unsubscribe::url(&public_url, &sub.token);
        let source = match &sub.source {
            SourceRef::Room(room) => Source {
                name: room.clone(),
                link: Some(format!("xmpp:{room}?join")),
                items,
            },
            SourceRef::Missed(_) => Source {
                name: "Missed messages".into(),
                link: None,
                items,
            },
        };
        digest::build(
            &digest::Envelope {
                from: &from,
                to: &to,
                unsubscribe_mailto: &mailto,
                unsubscribe_url: &url,
                message_id: &in_flight.message_id,
                max_items: config.digest.max_items,
            },
            &[source],
        )
        .map_err(BridgeError::Invalid)
    }

    /// Drops the items every active subscription of a source is past.
    async fn prune(&self, source: &SourceRef, items: &Items) -> Result<(), BridgeError> {
        let Some(oldest_cursor) = self
            .index()
            .active_for(source)
            .map(|s| s.cursor.clone())
            .min()
        else {
            return Ok(());
        };
        let store = &self.shared.network()?.store;
        for (key, _) in items.iter().filter(|(k, _)| *k <= oldest_cursor) {
            store.delete(key).await?;
        }
        Ok(())
    }
}
