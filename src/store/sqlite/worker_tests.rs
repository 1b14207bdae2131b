use super::*;
use crate::store::Store;

fn open() -> SqliteStore {
    SqliteStore::open(None).unwrap()
}

async fn count(s: &SqliteStore) -> i64 {
    s.with(|c| Ok(c.query_row("SELECT COUNT(*) FROM settings_probe", [], |r| r.get(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn jobs_sent_together_commit_together_and_a_failed_one_leaves_nothing() {
    let s = open();
    s.with(|c| Ok(c.execute_batch("CREATE TABLE settings_probe (v INTEGER)")?))
        .await
        .unwrap();
    // Many jobs in flight at once: the thread takes them in batches.
    let mut jobs = Vec::new();
    for i in 0..200i64 {
        let s = s.clone();
        jobs.push(tokio::spawn(async move {
            s.with(move |c| {
                c.execute("INSERT INTO settings_probe (v) VALUES (?1)", [i])?;
                if i % 10 == 0 {
                    // Fails after its write: the write must not stay.
                    c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                }
                Ok(i)
            })
            .await
        }));
    }
    let mut failed = 0;
    for job in jobs {
        if job.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 20);
    assert_eq!(count(&s).await, 180);
}

#[tokio::test]
async fn an_answer_means_the_write_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let s = SqliteStore::open(Some(&path)).unwrap();
    let reg = s
        .put_registration(
            "t",
            "alice@example.org",
            &switchboard_bridge::LoginData::new(),
        )
        .await
        .unwrap();
    // Another connection sees it at once: it was committed before the answer came.
    let other = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = other
        .query_row(
            "SELECT COUNT(*) FROM registrations WHERE login_id = ?1",
            [reg.login.as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_panicking_job_costs_its_own_answer_only() {
    let s = open();
    let panicked = s.with(|_| -> Result<(), Error> { panic!("boom") }).await;
    assert!(panicked.is_err());
    assert!(s.registrations("t").await.unwrap().is_empty());
}
