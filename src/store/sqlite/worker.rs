//! The database thread: opening and migrating the database, and running queries on the
//! thread that owns the connection.

use super::{Job, SqliteStore};
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
                for job in queue {
                    // A panicking query loses its answer (the caller gets an error), not
                    // the thread.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("A database query panicked");
                    }
                }
            })
            .map_err(|e| Error::StoreWorker(format!("cannot start the database thread: {e}")))?;
        Ok(Self { jobs })
    }

    pub(crate) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn: &mut Connection| {
                let _ = done.send(f(conn));
            }))
            .map_err(|_| Error::StoreWorker("the database thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::StoreWorker("the database thread dropped a query".into()))?
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
