//! The embedded SQLite store.
//!
//! One connection, owned by one thread of its own that runs the queries it is sent in
//! order (no blocking-pool hop and no lock per query). WAL mode with
//! `synchronous=NORMAL`: every committed write survives a crash or SIGKILL of the gateway;
//! a power cut may lose the last moments of writes.

use super::{
    InboundId, NewOutboxEntry, OutboxEntry, OutboxId, ReceiptTarget, Registration, Store,
    StoredInbound,
};
use crate::error::Error;
use async_trait::async_trait;
use futures::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::mpsc;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};
use switchboard_bridge::{Accepted, Inbound, LoginData, LoginId, TxnId};

mod archive;
mod inbound;
mod registrations;
mod worker;

use registrations::{
    find_registration, new_login_id, read_registration, to_registration, SELECT_REG,
};

/// One piece of work for the database thread: whether it succeeded (its writes are undone
/// otherwise), and what answers its caller once the batch it ran in is committed (or could
/// not be).
type Job = Box<dyn FnOnce(&mut Connection) -> (bool, Answer) + Send>;
/// Hands a job's result to its caller, given whether its batch committed.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// SQLite-backed [`Store`]. Cheap to clone: clones share the database thread, which
/// ends when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
}

/// Statements run through SQLite's prepared-statement cache (the hot paths run the same few
/// statements for every message).
pub(super) trait Cached {
    /// Runs `sql` (prepared once per connection) with `params`.
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

pub(super) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn count(c: &Connection, sql: &str, param: &str) -> Result<u64, Error> {
    Ok(c.query_row(sql, [param], |r| r.get::<_, i64>(0))? as u64)
}

#[async_trait]
impl Store for SqliteStore {
    async fn registration(
        &self,
        transport: &str,
        jid: &str,
    ) -> Result<Option<Registration>, Error> {
        let (transport, jid) = (transport.to_string(), jid.to_string());
        self.with(move |c| find_registration(c, &transport, &jid))
            .await
    }

    async fn put_registration(
        &self,
        transport: &str,
        jid: &str,
        data: &LoginData,
    ) -> Result<Registration, Error> {
        let (transport, jid) = (transport.to_string(), jid.to_string());
        let json = serde_json::to_string(data)?;
        let login = new_login_id();
        self.with(move |c| {
            c.run(
                "INSERT INTO registrations (login_id, transport, jid, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (transport, jid) DO UPDATE SET data = excluded.data",
                params![login.as_str(), transport, jid, json, now_secs()],
            )?;
            find_registration(c, &transport, &jid)?
                .ok_or(Error::Store(rusqlite::Error::QueryReturnedNoRows))
        })
        .await
    }

    async fn delete_registration(
        &self,
        transport: &str,
        jid: &str,
    ) -> Result<Option<Registration>, Error> {
        let (transport, jid) = (transport.to_string(), jid.to_string());
        self.with(move |c| {
            let tx = c.savepoint()?;
            let Some(reg) = find_registration(&tx, &transport, &jid)? else {
                return Ok(None);
            };
            tx.run(
                "DELETE FROM outbox WHERE login_id = ?1",
                [reg.login.as_str()],
            )?;
            tx.run(
                "DELETE FROM receipts WHERE login_id = ?1",
                [reg.login.as_str()],
            )?;
            tx.run(
                "DELETE FROM settings WHERE login_id = ?1",
                [reg.login.as_str()],
            )?;
            tx.run(
                "DELETE FROM registrations WHERE login_id = ?1",
                [reg.login.as_str()],
            )?;
            tx.commit()?;
            Ok(Some(reg))
        })
        .await
    }

    async fn registrations(&self, transport: &str) -> Result<Vec<Registration>, Error> {
        let transport = transport.to_string();
        self.with(move |c| {
            let mut stmt = c.prepare(&format!("{SELECT_REG} WHERE transport = ?1 ORDER BY jid"))?;
            let rows = stmt
                .query_map([transport], read_registration)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(to_registration).collect()
        })
        .await
    }

    async fn setting(&self, login: &LoginId, key: &str) -> Result<Option<String>, Error> {
        let (login, key) = (login.to_string(), key.to_string());
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT value FROM settings WHERE login_id = ?1 AND key = ?2",
                params![login, key],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn settings(
        &self,
        login: &LoginId,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        let (login, prefix) = (login.to_string(), prefix.to_string());
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT key, value FROM settings WHERE login_id = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
            )?;
            let rows = stmt
                .query_map(params![login, prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn put_setting(&self, login: &LoginId, key: &str, value: &str) -> Result<(), Error> {
        let (login, key, value) = (login.to_string(), key.to_string(), value.to_string());
        self.with(move |c| {
            c.run(
                "INSERT INTO settings (login_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (login_id, key) DO UPDATE SET value = excluded.value",
                params![login, key, value],
            )?;
            Ok(())
        })
        .await
    }

    fn outbox_push(&self, e: &NewOutboxEntry) -> BoxFuture<'static, Result<OutboxId, Error>> {
        let message = match serde_json::to_string(&e.message) {
            Ok(m) => m,
            Err(err) => return Box::pin(std::future::ready(Err(err.into()))),
        };
        let e = e.clone();
        self.queue(move |c| {
            let tx = c.savepoint()?;
            tx.run(
                "INSERT INTO outbox (transport, login_id, sender, recipient, stanza_id,
                                     wants_receipt, message, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.transport,
                    e.login.as_str(),
                    e.sender,
                    e.recipient,
                    e.stanza_id,
                    e.wants_receipt,
                    message,
                    now_secs()
                ],
            )?;
            let id = OutboxId(tx.last_insert_rowid());
            if let (true, Some(stanza_id)) = (e.wants_receipt, &e.stanza_id) {
                tx.run(
                    "INSERT OR REPLACE INTO receipts (txn, login_id, sender, recipient, stanza_id, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![e.message.txn.as_str(), e.login.as_str(), e.sender, e.recipient, stanza_id, now_secs()],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
    }

    async fn receipt_take(&self, txn: &TxnId) -> Result<Option<ReceiptTarget>, Error> {
        let txn = txn.clone();
        self.with(move |c| {
            let target = c
                .prepare_cached(
                    "DELETE FROM receipts WHERE txn = ?1 RETURNING sender, recipient, stanza_id",
                )?
                .query_row([txn.as_str()], |r| {
                    Ok(ReceiptTarget {
                        sender: r.get(0)?,
                        recipient: r.get(1)?,
                        stanza_id: r.get(2)?,
                    })
                })
                .optional()?;
            Ok(target)
        })
        .await
    }

    async fn outbox_pending(
        &self,
        login: &LoginId,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        let login = login.clone();
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, transport, sender, recipient, stanza_id, wants_receipt, message, attempts
                 FROM outbox WHERE login_id = ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![login.as_str(), limit as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, bool>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, u32>(7)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, transport, sender, recipient, stanza_id, wants_receipt, msg, attempts)| {
                    Ok(OutboxEntry {
                        id: OutboxId(id),
                        entry: NewOutboxEntry {
                            transport,
                            login: login.clone(),
                            sender,
                            recipient,
                            stanza_id,
                            wants_receipt,
                            message: serde_json::from_str(&msg)?,
                        },
                        attempts,
                    })
                })
                .collect()
        })
        .await
    }

    async fn outbox_len(&self, login: &LoginId) -> Result<u64, Error> {
        let login = login.to_string();
        self.with(move |c| count(c, "SELECT COUNT(*) FROM outbox WHERE login_id = ?1", &login))
            .await
    }

    async fn outbox_total(&self, transport: &str) -> Result<u64, Error> {
        let transport = transport.to_string();
        self.with(move |c| {
            count(
                c,
                "SELECT COUNT(*) FROM outbox WHERE transport = ?1",
                &transport,
            )
        })
        .await
    }

    async fn outbox_attempted(&self, id: OutboxId) -> Result<(), Error> {
        self.with(move |c| {
            c.run(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1",
                [id.0],
            )?;
            Ok(())
        })
        .await
    }

    fn outbox_remove(&self, id: OutboxId) -> BoxFuture<'static, Result<(), Error>> {
        self.queue(move |c| {
            c.run("DELETE FROM outbox WHERE id = ?1", [id.0])?;
            Ok(())
        })
    }

    async fn inbound_push(
        &self,
        transport: &str,
        items: &[Inbound],
        keep: Duration,
    ) -> Result<Vec<Accepted>, Error> {
        let rows = inbound::encode(items)?;
        let transport = transport.to_string();
        self.with(move |c| inbound::push(c, &transport, &rows, keep))
            .await
    }

    async fn inbound_pending(
        &self,
        transport: &str,
        limit: usize,
    ) -> Result<Vec<StoredInbound>, Error> {
        let transport = transport.to_string();
        self.with(move |c| inbound::pending(c, &transport, limit))
            .await
    }

    async fn inbound_attempted(&self, id: InboundId) -> Result<(), Error> {
        self.with(move |c| {
            c.run(
                "UPDATE inbound SET attempts = attempts + 1 WHERE id = ?1",
                [id.0],
            )?;
            Ok(())
        })
        .await
    }

    async fn inbound_remove(&self, ids: &[InboundId]) -> Result<(), Error> {
        let ids = ids.to_vec();
        self.with(move |c| inbound::remove(c, &ids)).await
    }

    async fn inbound_total(&self, transport: &str) -> Result<u64, Error> {
        let transport = transport.to_string();
        self.with(move |c| {
            count(
                c,
                "SELECT COUNT(*) FROM inbound WHERE transport = ?1",
                &transport,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests;
