//! The room archive's storage: one row per line said in a room (however many users'
//! connections heard it), and the spans of time during which each login was in the room
//! (what it may read).
//!
//! Times are microseconds since 1970. A line's `seq` is its time, made unique and
//! increasing within the process ([`crate::archive::Clock`]); it orders the archive and is
//! the line's id (its stanza-id is `seq` in an opaque form).

use crate::error::Error as StoreError;
use async_trait::async_trait;
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use switchboard_bridge::LoginId;

/// A room's archive: a group on a transport.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArchiveRoom {
    /// The transport's domain.
    pub transport: String,
    /// The bridge's group id.
    pub group: String,
}

/// One write, applied in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveWrite {
    /// A line said in the room.
    Line {
        /// Where.
        room: ArchiveRoom,
        /// Its time and id.
        seq: i64,
        /// Who said it.
        nick: String,
        /// What was said.
        body: String,
    },
    /// The login is in the room from `at` (a span already open stays as it is).
    Joined {
        /// Where.
        room: ArchiveRoom,
        /// Who.
        login: LoginId,
        /// Since when.
        at: i64,
    },
    /// The login left the room at `at` (closes its open span, if any).
    Left {
        /// Where.
        room: ArchiveRoom,
        /// Who.
        login: LoginId,
        /// When.
        at: i64,
    },
}

/// Where a page of the archive is taken from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageFrom {
    /// The oldest lines that match.
    First,
    /// The newest lines that match.
    Last,
    /// The lines right after this `seq`.
    After(i64),
    /// The lines right before this `seq`.
    Before(i64),
}

/// A query on one room's archive, as one login may read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveQuery {
    /// Which archive.
    pub room: ArchiveRoom,
    /// Who reads (only lines from when they were in the room).
    pub login: LoginId,
    /// Lines at or after this time.
    pub start: Option<i64>,
    /// Lines at or before this time.
    pub end: Option<i64>,
    /// Lines by this nick only (ASCII case ignored).
    pub nick: Option<String>,
    /// Where the page starts.
    pub from: PageFrom,
    /// Lines at most.
    pub max: usize,
}

impl ArchiveQuery {
    /// A query for `max` lines from `from`, without filters, on no room yet (the archive
    /// fills in the room and the reader).
    pub fn page(from: PageFrom, max: usize) -> ArchiveQuery {
        ArchiveQuery {
            room: ArchiveRoom {
                transport: String::new(),
                group: String::new(),
            },
            login: LoginId::new(""),
            start: None,
            end: None,
            nick: None,
            from,
            max,
        }
    }
}

/// One stored line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedRow {
    /// Its time and id.
    pub seq: i64,
    /// Who said it.
    pub nick: String,
    /// What was said.
    pub body: String,
}

/// A page of lines, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ArchivePage {
    /// The lines.
    pub rows: Vec<ArchivedRow>,
    /// No more lines match beyond the page (in the direction it was read).
    pub complete: bool,
}

/// What a query can find besides a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveAnswer {
    /// The page.
    Page(ArchivePage),
    /// The login was never in the room while the gateway archived it.
    NeverIn,
    /// The `After`/`Before` line is not in this room's archive (or not readable by them).
    UnknownLine,
}

/// Writes waiting for the store, shared by whoever adds them and the one job that will
/// take them: lines that arrive while that job waits its turn join it, so a busy room
/// costs one job per batch and no wake-up per line.
#[derive(Clone, Debug, Default)]
pub struct ArchiveBuffer(Arc<Mutex<Vec<ArchiveWrite>>>);

impl ArchiveBuffer {
    /// A buffer holding `writes`.
    pub fn of(writes: Vec<ArchiveWrite>) -> Self {
        Self(Arc::new(Mutex::new(writes)))
    }

    /// Adds a write, and calls `queue_job` (under the buffer's lock, so that nothing
    /// queued after it can overtake it) when the buffer was empty: no job will take the
    /// write yet. Returns how many writes wait.
    pub fn push_then(&self, write: ArchiveWrite, queue_job: impl FnOnce()) -> usize {
        let mut writes = self.0.lock().expect("archive buffer");
        writes.push(write);
        if writes.len() == 1 {
            queue_job();
        }
        writes.len()
    }

    /// Writes waiting.
    pub fn len(&self) -> usize {
        self.0.lock().expect("archive buffer").len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes what waits (the store's job, when it runs).
    pub fn take(&self) -> Vec<ArchiveWrite> {
        std::mem::take(&mut *self.0.lock().expect("archive buffer"))
    }
}

/// Storage operations of the archive. Every write is durable when the call returns.
#[async_trait]
pub trait ArchiveStore: Send + Sync + 'static {
    /// Queues a job now (jobs run in the order queued, with the store's other writes) that
    /// takes what `writes` holds when it runs and applies it in one transaction, in order.
    /// The future answers once that is stored; dropping it leaves the job queued.
    fn archive_write(&self, writes: ArchiveBuffer) -> BoxFuture<'static, Result<(), StoreError>>;
    /// A page of a room's archive as one login may read it.
    async fn archive_query(&self, query: ArchiveQuery) -> Result<ArchiveAnswer, StoreError>;
    /// The newest `seq` in any room's archive (0 for none): the clock starts past it.
    async fn archive_last_seq(&self) -> Result<i64, StoreError>;
    /// Closes at `at` every span still open on a transport (the gateway stopped without
    /// closing them: after SIGKILL). Returns how many.
    async fn archive_close_spans(&self, transport: &str, at: i64) -> Result<u64, StoreError>;
    /// Removes lines older than `before`, and each room's oldest lines past `max_per_room`,
    /// with the spans that ended before what remains. Returns the lines removed.
    async fn archive_prune(&self, before: i64, max_per_room: u64) -> Result<u64, StoreError>;
}
