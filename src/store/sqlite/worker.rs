//! The database thread: opening and migrating the database, and running queries on the
//! thread that owns the connection.
//!
//! Group commits: the thread takes every job waiting (at most [`BATCH`]) and runs them in
//! one transaction, each inside a savepoint of its own, so a job that fails undoes only its
//! own writes. Answers are given only after the commit, so "stored" still means durable
//! when a caller hears it; a failed commit answers every job of the batch with an error.
//! Jobs use savepoints, never `BEGIN` (they always run inside the batch's transaction).

use super::{Answer, Job, SqliteStore};
use crate::error::Error;
use crate::store::migrations::MIGRATIONS;
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`; `None` is in-memory.
    pub fn open(path: Option<&Path>) -> Result<Self, Error> {
        let shown = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| ":memory:".into());
        let open_err = |source| Error::StoreOpen {
            path: shown.clone(),
            source,
        };
        let conn = match path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000;",
        )
        .map_err(open_err)?;
        migrate(&conn).map_err(open_err)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut conn, batch);
                }
            })
            .map_err(|e| Error::StoreWorker(format!("cannot start the database thread: {e}")))?;
        Ok(Self { jobs })
    }

    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.queue(f).await
    }

    /// Queues `f` for the database thread now (jobs run in the order queued); the future
    /// waits for its answer, given once its batch is committed.
    pub(crate) fn queue<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> futures::future::BoxFuture<'static, Result<T, Error>> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let sent = self
            .jobs
            .send(Box::new(move |conn: &mut Connection| -> (bool, Answer) {
                let result = f(conn);
                let ok = result.is_ok();
                let answer: Answer = Box::new(move |committed: Result<(), String>| {
                    let _ = done.send(committed.map_err(Error::StoreWorker).and(result));
                });
                (ok, answer)
            }))
            .map_err(|_| Error::StoreWorker("the database thread has stopped".into()));
        Box::pin(async move {
            sent?;
            answer
                .await
                .map_err(|_| Error::StoreWorker("the database thread dropped a query".into()))?
        })
    }
}

/// Jobs in one transaction at most (bounds how long the first waits for the last).
const BATCH: usize = 256;

/// Runs a batch of jobs in one transaction, a savepoint each (rolled back when the job
/// fails), then answers them.
fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    // Prepared once per connection: these run around every job.
    let exec =
        |conn: &Connection, sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    if let Err(e) = exec(conn, "BEGIN") {
        // Without a transaction each statement commits on its own: still correct.
        tracing::error!(error = %e, "Cannot begin a database transaction");
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        let _ = exec(conn, "SAVEPOINT job");
        // A panicking query loses its answer (the caller gets an error), not the thread.
        let run = std::panic::AssertUnwindSafe(|| job(conn));
        match std::panic::catch_unwind(run) {
            Ok((true, answer)) => {
                let _ = exec(conn, "RELEASE job");
                answers.push(answer);
            }
            Ok((false, answer)) => {
                // A job that failed leaves nothing behind; the others keep their writes.
                let _ = exec(conn, "ROLLBACK TO job");
                let _ = exec(conn, "RELEASE job");
                answers.push(answer);
            }
            Err(_) => {
                tracing::error!("A database query panicked");
                let _ = exec(conn, "ROLLBACK TO job");
                let _ = exec(conn, "RELEASE job");
            }
        }
    }
    let committed = if conn.is_autocommit() {
        Ok(())
    } else {
        exec(conn, "COMMIT").map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "A database commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            format!("the database could not commit: {e}")
        })
    };
    for answer in answers {
        answer(committed.clone());
    }
}

pub(super) fn migrate(conn: &Connection) -> Result<(), rusqlite::Error> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "Database migrated");
    }
    Ok(())
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
