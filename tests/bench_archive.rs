//! Benchmarks of the room archive (issue 12), in-process on the real SQLite store:
//!
//! ```sh
//! cargo test --release --test bench_archive -- --ignored --nocapture --test-threads 1
//! ```
//!
//! * `mam_last_page_at_100k_lines`: one room with `ARCHIVE_BENCH_LINES` (100000) lines, one
//!   reader in the room all along; `ARCHIVE_BENCH_QUERIES` (2000) queries for the last page
//!   (50 lines, an empty `<before/>`), and as many for a page before a random line, each
//!   timed through `Archive::query` (the writer's flush included). Prints p50/p99/max.
//! * `bytes_per_line_one_user_and_two_hundred`: the same `ARCHIVE_BENCH_BYTES_LINES` (20000)
//!   lines heard by 1 and by 200 users' connections (every copy reported to the archive, as
//!   the relay does), then the database file's size per line after a checkpoint; and the
//!   time per reported copy.

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::archive::Archive;
use switchboard::config::HistoryConfig;
use switchboard::store::archive::{ArchiveAnswer, ArchiveQuery, PageFrom};
use switchboard::store::sqlite::SqliteStore;
use switchboard::store::Store;
use switchboard_bridge::{GroupId, LoginId};
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn query(from: PageFrom) -> ArchiveQuery {
    ArchiveQuery::page(from, 50)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn open(path: &std::path::Path) -> Arc<Archive> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(Some(path)).unwrap());
    Archive::open(
        "irc.bench",
        HistoryConfig::default(),
        store,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn mam_last_page_at_100k_lines() {
    let lines = env("ARCHIVE_BENCH_LINES", 100_000);
    let queries = env("ARCHIVE_BENCH_QUERIES", 2000);
    let dir = tempfile::tempdir().unwrap();
    let archive = open(&dir.path().join("a.db")).await;
    let (alice, g) = (LoginId::new("alice"), GroupId::new("#bench%net"));
    archive.joined(&alice, &g).await;
    let filling = Instant::now();
    let mut seqs = Vec::with_capacity(lines);
    for i in 0..lines {
        let nick = format!("n{:03}", i % 200);
        let body = format!("line {i} of the benchmark, forty bytes or so");
        seqs.push(archive.record(&alice, &g, &nick, &body).await.unwrap());
    }
    archive.flush().await;
    println!("archived {lines} lines in {:?}", filling.elapsed());
    for (name, pick) in [("last page", None), ("page before a random line", Some(()))] {
        let mut times = Vec::with_capacity(queries);
        for q in 0..queries {
            let from = match pick {
                None => PageFrom::Last,
                Some(()) => PageFrom::Before(seqs[50 + (q * 7919) % (lines - 50)]),
            };
            let started = Instant::now();
            let answer = archive.query(&alice, &g, query(from)).await.unwrap();
            times.push(started.elapsed());
            let ArchiveAnswer::Page(page) = answer else {
                panic!("not a page")
            };
            assert!(!page.rows.is_empty());
        }
        times.sort();
        println!(
            "MAM {name} (50 lines) at {lines} archived lines, {queries} queries: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn bytes_per_line_one_user_and_two_hundred() {
    let lines = env("ARCHIVE_BENCH_BYTES_LINES", 20_000);
    let mut per_line = Vec::new();
    for users in [1usize, 200] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let archive = open(&path).await;
        let g = GroupId::new("#bench%net");
        let logins: Vec<LoginId> = (0..users)
            .map(|u| LoginId::new(format!("login{u:04}")))
            .collect();
        for l in &logins {
            archive.joined(l, &g).await;
        }
        let started = Instant::now();
        for i in 0..lines {
            let body = format!("line {i} of the benchmark, forty bytes or so");
            let nick = format!("n{:03}", i % 50);
            let mut first = None;
            for l in &logins {
                let seq = archive.record(l, &g, &nick, &body).await.unwrap();
                assert_eq!(*first.get_or_insert(seq), seq, "one line, one id");
            }
        }
        archive.flush().await;
        let took = started.elapsed();
        drop(archive);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        let bytes: i64 = conn
            .query_row(
                "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'archive%'",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| std::fs::metadata(&path).unwrap().len() as i64);
        let b = bytes as f64 / lines as f64;
        per_line.push(b);
        println!(
            "{users} user(s): {lines} lines, archive tables {bytes} bytes = {b:.1} bytes/line; {:.3} µs per reported copy",
            took.as_secs_f64() * 1e6 / (lines * users) as f64
        );
    }
    println!(
        "bytes per line, 200 users / 1 user: {:.3}",
        per_line[1] / per_line[0]
    );
}
