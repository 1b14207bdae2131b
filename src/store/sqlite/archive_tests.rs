use super::*;
use switchboard_bridge::LoginId;

fn room(g: &str) -> ArchiveRoom {
    ArchiveRoom {
        transport: "irc.test".into(),
        group: g.into(),
    }
}

fn line(g: &str, seq: i64, nick: &str, body: &str) -> ArchiveWrite {
    ArchiveWrite::Line {
        room: room(g),
        seq,
        nick: nick.into(),
        body: body.into(),
    }
}

fn joined(g: &str, login: &str, at: i64) -> ArchiveWrite {
    ArchiveWrite::Joined {
        room: room(g),
        login: LoginId::new(login),
        at,
    }
}

fn left(g: &str, login: &str, at: i64) -> ArchiveWrite {
    ArchiveWrite::Left {
        room: room(g),
        login: LoginId::new(login),
        at,
    }
}

fn q(g: &str, login: &str, from: PageFrom, max: usize) -> ArchiveQuery {
    ArchiveQuery {
        room: room(g),
        login: LoginId::new(login),
        start: None,
        end: None,
        nick: None,
        from,
        max,
    }
}

fn page(a: ArchiveAnswer) -> (Vec<i64>, bool) {
    match a {
        ArchiveAnswer::Page(p) => (p.rows.iter().map(|r| r.seq).collect(), p.complete),
        other => panic!("not a page: {other:?}"),
    }
}

/// alice in from 10 to 50 and again from 80; lines every 10 from 0 to 100.
async fn store() -> SqliteStore {
    let s = SqliteStore::open(None).unwrap();
    let mut w = vec![joined("#a", "alice", 10)];
    for seq in (0..=100).step_by(10) {
        if seq == 50 {
            w.push(left("#a", "alice", 50));
        }
        if seq == 80 {
            w.push(joined("#a", "alice", 80));
        }
        let nick = if seq % 20 == 0 { "Bob" } else { "carol" };
        w.push(line("#a", seq, nick, &format!("line {seq}")));
    }
    s.archive_write(ArchiveBuffer::of(w)).await.unwrap();
    s
}

#[tokio::test]
async fn a_login_reads_only_what_was_said_while_it_was_in() {
    let s = store().await;
    let (seqs, complete) = page(
        s.archive_query(q("#a", "alice", PageFrom::First, 50))
            .await
            .unwrap(),
    );
    assert_eq!(seqs, [10, 20, 30, 40, 50, 80, 90, 100]);
    assert!(complete);
}

#[tokio::test]
async fn someone_never_in_the_room_reads_nothing() {
    let s = store().await;
    assert_eq!(
        s.archive_query(q("#a", "mallory", PageFrom::Last, 50))
            .await
            .unwrap(),
        ArchiveAnswer::NeverIn
    );
    assert_eq!(
        s.archive_query(q("#nowhere", "alice", PageFrom::Last, 50))
            .await
            .unwrap(),
        ArchiveAnswer::NeverIn
    );
}

#[tokio::test]
async fn pages_go_both_ways_and_say_when_they_are_complete() {
    let s = store().await;
    let (last, complete) = page(
        s.archive_query(q("#a", "alice", PageFrom::Last, 3))
            .await
            .unwrap(),
    );
    assert_eq!(last, [80, 90, 100]);
    assert!(!complete);
    let (before, complete) = page(
        s.archive_query(q("#a", "alice", PageFrom::Before(80), 3))
            .await
            .unwrap(),
    );
    assert_eq!(before, [30, 40, 50]);
    assert!(!complete);
    let (before, complete) = page(
        s.archive_query(q("#a", "alice", PageFrom::Before(30), 3))
            .await
            .unwrap(),
    );
    assert_eq!(before, [10, 20]);
    assert!(complete);
    let (after, complete) = page(
        s.archive_query(q("#a", "alice", PageFrom::After(40), 2))
            .await
            .unwrap(),
    );
    assert_eq!(after, [50, 80]);
    assert!(!complete);
}

#[tokio::test]
async fn an_unknown_or_unreadable_id_is_not_a_page() {
    let s = store().await;
    for seq in [55, 60] {
        // 55: no such line; 60: said while alice was away.
        assert_eq!(
            s.archive_query(q("#a", "alice", PageFrom::After(seq), 5))
                .await
                .unwrap(),
            ArchiveAnswer::UnknownLine
        );
    }
}

#[tokio::test]
async fn filters_by_time_and_by_nick_ignoring_case() {
    let s = store().await;
    let mut query = q("#a", "alice", PageFrom::First, 50);
    query.start = Some(25);
    query.end = Some(90);
    assert_eq!(
        page(s.archive_query(query.clone()).await.unwrap()).0,
        [30, 40, 50, 80, 90]
    );
    query.nick = Some("BOB".into());
    assert_eq!(page(s.archive_query(query).await.unwrap()).0, [40, 80]);
}

#[tokio::test]
async fn a_second_join_while_in_keeps_the_first_span() {
    let s = SqliteStore::open(None).unwrap();
    s.archive_write(ArchiveBuffer::of(vec![
        joined("#a", "alice", 10),
        joined("#a", "alice", 30),
        line("#a", 20, "bob", "x"),
    ]))
    .await
    .unwrap();
    assert_eq!(
        page(
            s.archive_query(q("#a", "alice", PageFrom::First, 5))
                .await
                .unwrap()
        )
        .0,
        [20]
    );
}

#[tokio::test]
async fn spans_left_open_by_a_crash_are_closed_at_start() {
    let s = SqliteStore::open(None).unwrap();
    s.archive_write(ArchiveBuffer::of(vec![
        joined("#a", "alice", 10),
        line("#a", 20, "bob", "x"),
    ]))
    .await
    .unwrap();
    assert_eq!(s.archive_close_spans("irc.test", 25).await.unwrap(), 1);
    assert_eq!(s.archive_close_spans("other.test", 25).await.unwrap(), 0);
    s.archive_write(ArchiveBuffer::of(vec![line(
        "#a",
        30,
        "bob",
        "after the restart",
    )]))
    .await
    .unwrap();
    assert_eq!(
        page(
            s.archive_query(q("#a", "alice", PageFrom::First, 5))
                .await
                .unwrap()
        )
        .0,
        [20]
    );
    assert_eq!(s.archive_last_seq().await.unwrap(), 30);
}

#[tokio::test]
async fn pruning_keeps_the_newest_lines_within_age_and_count() {
    let s = store().await;
    // Older than 20 go by age; of the rest (20..=100, nine lines) the newest four stay.
    assert_eq!(s.archive_prune(20, 4).await.unwrap(), 7);
    let (seqs, _) = page(
        s.archive_query(q("#a", "alice", PageFrom::First, 50))
            .await
            .unwrap(),
    );
    assert_eq!(seqs, [80, 90, 100]);
}

#[tokio::test]
async fn one_room_is_apart_from_another() {
    let s = store().await;
    s.archive_write(ArchiveBuffer::of(vec![
        joined("#b", "alice", 0),
        line("#b", 15, "bob", "elsewhere"),
    ]))
    .await
    .unwrap();
    assert_eq!(
        page(
            s.archive_query(q("#b", "alice", PageFrom::First, 50))
                .await
                .unwrap()
        )
        .0,
        [15]
    );
}

#[tokio::test]
async fn a_buffer_queues_one_job_for_the_writes_that_come_before_it_runs() {
    let s = store().await;
    let buffer = ArchiveBuffer::default();
    let mut queued = 0;
    buffer.push_then(joined("#z", "alice", 0), || queued += 1);
    for seq in 1..=3 {
        let waiting = buffer.push_then(line("#z", seq, "bob", "x"), || queued += 1);
        assert_eq!(waiting, seq as usize + 1);
    }
    assert_eq!(queued, 1, "only the first write of a batch asks for a job");
    // The job takes all three when it runs; an empty job behind it answers once stored.
    let job = s.archive_write(buffer.clone());
    s.archive_write(ArchiveBuffer::default()).await.unwrap();
    assert!(buffer.is_empty(), "the job took the batch");
    job.await.unwrap();
    let read = page(
        s.archive_query(q("#z", "alice", PageFrom::First, 10))
            .await
            .unwrap(),
    );
    assert_eq!(read, (vec![1, 2, 3], true));
    // A write after the job ran starts a new batch.
    assert_eq!(
        buffer.push_then(line("#z", 4, "bob", "y"), || queued += 1),
        1
    );
    assert_eq!(queued, 2);
}
