//! Digests of chat by mail: subscriptions (user commands), what is collected for them
//! (rooms the gateway follows, messages users missed), and the scheduler that mails them.
//!
//! Everything durable lives in the transport's `BridgeStore` (keys in
//! [`subscription`]); the index here is a copy for quick lookups, rebuilt at start.

mod code_mails;
mod collect;
mod commands;
mod scheduler;
pub mod subscription;
mod unsubscribe;

use crate::shared::Shared;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use subscription::{SourceRef, Subscription, SubscriptionId};
use switchboard_bridge::{BridgeError, Counter};
use tokio::sync::Notify;

pub use commands::forms as command_forms;
pub use unsubscribe::routes as unsubscribe_routes;

/// After a restart a room is asked for its history from this long before the newest
/// message collected (its stamps and our clock differ a little; replays are dropped).
const REJOIN_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the time comes from (tests step it by hand).
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// In-memory copy of the stored subscriptions.
#[derive(Default)]
struct Index {
    subs: BTreeMap<SubscriptionId, Subscription>,
}

impl Index {
    /// Active subscriptions of a source.
    fn active_for<'a>(&'a self, source: &'a SourceRef) -> impl Iterator<Item = &'a Subscription> {
        self.subs
            .values()
            .filter(move |s| s.active() && &s.source == source)
    }

    fn owned_by<'a>(&'a self, owner: &'a str) -> impl Iterator<Item = &'a Subscription> {
        self.subs.values().filter(move |s| s.owner == owner)
    }

    /// Sources with at least one active subscription.
    fn active_sources(&self) -> BTreeSet<SourceRef> {
        self.subs
            .values()
            .filter(|s| s.active())
            .map(|s| s.source.clone())
            .collect()
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    failed: AtomicU64,
    collected: AtomicU64,
}

/// The digest machinery of one email transport.
pub struct Digests {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    index: Mutex<Index>,
    /// Serialises changes to stored subscriptions (commands, the scheduler, unsubscribe
    /// links), so that a digest being finished cannot bring back one just removed.
    writes: tokio::sync::Mutex<()>,
    /// Wrong verification codes per owner.
    wrong_codes: Mutex<HashMap<String, u32>>,
    /// Wakes the scheduler when subscriptions change.
    wake: Notify,
    stats: Stats,
}

impl Digests {
    /// Digests for a transport; nothing runs until [`Digests::start`].
    pub fn new(shared: Arc<Shared>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            clock,
            index: Mutex::new(Index::default()),
            writes: tokio::sync::Mutex::new(()),
            wrong_codes: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            stats: Stats::default(),
        })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the stored subscriptions, follows what they collect, and starts the
    /// scheduler (it stops with the gateway).
    pub async fn start(self: &Arc<Self>) -> Result<(), BridgeError> {
        self.load().await?;
        let me = self.clone();
        tokio::spawn(async move { me.run_scheduler().await });
        Ok(())
    }

    /// Loads the stored subscriptions and follows what they collect.
    async fn load(&self) -> Result<(), BridgeError> {
        let network = self.shared.network()?;
        let mut loaded = 0;
        for (key, json) in network.store.scan(subscription::SUB_PREFIX).await? {
            match serde_json::from_str::<Subscription>(&json) {
                Ok(sub) => {
                    self.index().subs.insert(sub.id.clone(), sub);
                    loaded += 1;
                }
                Err(e) => tracing::warn!(key, error = %e, "Unreadable digest subscription skipped"),
            }
        }
        let sources = self.index().active_sources();
        for source in &sources {
            self.watch(source, true).await;
        }
        tracing::info!(
            subscriptions = loaded,
            sources = sources.len(),
            "Digests loaded"
        );
        Ok(())
    }

    /// Asks the gateway to collect for `source`. After a restart (`rejoin`), a room is
    /// asked for what it kept since the newest message collected.
    async fn watch(&self, source: &SourceRef, rejoin: bool) {
        let Ok(network) = self.shared.network() else {
            return;
        };
        match source {
            SourceRef::Room(room) => {
                let since = if rejoin {
                    self.newest_collected(source).await.map(|t| {
                        (t - chrono::Duration::from_std(REJOIN_MARGIN).unwrap_or_default()).into()
                    })
                } else {
                    None
                };
                network
                    .watcher
                    .follow_room(room, &self.shared.config.digest.nick, since);
            }
            SourceRef::Missed(owner) => network.watcher.watch_missed(owner),
        }
    }

    /// When the newest message of a source was collected (or its digests last started):
    /// the newest item kept, or the furthest cursor when everything was sent and pruned.
    /// Derived from what is stored anyway, so collecting writes nothing more for it.
    async fn newest_collected(&self, source: &SourceRef) -> Option<DateTime<Utc>> {
        let store = &self.shared.network().ok()?.store;
        let newest_item = store
            .scan(&subscription::items_prefix(source))
            .await
            .ok()
            .and_then(|items| items.last().and_then(|(k, _)| subscription::key_time(k)));
        let furthest_cursor = self
            .index()
            .active_for(source)
            .filter_map(|s| subscription::key_time(&s.cursor))
            .max();
        newest_item.max(furthest_cursor)
    }

    /// Stops collecting for `source` when no active subscription needs it any more, and
    /// drops what was collected for it.
    async fn unwatch_if_unused(&self, source: &SourceRef) -> Result<(), BridgeError> {
        if self.index().active_for(source).next().is_some() {
            return Ok(());
        }
        let network = self.shared.network()?;
        match source {
            SourceRef::Room(room) => network.watcher.unfollow_room(room),
            SourceRef::Missed(owner) => network.watcher.unwatch_missed(owner),
        }
        for (key, _) in network
            .store
            .scan(&subscription::items_prefix(source))
            .await?
        {
            network.store.delete(&key).await?;
        }
        Ok(())
    }

    /// Stores a subscription and updates the index (callers hold `writes`).
    async fn save(&self, sub: &Subscription) -> Result<(), BridgeError> {
        let json = serde_json::to_string(sub).unwrap_or_default();
        self.shared
            .network()?
            .store
            .put(&subscription::sub_key(&sub.id), &json, None)
            .await?;
        self.index().subs.insert(sub.id.clone(), sub.clone());
        Ok(())
    }

    /// Removes a subscription (callers hold `writes`); stops collecting for its source if
    /// no one else needs it.
    async fn remove(&self, sub: &Subscription) -> Result<(), BridgeError> {
        let store = &self.shared.network()?.store;
        store.delete(&subscription::sub_key(&sub.id)).await?;
        store.delete(&subscription::token_key(&sub.token)).await?;
        self.index().subs.remove(&sub.id);
        self.unwatch_if_unused(&sub.source).await?;
        self.wake.notify_one();
        tracing::info!(id = %sub.id, "Digest subscription removed");
        Ok(())
    }

    /// Ends the subscription an unsubscribe link or mail names. `Ok(false)`: no such
    /// token (already ended, or never was).
    pub async fn unsubscribe_token(&self, token: &str) -> Result<bool, BridgeError> {
        if !subscription::token_shaped(token) {
            return Ok(false);
        }
        let store = &self.shared.network()?.store;
        let _writes = self.writes.lock().await;
        let Some(id) = store.get(&subscription::token_key(token)).await? else {
            return Ok(false);
        };
        let sub = SubscriptionId::parse(&id).and_then(|id| self.index().subs.get(&id).cloned());
        match sub {
            Some(sub) => {
                self.remove(&sub).await?;
                Ok(true)
            }
            None => {
                store.delete(&subscription::token_key(token)).await?;
                Ok(false)
            }
        }
    }

    /// Counters for `/metrics`.
    pub fn counters(&self) -> Vec<Counter> {
        vec![
            Counter {
                name: "switchboard_email_digests_sent_total",
                help: "Digest mails the relay took",
                value: self.stats.sent.load(Ordering::Relaxed),
            },
            Counter {
                name: "switchboard_email_digest_failures_total",
                help: "Digest mails the relay refused or could not take",
                value: self.stats.failed.load(Ordering::Relaxed),
            },
            Counter {
                name: "switchboard_email_digest_items_total",
                help: "Chat messages collected for digests",
                value: self.stats.collected.load(Ordering::Relaxed),
            },
        ]
    }
}

#[cfg(test)]
mod tests;
