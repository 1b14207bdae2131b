//! A digest subscription as stored, and the store keys of everything digests keep. Pure.

use crate::schedule::{Schedule, ScheduleError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A subscription's id: random, made by the gateway, shown to its owner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    /// A new random id (12 hex digits: short enough to type).
    pub fn random() -> Self {
        Self(format!("{:012x}", rand::random::<u64>() >> 16))
    }

    /// An id a user typed, if it has the form of one.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Self(s))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a subscription collects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceRef {
    /// A group chat the gateway follows (a room JID, or an IRC channel's JID).
    Room(String),
    /// One-to-one messages the gateway delivered to the owner while they were offline.
    Missed(String),
}

impl SourceRef {
    /// The prefix of the store keys of its collected items.
    pub fn key(&self) -> String {
        match self {
            SourceRef::Room(room) => format!("room:{room}"),
            SourceRef::Missed(owner) => format!("missed:{owner}"),
        }
    }

    /// How it reads in listings and digests.
    pub fn describe(&self) -> String {
        match self {
            SourceRef::Room(room) => room.clone(),
            SourceRef::Missed(_) => "missed messages".into(),
        }
    }
}

/// How a schedule is kept: the form values it was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// `every`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// `daily_at`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_at: Option<String>,
    /// `timezone`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl ScheduleSpec {
    /// The schedule. A stored one is read without the minimum, which may have been raised
    /// since: it was checked when made.
    pub fn schedule(&self, min_interval: Duration) -> Result<Schedule, ScheduleError> {
        Schedule::parse(
            self.every.as_deref(),
            self.daily_at.as_deref(),
            self.timezone.as_deref(),
            min_interval,
        )
    }
}

/// A digest being sent: which items it covers, under which Message-ID. Written before the
/// relay is called, so that after a crash the same digest goes out again (the same
/// Message-ID lets mail clients fold a repeat), never a second, different one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// The last item key it covers.
    pub upto: String,
    /// Its Message-ID (without angle brackets).
    pub message_id: String,
}

/// One subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Who made it (a bare JID).
    pub owner: String,
    /// What it collects.
    pub source: SourceRef,
    /// Where digests go.
    pub address: String,
    /// When they go.
    pub schedule: ScheduleSpec,
    /// The verification code mailed to a new address; `None` once verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The secret in its unsubscribe links.
    pub token: String,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// Items up to this key (inclusive) were sent or predate it.
    pub cursor: String,
    /// When the next digest is due.
    pub next_due: DateTime<Utc>,
    /// A digest being sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
    /// The last problem (a relay refusal, a room that cannot be joined), for listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Subscription {
    /// Verified: digests go out.
    pub fn active(&self) -> bool {
        self.code.is_none()
    }

    /// One line for `digest-list`.
    pub fn describe(&self, schedule: &str) -> String {
        let state = match (&self.code, &self.last_error) {
            (Some(_), _) => "waiting for digest-verify".to_string(),
            (None, Some(e)) => format!("active; last problem: {e}"),
            (None, None) => format!(
                "active; next at {}",
                self.next_due.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        format!(
            "{}: {} to {}, {} ({state})",
            self.id,
            self.source.describe(),
            self.address,
            schedule
        )
    }
}

/// Store key of a subscription.
pub fn sub_key(id: &SubscriptionId) -> String {
    format!("digest:sub:{id}")
}

/// Prefix of all subscriptions.
pub const SUB_PREFIX: &str = "digest:sub:";

/// Store key of an unsubscribe token (its subscription id).
pub fn token_key(token: &str) -> String {
    format!("digest:token:{token}")
}

/// Store key of an address an owner verified.
pub fn verified_key(owner: &str, address: &str) -> String {
    format!("digest:verified:{owner}:{}", address.to_ascii_lowercase())
}

/// Prefix of a source's collected items.
pub fn items_prefix(source: &SourceRef) -> String {
    format!("digest:item:{}:", source.key())
}

/// Store key of one collected item: ordered by when it was collected, then by a short
/// tie-breaker.
pub fn item_key(source: &SourceRef, at: DateTime<Utc>, tie: &str) -> String {
    let micros = at.timestamp_micros().max(0);
    format!("{}{micros:020}:{tie}", items_prefix(source))
}

/// Store key of the marker that a room message was already collected.
pub fn seen_key(source: &SourceRef, dedupe: &str) -> String {
    format!("digest:seen:{}:{dedupe}", source.key())
}

/// When the item a key names was collected (item keys and cursors end in
/// `:<microseconds>:<tie>`).
pub fn key_time(key: &str) -> Option<DateTime<Utc>> {
    let (head, _tie) = key.rsplit_once(':')?;
    let (_, micros) = head.rsplit_once(':')?;
    DateTime::from_timestamp_micros(micros.parse().ok()?)
}

/// A short, stable, non-secret digest of a text (FNV-1a, 64 bits, hex).
pub fn short_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A new random secret for unsubscribe links (128 bits, hex).
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether text from a link or an address can be an unsubscribe token at all (checked
/// before the store is asked).
pub fn token_shaped(token: &str) -> bool {
    !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new six-digit verification code.
pub fn new_code() -> String {
    format!("{:06}", rand::random::<u32>() % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ids_are_short_hex_and_parse_back() {
        let id = SubscriptionId::random();
        assert_eq!(id.as_str().len(), 12);
        assert_eq!(SubscriptionId::parse(&id.as_str().to_uppercase()), Some(id));
        assert_eq!(SubscriptionId::parse("12345"), None);
        assert_eq!(SubscriptionId::parse("zzzzzzzzzzzz"), None);
        assert_eq!(SubscriptionId::parse("digest:sub:x"), None);
    }

    #[test]
    fn item_keys_sort_by_time_within_a_source() {
        let room = SourceRef::Room("r@conference.localhost".into());
        let a = item_key(&room, at("2026-11-23T09:00:00Z"), "b");
        let b = item_key(&room, at("2026-11-23T09:00:00.000001Z"), "a");
        let c = item_key(&room, at("2026-11-23T10:00:00Z"), "a");
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(a.starts_with(&items_prefix(&room)));
        let missed = SourceRef::Missed("alice@localhost".into());
        assert!(
            !item_key(&missed, at("2026-11-23T09:00:00Z"), "a").starts_with(&items_prefix(&room))
        );
        let micros = at("2026-11-23T09:00:00Z").timestamp_micros();
        assert_eq!(
            a,
            format!("digest:item:room:r@conference.localhost:{micros:020}:b")
        );
    }

    #[test]
    fn a_subscription_round_trips_and_describes_itself() {
        let sub = Subscription {
            id: SubscriptionId::parse("00000000abcd").unwrap(),
            owner: "alice@localhost".into(),
            source: SourceRef::Room("r@conference.localhost".into()),
            address: "alice@example.net".into(),
            schedule: ScheduleSpec {
                every: Some("1h".into()),
                daily_at: None,
                timezone: None,
            },
            code: Some("123456".into()),
            token: new_token(),
            created: at("2026-11-23T09:00:00Z"),
            cursor: String::new(),
            next_due: at("2026-11-23T10:00:00Z"),
            in_flight: None,
            last_error: None,
        };
        let json = serde_json::to_string(&sub).unwrap();
        assert_eq!(serde_json::from_str::<Subscription>(&json).unwrap(), sub);
        assert!(!sub.active());
        assert_eq!(
            sub.describe("every 1h"),
            "00000000abcd: r@conference.localhost to alice@example.net, every 1h (waiting for digest-verify)"
        );
        let active = Subscription { code: None, ..sub };
        assert!(active
            .describe("every 1h")
            .ends_with("(active; next at 2026-11-23 10:00 UTC)"));
    }

    #[test]
    fn hashes_are_stable_and_codes_have_six_digits() {
        assert_eq!(short_hash(""), "cbf29ce484222325");
        assert_ne!(short_hash("a"), short_hash("b"));
        for _ in 0..50 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(new_token().len(), 32);
        assert!(token_shaped(&new_token()));
        assert!(!token_shaped("") && !token_shaped("not-hex") && !token_shaped(&"a".repeat(65)));
    }
}
