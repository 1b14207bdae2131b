//! The room archive: every line relayed in a room, stored once however many users'
//! connections heard it, read back by MAM queries and history on join.
//!
//! [`Archive::record`] is called on the relay path for each user's copy of a line: it
//! finds out (in memory, [`dedupe`]) whether another connection reported the line already,
//! gives the line its id, and adds new lines to a buffer shared with the store's job that
//! will take it ([`ArchiveBuffer`]): the first line of a batch queues that job, lines that
//! come while it waits its turn join it, and nobody waits for its answer. Reads first wait
//! for what is queued ([`Archive::flush`]), so a query sees every line sent before it.
//!
//! Spans: the archive stores when each login was in each room (from the bridge's join to
//! its leave); a login reads only lines said during its spans.
//!
//! Durability: a line is stored within milliseconds of being relayed; a SIGKILL in between
//! loses it from the archive (the user saw it live). Shutdown flushes.

pub mod dedupe;

use crate::config::HistoryConfig;
use crate::error::Error;
use crate::store::archive::{
    ArchiveAnswer, ArchiveBuffer, ArchiveQuery, ArchiveRoom, ArchiveWrite,
};
use crate::store::Store;
use dedupe::{Dedupe, Report};
use futures::future::{BoxFuture, FutureExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_bridge::{Counter, GroupId, LoginId};
use tokio_util::sync::CancellationToken;

/// Writes waiting for the store before `record` waits for them to be stored (the store
/// has fallen behind).
const QUEUE: usize = 8192;
/// How often old lines are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Ids and deduplication: what `record` needs under one lock.
struct State {
    last_seq: i64,
    dedupe: Dedupe,
    /// Logins in each room: the most copies a line there can have.
    members: HashMap<GroupId, HashSet<LoginId>>,
}

/// One transport's room archive.
pub struct Archive {
    transport: String,
    config: HistoryConfig,
    store: Arc<dyn Store>,
    state: Mutex<State>,
    /// What waits for the store, taken by the one job queued for it.
    buffer: ArchiveBuffer,
    /// The answers of the jobs queued, oldest first, looked at without waiting to count
    /// failures.
    jobs: Mutex<VecDeque<BoxFuture<'static, Result<(), Error>>>>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    lines: AtomicU64,
    failures: AtomicU64,
    /// New lines since the last pruning; past a tenth of `max_per_room` the pruner runs
    /// at once, so a room flooded by a hostile network never holds much more than its cap.
    unpruned: AtomicU64,
    prune_now: tokio::sync::Notify,
}

/// Microseconds since 1970, now.
pub fn now_us() -> i64 {
    to_us(SystemTime::now())
}

/// A time as microseconds since 1970 (0 before it).
pub fn to_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Microseconds since 1970 as a time.
pub fn from_us(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

/// The stanza-id of a line (opaque to clients; the same in MAM results).
pub fn line_id(seq: i64) -> String {
    format!("{seq:x}")
}

/// The line an id names, if it is one of ours.
pub fn parse_line_id(id: &str) -> Option<i64> {
    if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(id, 16).ok().filter(|seq| *seq > 0)
}

impl Archive {
    /// Opens a transport's archive: closes the spans a crash left open, starts the clock
    /// past the newest line, and starts the pruner (until `shutdown`).
    pub async fn open(
        transport: &str,
        config: HistoryConfig,
        store: Arc<dyn Store>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Archive>, Error> {
        let now = now_us();
        let closed = store.archive_close_spans(transport, now).await?;
        if closed > 0 {
            tracing::info!(
                transport,
                spans = closed,
                "Closed the archive spans the last stop left open"
            );
        }
        let last_seq = store.archive_last_seq().await?;
        let stats = Arc::new(Stats::default());
        tokio::spawn(pruner(
            store.clone(),
            config.max_age.0,
            config.max_per_room,
            stats.clone(),
            shutdown,
        ));
        Ok(Arc::new(Archive {
            transport: transport.to_string(),
            config,
            store,
            state: Mutex::new(State {
                last_seq,
                dedupe: Dedupe::default(),
                members: HashMap::new(),
            }),
            buffer: ArchiveBuffer::default(),
            jobs: Mutex::new(VecDeque::new()),
            stats,
        }))
    }

    /// The archive's settings.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    fn room(&self, group: &GroupId) -> ArchiveRoom {
        ArchiveRoom {
            transport: self.transport.clone(),
            group: group.as_str().to_string(),
        }
    }

    /// One user's copy of a line said by `nick` in `group`. Returns the line's seq, the
    /// same for every copy; `None` when the login is not recording the room (it turned the
    /// archive off there, or was never counted in).
    pub async fn record(
        &self,
        login: &LoginId,
        group: &GroupId,
        nick: &str,
        body: &str,
    ) -> Option<i64> {
        let report = {
            let mut state = self.state.lock().expect("archive state");
            let State {
                last_seq,
                dedupe,
                members,
            } = &mut *state;
            let in_room = members.get(group)?;
            if !in_room.contains(login) {
                return None;
            }
            let in_room = in_room.len();
            let now = now_us();
            dedupe.report(login, group, nick, body, now, in_room, || {
                *last_seq = now.max(*last_seq + 1);
                *last_seq
            })
        };
        Some(match report {
            Report::Known(seq) => seq,
            Report::New(seq) => {
                self.stats.lines.fetch_add(1, Ordering::Relaxed);
                let unpruned = self.stats.unpruned.fetch_add(1, Ordering::Relaxed) + 1;
                if unpruned >= (self.config.max_per_room / 10).max(1) {
                    self.stats.prune_now.notify_one();
                }
                self.send(ArchiveWrite::Line {
                    room: self.room(group),
                    seq,
                    nick: nick.to_string(),
                    body: body.to_string(),
                })
                .await;
                seq
            }
        })
    }

    /// The login is in the room from now on (the bridge joined it).
    pub async fn joined(&self, login: &LoginId, group: &GroupId) {
        self.state
            .lock()
            .expect("archive state")
            .members
            .entry(group.clone())
            .or_default()
            .insert(login.clone());
        self.send(ArchiveWrite::Joined {
            room: self.room(group),
            login: login.clone(),
            at: now_us(),
        })
        .await
    }

    /// The login left the room (or its connection did).
    pub async fn left(&self, login: &LoginId, group: &GroupId) {
        {
            let mut state = self.state.lock().expect("archive state");
            if let Some(members) = state.members.get_mut(group) {
                members.remove(login);
                if members.is_empty() {
                    state.members.remove(group);
                }
            }
        }
        self.send(ArchiveWrite::Left {
            room: self.room(group),
            login: login.clone(),
            at: now_us(),
        })
        .await
    }

    /// Adds a write to what waits for the store; the first of a batch queues the job that
    /// will take the batch. No task wakes for it and nobody waits for its answer (a relayed
    /// line costs the database thread's wake-up at most), unless the store falls behind by
    /// [`QUEUE`] writes.
    async fn send(&self, write: ArchiveWrite) {
        let waiting = self.buffer.push_then(write, || {
            let job = self.store.archive_write(self.buffer.clone());
            self.jobs.lock().expect("archive jobs").push_back(job);
        });
        self.reap();
        if waiting >= QUEUE {
            self.flush().await;
        }
    }

    /// Counts the failures of the jobs answered so far, without waiting.
    fn reap(&self) {
        let mut jobs = self.jobs.lock().expect("archive jobs");
        while let Some(job) = jobs.front_mut() {
            let Some(answer) = FutureExt::now_or_never(&mut *job) else {
                break;
            };
            jobs.pop_front();
            if let Err(e) = answer {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "Archive writes were lost");
            }
        }
    }

    /// Waits until everything recorded so far is stored: an empty job behind every job
    /// queued before (the store runs them in order).
    pub async fn flush(&self) {
        if let Err(e) = self.store.archive_write(ArchiveBuffer::default()).await {
            tracing::warn!(error = %e, "The archive could not be flushed");
        }
        self.reap();
    }

    /// A page of a room's archive as `login` may read it (what was recorded before the
    /// call included).
    pub async fn query(
        &self,
        login: &LoginId,
        group: &GroupId,
        mut query: ArchiveQuery,
    ) -> Result<ArchiveAnswer, Error> {
        self.flush().await;
        query.room = self.room(group);
        query.login = login.clone();
        self.store.archive_query(query).await
    }

    /// The archive's counters, for `/metrics`.
    pub fn counters(&self) -> Vec<Counter> {
        vec![
            Counter {
                name: "switchboard_archive_lines_total",
                help: "Room lines archived (each line once, however many users heard it).",
                value: self.stats.lines.load(Ordering::Relaxed),
            },
            Counter {
                name: "switchboard_archive_write_failures_total",
                help: "Batches of archive writes that could not be stored.",
                value: self.stats.failures.load(Ordering::Relaxed),
            },
        ]
    }
}

/// Removes lines past their age or their room's count, every [`PRUNE_EVERY`], once at
/// start, and whenever a tenth of `max_per_room` new lines came in since the last time.
async fn pruner(
    store: Arc<dyn Store>,
    max_age: Duration,
    max_per_room: u64,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    loop {
        stats.unpruned.store(0, Ordering::Relaxed);
        let before = now_us().saturating_sub(max_age.as_micros().min(i64::MAX as u128) as i64);
        match store.archive_prune(before, max_per_room).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lines = n, "Old archive lines removed"),
            Err(e) => tracing::warn!(error = %e, "Pruning the archive failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stats.prune_now.notified() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests;
