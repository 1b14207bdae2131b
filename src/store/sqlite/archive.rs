//! The room archive in SQLite (migration 4).
//!
//! `archive_lines` is keyed by (room, seq) without a rowid, so a page is one range of the
//! primary key; `archive_lines_by_nick` serves the `with` filter. `archive_spans` holds,
//! per room and login, the spans of time the login was in the room: a page is read span by
//! span, each span one index range, so what a login may not read is never scanned.

use super::{Cached, SqliteStore};
use crate::error::Error;
use crate::store::archive::{
    ArchiveAnswer, ArchiveBuffer, ArchivePage, ArchiveQuery, ArchiveRoom, ArchiveStore,
    ArchiveWrite, ArchivedRow, PageFrom,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

#[async_trait]
impl ArchiveStore for SqliteStore {
    fn archive_write(&self, writes: ArchiveBuffer) -> BoxFuture<'static, Result<(), Error>> {
        self.queue(move |c| write(c, &writes.take()))
    }

    async fn archive_query(&self, query: ArchiveQuery) -> Result<ArchiveAnswer, Error> {
        self.with(move |c| self::query(c, &query)).await
    }

    async fn archive_last_seq(&self) -> Result<i64, Error> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT COALESCE(MAX(seq), 0) FROM archive_lines", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }

    async fn archive_close_spans(&self, transport: &str, at: i64) -> Result<u64, Error> {
        let transport = transport.to_string();
        self.with(move |c| {
            Ok(c.run(
                "UPDATE archive_spans SET until = MAX(since, ?2) WHERE until IS NULL AND room IN
                   (SELECT id FROM archive_rooms WHERE transport = ?1)",
                params![transport, at],
            )? as u64)
        })
        .await
    }

    async fn archive_prune(&self, before: i64, max_per_room: u64) -> Result<u64, Error> {
        self.with(move |c| prune(c, before, max_per_room)).await
    }
}

/// The id of a room's archive, made on first use.
fn room_id(c: &Connection, room: &ArchiveRoom) -> Result<i64, Error> {
    c.run(
        "INSERT OR IGNORE INTO archive_rooms (transport, grp) VALUES (?1, ?2)",
        params![room.transport, room.group],
    )?;
    Ok(
        c.prepare_cached("SELECT id FROM archive_rooms WHERE transport = ?1 AND grp = ?2")?
            .query_row(params![room.transport, room.group], |r| r.get(0))?,
    )
}

/// An existing room's id, without making one.
fn known_room(c: &Connection, room: &ArchiveRoom) -> Result<Option<i64>, Error> {
    Ok(
        c.prepare_cached("SELECT id FROM archive_rooms WHERE transport = ?1 AND grp = ?2")?
            .query_row(params![room.transport, room.group], |r| r.get(0))
            .optional()?,
    )
}

fn write(c: &mut Connection, writes: &[ArchiveWrite]) -> Result<(), Error> {
    let tx = c.savepoint()?;
    let mut rooms: HashMap<&ArchiveRoom, i64> = HashMap::new();
    for w in writes {
        let room = match w {
            ArchiveWrite::Line { room, .. }
            | ArchiveWrite::Joined { room, .. }
            | ArchiveWrite::Left { room, .. } => room,
        };
        let id = match rooms.get(room) {
            Some(id) => *id,
            None => {
                let id = room_id(&tx, room)?;
                rooms.insert(room, id);
                id
            }
        };
        match w {
            ArchiveWrite::Line {
                seq, nick, body, ..
            } => {
                tx.run(
                    "INSERT OR IGNORE INTO archive_lines (room, seq, nick, body)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, seq, nick, body],
                )?;
            }
            ArchiveWrite::Joined { login, at, .. } => {
                let open: Option<i64> = tx
                    .prepare_cached(
                        "SELECT since FROM archive_spans
                         WHERE room = ?1 AND login_id = ?2 AND until IS NULL",
                    )?
                    .query_row(params![id, login.as_str()], |r| r.get(0))
                    .optional()?;
                if open.is_none() {
                    tx.run(
                        "INSERT OR IGNORE INTO archive_spans (room, login_id, since, until)
                         VALUES (?1, ?2, ?3, NULL)",
                        params![id, login.as_str(), at],
                    )?;
                }
            }
            ArchiveWrite::Left { login, at, .. } => {
                tx.run(
                    "UPDATE archive_spans SET until = MAX(since, ?3)
                     WHERE room = ?1 AND login_id = ?2 AND until IS NULL",
                    params![id, login.as_str(), at],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// A login's spans in a room, merged where they overlap, oldest first; `until` of an open
/// span is `i64::MAX`.
fn spans(c: &Connection, room: i64, login: &str) -> Result<Vec<(i64, i64)>, Error> {
    let mut stmt = c.prepare_cached(
        "SELECT since, COALESCE(until, ?3) FROM archive_spans
         WHERE room = ?1 AND login_id = ?2 ORDER BY since",
    )?;
    let rows = stmt.query_map(params![room, login, i64::MAX], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for row in rows {
        let (since, until) = row?;
        match merged.last_mut() {
            Some(last) if since <= last.1 => last.1 = last.1.max(until),
            _ => merged.push((since, until)),
        }
    }
    Ok(merged)
}

fn query(c: &Connection, q: &ArchiveQuery) -> Result<ArchiveAnswer, Error> {
    let Some(room) = known_room(c, &q.room)? else {
        return Ok(ArchiveAnswer::NeverIn);
    };
    let spans = spans(c, room, q.login.as_str())?;
    if spans.is_empty() {
        return Ok(ArchiveAnswer::NeverIn);
    }
    let visible = |seq: i64| spans.iter().any(|&(a, b)| a <= seq && seq <= b);
    let (mut lo, mut hi) = (q.start.unwrap_or(i64::MIN), q.end.unwrap_or(i64::MAX));
    let ascending = match q.from {
        PageFrom::First => true,
        PageFrom::Last => false,
        PageFrom::After(seq) | PageFrom::Before(seq) => {
            let known: Option<i64> = c
                .prepare_cached("SELECT seq FROM archive_lines WHERE room = ?1 AND seq = ?2")?
                .query_row(params![room, seq], |r| r.get(0))
                .optional()?;
            if known.is_none() || !visible(seq) {
                return Ok(ArchiveAnswer::UnknownLine);
            }
            if let PageFrom::After(_) = q.from {
                lo = lo.max(seq.saturating_add(1));
                true
            } else {
                hi = hi.min(seq.saturating_sub(1));
                false
            }
        }
    };
    let want = q.max + 1;
    let mut rows = Vec::new();
    let ordered: Vec<(i64, i64)> = if ascending {
        spans.clone()
    } else {
        spans.iter().rev().copied().collect()
    };
    let sql = match (&q.nick, ascending) {
        (None, true) => {
            "SELECT seq, nick, body FROM archive_lines
             WHERE room = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq ASC LIMIT ?4"
        }
        (None, false) => {
            "SELECT seq, nick, body FROM archive_lines
             WHERE room = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC LIMIT ?4"
        }
        (Some(_), true) => {
            "SELECT seq, nick, body FROM archive_lines
             WHERE room = ?1 AND nick = ?5 COLLATE NOCASE AND seq BETWEEN ?2 AND ?3
             ORDER BY seq ASC LIMIT ?4"
        }
        (Some(_), false) => {
            "SELECT seq, nick, body FROM archive_lines
             WHERE room = ?1 AND nick = ?5 COLLATE NOCASE AND seq BETWEEN ?2 AND ?3
             ORDER BY seq DESC LIMIT ?4"
        }
    };
    let mut stmt = c.prepare_cached(sql)?;
    for (since, until) in ordered {
        let (a, b) = (since.max(lo), until.min(hi));
        if a > b {
            continue;
        }
        let left = (want - rows.len()) as i64;
        let mut found = match &q.nick {
            None => stmt.query(params![room, a, b, left])?,
            Some(nick) => stmt.query(params![room, a, b, left, nick])?,
        };
        while let Some(r) = found.next()? {
            rows.push(ArchivedRow {
                seq: r.get(0)?,
                nick: r.get(1)?,
                body: r.get(2)?,
            });
        }
        if rows.len() >= want {
            break;
        }
    }
    let complete = rows.len() <= q.max;
    rows.truncate(q.max);
    if !ascending {
        rows.reverse();
    }
    Ok(ArchiveAnswer::Page(ArchivePage { rows, complete }))
}

fn prune(c: &mut Connection, before: i64, max_per_room: u64) -> Result<u64, Error> {
    let tx = c.savepoint()?;
    let rooms: Vec<i64> = {
        let mut stmt = tx.prepare_cached("SELECT id FROM archive_rooms")?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        ids.collect::<Result<_, _>>()?
    };
    let mut removed = 0u64;
    for room in rooms {
        removed += tx.run(
            "DELETE FROM archive_lines WHERE room = ?1 AND seq < ?2",
            params![room, before],
        )? as u64;
        let cutoff: Option<i64> = tx
            .prepare_cached(
                "SELECT seq FROM archive_lines WHERE room = ?1
                 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(
                params![room, max_per_room.min(i64::MAX as u64) as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(cutoff) = cutoff {
            removed += tx.run(
                "DELETE FROM archive_lines WHERE room = ?1 AND seq <= ?2",
                params![room, cutoff],
            )? as u64;
        }
    }
    tx.run(
        "DELETE FROM archive_spans WHERE until IS NOT NULL AND until < ?1",
        [before],
    )?;
    tx.commit()?;
    Ok(removed)
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
