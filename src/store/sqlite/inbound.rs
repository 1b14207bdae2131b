//! The inbound queue in SQLite: events from bridges, stored in one transaction with the
//! keys that deduplicate them, read in order of arrival, removed once handed over.
//!
//! Tables (migration 3): `inbound` holds what waits (the event and its recipient as JSON,
//! and a stanza id minted once); `inbound_seen` holds the deduplication keys taken on each
//! transport until they expire.

use super::{now_secs, Cached};
use crate::error::Error;
use crate::store::{InboundId, StoredInbound};
use rusqlite::{params, Connection};
use std::time::Duration;
use switchboard_bridge::{Accepted, Inbound};

/// Expired keys removed per push (the index makes finding them cheap; bounded so that one
/// push never pays for a long backlog).
const PRUNE_PER_PUSH: i64 = 64;

/// One item, encoded before it goes to the database thread.
pub(super) struct Row {
    recipient: String,
    event: String,
    once: Option<String>,
}

pub(super) fn encode(items: &[Inbound]) -> Result<Vec<Row>, Error> {
    items
        .iter()
        .map(|i| {
            Ok(Row {
                recipient: serde_json::to_string(&i.to)?,
                event: serde_json::to_string(&i.event)?,
                once: i.once.clone(),
            })
        })
        .collect()
}

/// A stanza id that stays with the row: unique, and the same on every redelivery.
fn new_stanza_id() -> String {
    format!("sb-in-{:024x}", rand::random::<u128>() >> 32)
}

pub(super) fn push(
    c: &mut Connection,
    transport: &str,
    rows: &[Row],
    keep: Duration,
) -> Result<Vec<Accepted>, Error> {
    let now = now_secs();
    let expires = now.saturating_add(keep.as_secs().min(i64::MAX as u64) as i64);
    let tx = c.savepoint()?;
    tx.run(
        "DELETE FROM inbound_seen WHERE rowid IN
           (SELECT rowid FROM inbound_seen WHERE expires_at <= ?1 LIMIT ?2)",
        params![now, PRUNE_PER_PUSH],
    )?;
    let mut answers = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(key) = &row.once {
            // A live key stays as it is (0 rows changed): a duplicate. An expired one is
            // taken again.
            let fresh = tx.run(
                "INSERT INTO inbound_seen (transport, key, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (transport, key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE inbound_seen.expires_at <= ?4",
                params![transport, key, expires, now],
            )? > 0;
            if !fresh {
                answers.push(Accepted::Duplicate);
                continue;
            }
        }
        tx.run(
            "INSERT INTO inbound (transport, recipient, event, stanza_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![transport, row.recipient, row.event, new_stanza_id(), now],
        )?;
        answers.push(Accepted::Stored);
    }
    tx.commit()?;
    Ok(answers)
}

pub(super) fn pending(
    c: &mut Connection,
    transport: &str,
    limit: usize,
) -> Result<Vec<StoredInbound>, Error> {
    let rows = c
        .prepare_cached(
            "SELECT id, recipient, event, stanza_id, attempts FROM inbound
             WHERE transport = ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![transport, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u32>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, recipient, event, stanza_id, attempts) in rows {
        let decoded =
            serde_json::from_str(&recipient).and_then(|to| Ok((to, serde_json::from_str(&event)?)));
        match decoded {
            Ok((to, event)) => out.push(StoredInbound {
                id: InboundId(id),
                to,
                event,
                stanza_id,
                attempts,
            }),
            Err(e) => {
                // Written by an incompatible version: it can never be delivered.
                tracing::error!(id, error = %e, "Dropping an inbound event that does not decode");
                c.run("DELETE FROM inbound WHERE id = ?1", [id])?;
            }
        }
    }
    Ok(out)
}

pub(super) fn remove(c: &mut Connection, ids: &[InboundId]) -> Result<(), Error> {
    let tx = c.savepoint()?;
    for id in ids {
        tx.run("DELETE FROM inbound WHERE id = ?1", [id.0])?;
    }
    tx.commit()?;
    Ok(())
}

/// True when `key` is a live deduplication key of `transport` (for tests).
#[cfg(test)]
pub(super) fn seen(c: &Connection, transport: &str, key: &str) -> Result<bool, Error> {
    use rusqlite::OptionalExtension;
    Ok(c.query_row(
        "SELECT 1 FROM inbound_seen WHERE transport = ?1 AND key = ?2 AND expires_at > ?3",
        params![transport, key, now_secs()],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::Store;
    use switchboard_bridge::{
        Chat, IncomingMessage, MessageContent, MessageId, Recipient, RemoteEvent, Sender, UserId,
    };

    const KEEP: Duration = Duration::from_secs(7 * 86_400);

    fn sms(text: &str) -> RemoteEvent {
        RemoteEvent::Message(IncomingMessage {
            id: Some(MessageId::new(format!("SM{text}"))),
            chat: Chat::Direct(UserId::new("+15550002222")),
            sender: Sender {
                user: UserId::new("+15550002222"),
                display_name: None,
                is_self: false,
            },
            content: MessageContent::text(text),
            txn: None,
            timestamp: Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        })
    }

    fn item(text: &str) -> Inbound {
        Inbound::new(Recipient::Owner("alice@example.org".into()), sms(text))
    }

    #[tokio::test]
    async fn events_are_stored_read_in_order_and_removed() {
        let s = SqliteStore::open(None).unwrap();
        let got = s
            .inbound_push("sms.test", &[item("one"), item("two")], KEEP)
            .await
            .unwrap();
        assert_eq!(got, [Accepted::Stored, Accepted::Stored]);
        s.inbound_push("other.test", &[item("elsewhere")], KEEP)
            .await
            .unwrap();
        let pending = s.inbound_pending("sms.test", 10).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].event, sms("one"), "the event comes back whole");
        assert_eq!(pending[1].event, sms("two"));
        assert_eq!(pending[0].to, Recipient::Owner("alice@example.org".into()));
        assert!(pending[0].id < pending[1].id);
        assert_ne!(pending[0].stanza_id, pending[1].stanza_id);
        // Read again (a claim that was not finished): the same rows, the same stanza ids.
        let again = s.inbound_pending("sms.test", 10).await.unwrap();
        assert_eq!(again, pending);
        assert_eq!(s.inbound_pending("sms.test", 1).await.unwrap().len(), 1);
        s.inbound_attempted(pending[0].id).await.unwrap();
        assert_eq!(
            s.inbound_pending("sms.test", 1).await.unwrap()[0].attempts,
            1
        );
        s.inbound_remove(&[pending[0].id]).await.unwrap();
        let left = s.inbound_pending("sms.test", 10).await.unwrap();
        assert_eq!(
            left.iter().map(|p| p.id).collect::<Vec<_>>(),
            [pending[1].id]
        );
        assert_eq!(s.inbound_total("sms.test").await.unwrap(), 1);
        assert_eq!(s.inbound_total("other.test").await.unwrap(), 1);
    }

    #[tokio::test]
    async fn what_was_stored_survives_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.db");
        let first_id = {
            let s = SqliteStore::open(Some(&path)).unwrap();
            s.inbound_push("sms.test", &[item("kept").once("SMkept")], KEEP)
                .await
                .unwrap();
            s.inbound_pending("sms.test", 1).await.unwrap()[0]
                .stanza_id
                .clone()
        };
        let s = SqliteStore::open(Some(&path)).unwrap();
        let pending = s.inbound_pending("sms.test", 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].event, sms("kept"));
        assert_eq!(
            pending[0].stanza_id, first_id,
            "the same id after a restart"
        );
        // The key is still known after the restart.
        let again = s
            .inbound_push("sms.test", &[item("kept").once("SMkept")], KEEP)
            .await
            .unwrap();
        assert_eq!(again, [Accepted::Duplicate]);
    }

    #[tokio::test]
    async fn a_key_is_taken_once_per_transport_until_it_expires() {
        let s = SqliteStore::open(None).unwrap();
        let first = s
            .inbound_push(
                "sms.test",
                &[item("a").once("SM1"), item("a").once("SM1")],
                KEEP,
            )
            .await
            .unwrap();
        assert_eq!(
            first,
            [Accepted::Stored, Accepted::Duplicate],
            "twice in one batch"
        );
        let replay = s
            .inbound_push("sms.test", &[item("a").once("SM1")], KEEP)
            .await
            .unwrap();
        assert_eq!(replay, [Accepted::Duplicate]);
        assert_eq!(s.inbound_total("sms.test").await.unwrap(), 1, "stored once");
        let elsewhere = s
            .inbound_push("mail.test", &[item("a").once("SM1")], KEEP)
            .await
            .unwrap();
        assert_eq!(elsewhere, [Accepted::Stored], "keys are per transport");
        // Removing the event does not forget its key: a replay after delivery is refused.
        let ids: Vec<_> = s
            .inbound_pending("sms.test", 10)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        s.inbound_remove(&ids).await.unwrap();
        let after = s
            .inbound_push("sms.test", &[item("a").once("SM1")], KEEP)
            .await
            .unwrap();
        assert_eq!(after, [Accepted::Duplicate]);
        // A key kept for no time expires at once: taken again, and pruned by a push.
        s.inbound_push("sms.test", &[item("b").once("SM2")], Duration::ZERO)
            .await
            .unwrap();
        let revived = s
            .inbound_push("sms.test", &[item("b").once("SM2")], KEEP)
            .await
            .unwrap();
        assert_eq!(revived, [Accepted::Stored]);
        s.inbound_push("sms.test", &[item("c").once("SM3")], Duration::ZERO)
            .await
            .unwrap();
        s.inbound_push("sms.test", &[item("d")], KEEP)
            .await
            .unwrap();
        let (live, expired) = s
            .with(|c| Ok((seen(c, "sms.test", "SM1")?, count_keys(c, "SM3")?)))
            .await
            .unwrap();
        assert!(live);
        assert_eq!(expired, 0, "an expired key was pruned");
    }

    #[tokio::test]
    async fn a_batch_is_stored_whole_or_not_at_all() {
        let s = SqliteStore::open(None).unwrap();
        // A trigger makes the second row of a batch fail, as a full disk would.
        s.with(|c| {
            c.execute_batch(
                "CREATE TRIGGER fail_two BEFORE INSERT ON inbound
                 WHEN NEW.event LIKE '%\"two\"%' BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let err = s
            .inbound_push("sms.test", &[item("one").once("k1"), item("two")], KEEP)
            .await;
        assert!(err.is_err());
        assert_eq!(
            s.inbound_total("sms.test").await.unwrap(),
            0,
            "nothing kept"
        );
        let retry = s
            .inbound_push("sms.test", &[item("one").once("k1")], KEEP)
            .await
            .unwrap();
        assert_eq!(
            retry,
            [Accepted::Stored],
            "the key of a failed batch is not kept"
        );
    }

    #[tokio::test]
    async fn a_row_that_does_not_decode_is_dropped_not_retried_for_ever() {
        let s = SqliteStore::open(None).unwrap();
        s.inbound_push("sms.test", &[item("good")], KEEP)
            .await
            .unwrap();
        s.with(|c| {
            c.execute(
                "INSERT INTO inbound (transport, recipient, event, stanza_id, created_at)
                 VALUES ('sms.test', '{}', '{}', 'x', 0)",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let pending = s.inbound_pending("sms.test", 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(s.inbound_total("sms.test").await.unwrap(), 1);
    }

    fn count_keys(c: &Connection, key: &str) -> Result<i64, Error> {
        Ok(c.query_row(
            "SELECT COUNT(*) FROM inbound_seen WHERE key = ?1",
            [key],
            |r| r.get(0),
        )?)
    }
}
