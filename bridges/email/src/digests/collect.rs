//! What the gateway saw, kept for the digests that want it: one store write per message
//! and source (plus a marker that drops a room's replay of the same message).

use super::subscription::{self, SourceRef};
use super::Digests;
use crate::digest::Item;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;
use std::time::Duration;
use switchboard_bridge::{BridgeError, MissedMessage, Observation, RoomMessage};

/// Longest text kept per message (characters); a digest shows a line of it anyway.
const MAX_TEXT: usize = 2000;
/// Tries to store one observation, and the first pause between them (doubled each time).
const ATTEMPTS: u32 = 4;
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How long a room message's replay marker lives (longer than any rejoin takes).
const SEEN_TTL: Duration = Duration::from_secs(3 * 86_400);

fn capped(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_TEXT).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

impl Digests {
    /// Takes one observation from the gateway. A store that fails for a moment is tried
    /// again a few times (the core drops what we refuse); a retry writes the same keys.
    pub async fn observe(&self, seen: Observation) -> Result<(), BridgeError> {
        let collected = self.clock.now();
        let mut pause = RETRY_PAUSE;
        for attempt in 1.. {
            match self.observe_once(seen.clone(), collected).await {
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "Storing an observation failed; again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                result => return result,
            }
        }
        unreachable!("the loop returns")
    }

    async fn observe_once(
        &self,
        seen: Observation,
        collected: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        match seen {
            Observation::Room(message) => self.collect_room(message, collected).await,
            Observation::Missed(message) => self.collect_missed(message, collected).await,
            Observation::Online { owner } => self.owner_online(&owner).await,
            Observation::RoomFailed { room, reason } => self.room_failed(&room, &reason).await,
        }
    }

    async fn collect_room(
        &self,
        message: RoomMessage,
        collected: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let source = SourceRef::Room(message.room.clone());
        if self.index().active_for(&source).next().is_none() {
            return Ok(()); // left already, or a late message
        }
        let store = &self.shared.network()?.store;
        let seen = subscription::seen_key(&source, &subscription::short_hash(&message.dedupe));
        if store.get(&seen).await?.is_some() {
            return Ok(()); // a replay from the room's history
        }
        let at: DateTime<Utc> = message.at.into();
        self.keep(
            &source,
            &message.sender,
            &message.body,
            at,
            collected,
            &message.dedupe,
        )
        .await?;
        store.put(&seen, "1", Some(SEEN_TTL)).await?;
        Ok(())
    }

    async fn collect_missed(
        &self,
        message: MissedMessage,
        collected: DateTime<Utc>,
    ) -> Result<(), BridgeError> {
        let source = SourceRef::Missed(message.owner.clone());
        if self.index().active_for(&source).next().is_none() {
            return Ok(());
        }
        // The core names a contact by its address's local part when the network gave no
        // name: the address alone says it better.
        let local_only = message.from.starts_with(&format!("{}@", message.sender));
        let sender = if message.sender.is_empty() || message.sender == message.from || local_only {
            message.from.clone()
        } else {
            format!("{} ({})", message.sender, message.from)
        };
        // Two messages from one sender in the same microsecond stay two (a retry of this
        // call lands on the same key: `collected` does not change).
        let at: DateTime<Utc> = message.at.into();
        let tie = format!(
            "{}{}{}",
            message.from,
            message.body,
            at.timestamp_nanos_opt().unwrap_or(0)
        );
        self.keep(&source, &sender, &message.body, at, collected, &tie)
            .await
    }

    /// Stores one item of a source (`at`: when it was said, as shown; `collected`: when
    /// the gateway saw it, which orders the items).
    async fn keep(
        &self,
        source: &SourceRef,
        sender: &str,
        text: &str,
        at: DateTime<Utc>,
        collected: DateTime<Utc>,
        tie: &str,
    ) -> Result<(), BridgeError> {
        let item = Item {
            sender: capped(sender),
            text: capped(text),
            at,
        };
        // Keyed by when the gateway collected it, not by its own time: a message a room
        // replays after a rejoin carries a stamp to the second (it may look older than a
        // subscription made in that second), yet no digest has had it.
        let key = subscription::item_key(source, collected, &subscription::short_hash(tie)[..8]);
        let json = serde_json::to_string(&item).unwrap_or_default();
        self.shared.network()?.store.put(&key, &json, None).await?;
        self.stats.collected.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The owner is back: what they missed reached them; it is not mailed.
    async fn owner_online(&self, owner: &str) -> Result<(), BridgeError> {
        let source = SourceRef::Missed(owner.to_string());
        let store = &self.shared.network()?.store;
        let items = store.scan(&subscription::items_prefix(&source)).await?;
        if !items.is_empty() {
            tracing::debug!(
                owner,
                items = items.len(),
                "Missed messages seen; not mailed"
            );
        }
        for (key, _) in items {
            store.delete(&key).await?;
        }
        Ok(())
    }

    /// A followed room cannot be joined: its subscriptions say so in `digest-list`.
    async fn room_failed(&self, room: &str, reason: &str) -> Result<(), BridgeError> {
        tracing::warn!(room, reason, "Cannot follow a room for digests");
        let source = SourceRef::Room(room.to_string());
        let _writes = self.writes.lock().await;
        let subs: Vec<_> = self.index().active_for(&source).cloned().collect();
        for mut sub in subs {
            sub.last_error = Some(format!("cannot join the room: {reason}"));
            self.save(&sub).await?;
        }
        Ok(())
    }
}
