use super::*;
use crate::store::archive::PageFrom;
use crate::store::sqlite::SqliteStore;

async fn archive() -> Arc<Archive> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(None).unwrap());
    Archive::open(
        "irc.test",
        HistoryConfig::default(),
        store,
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn last(max: usize) -> ArchiveQuery {
    ArchiveQuery::page(PageFrom::Last, max)
}

fn bodies(a: ArchiveAnswer) -> Vec<String> {
    match a {
        ArchiveAnswer::Page(p) => p.rows.into_iter().map(|r| r.body).collect(),
        other => panic!("not a page: {other:?}"),
    }
}

#[tokio::test]
async fn a_line_heard_by_two_users_is_stored_once_with_one_id() {
    let a = archive().await;
    let (alice, bob, g) = (
        LoginId::new("alice"),
        LoginId::new("bob"),
        GroupId::new("#c"),
    );
    a.joined(&alice, &g).await;
    a.joined(&bob, &g).await;
    let first = a.record(&alice, &g, "carol", "hello").await.unwrap();
    let second = a.record(&bob, &g, "carol", "hello").await.unwrap();
    assert_eq!(first, second);
    let other = a.record(&bob, &g, "carol", "again").await.unwrap();
    assert!(other > first, "ids grow");
    // Read at once: the query waits for the writer.
    assert_eq!(
        bodies(a.query(&alice, &g, last(10)).await.unwrap()),
        ["hello", "again"]
    );
    assert_eq!(
        bodies(a.query(&bob, &g, last(10)).await.unwrap()),
        ["hello", "again"]
    );
    assert_eq!(a.counters()[0].value, 2);
}

#[tokio::test]
async fn a_user_reads_nothing_from_before_they_joined_or_after_they_left() {
    let a = archive().await;
    let (alice, bob, g) = (
        LoginId::new("alice"),
        LoginId::new("bob"),
        GroupId::new("#c"),
    );
    a.joined(&alice, &g).await;
    a.record(&alice, &g, "carol", "before bob").await;
    a.joined(&bob, &g).await;
    a.record(&alice, &g, "carol", "both").await;
    a.record(&bob, &g, "carol", "both").await;
    a.left(&bob, &g).await;
    a.record(&alice, &g, "carol", "after bob").await;
    assert_eq!(bodies(a.query(&bob, &g, last(10)).await.unwrap()), ["both"]);
    assert_eq!(
        a.query(&LoginId::new("mallory"), &g, last(10))
            .await
            .unwrap(),
        ArchiveAnswer::NeverIn
    );
}

#[tokio::test]
async fn ids_survive_a_restart_and_keep_growing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let (alice, g) = (LoginId::new("alice"), GroupId::new("#c"));
    let first = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(Some(&path)).unwrap());
        let a = Archive::open(
            "irc.test",
            HistoryConfig::default(),
            store,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        a.joined(&alice, &g).await;
        let seq = a.record(&alice, &g, "carol", "one").await.unwrap();
        a.flush().await;
        seq
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(Some(&path)).unwrap());
    let a = Archive::open(
        "irc.test",
        HistoryConfig::default(),
        store,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // The span the "crash" left open was closed: alice rejoins.
    a.joined(&alice, &g).await;
    let second = a.record(&alice, &g, "carol", "two").await.unwrap();
    assert!(second > first);
    assert_eq!(
        bodies(a.query(&alice, &g, last(10)).await.unwrap()),
        ["one", "two"]
    );
}

#[tokio::test]
async fn a_login_not_counted_in_keeps_nothing() {
    let a = archive().await;
    let (alice, bob, g) = (
        LoginId::new("alice"),
        LoginId::new("bob"),
        GroupId::new("#c"),
    );
    assert_eq!(a.record(&alice, &g, "carol", "nobody records").await, None);
    a.joined(&alice, &g).await;
    assert_eq!(a.record(&bob, &g, "carol", "bob does not").await, None);
    assert!(a.record(&alice, &g, "carol", "alice does").await.is_some());
    a.left(&alice, &g).await;
    assert_eq!(a.record(&alice, &g, "carol", "not any more").await, None);
    assert_eq!(a.counters()[0].value, 1);
}

#[tokio::test]
async fn a_flooded_room_is_pruned_to_its_cap_without_waiting_for_the_hour() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(None).unwrap());
    let config = HistoryConfig {
        max_per_room: 20,
        ..HistoryConfig::default()
    };
    let a = Archive::open("irc.test", config, store, CancellationToken::new())
        .await
        .unwrap();
    let (alice, g) = (LoginId::new("alice"), GroupId::new("#flood"));
    a.joined(&alice, &g).await;
    for i in 0..500 {
        a.record(&alice, &g, "mallory", &format!("flood {i}")).await;
    }
    a.flush().await;
    // The pruner runs every 2 new lines here (a tenth of the cap): at most a few lines
    // over the cap stay, and the newest are the ones kept.
    // (The pruner may have run before the last writes: each line more wakes it again.)
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut newest = "flood 499".to_string();
    loop {
        let lines = bodies(a.query(&alice, &g, last(250)).await.unwrap());
        if lines.len() <= 22 {
            assert_eq!(lines.last(), Some(&newest));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} lines kept",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        newest = format!("one more after {}", lines.len());
        a.record(&alice, &g, "mallory", &newest).await;
    }
}

#[test]
fn line_ids_are_opaque_and_strict() {
    assert_eq!(
        parse_line_id(&line_id(1_765_000_000_000_000)),
        Some(1_765_000_000_000_000)
    );
    for bad in ["", "xyz", "-1", "0", "1 ", "ffffffffffffffffff", "ﬀ"] {
        assert_eq!(parse_line_id(bad), None, "{bad:?}");
    }
}
