//! The acceptor's answers: stored, duplicate, refused for good, refused while the store
//! fails.

use super::*;
use crate::store::sqlite::SqliteStore;
use switchboard_bridge::{
    Chat, Inbound, IncomingMessage, MessageContent, RemoteEvent, Sender, UserId,
};

fn sms(to: &str, text: &str) -> Inbound {
    let event = RemoteEvent::Message(IncomingMessage {
        id: None,
        chat: Chat::Direct(UserId::new("+15550002222")),
        sender: Sender {
            user: UserId::new("+15550002222"),
            display_name: None,
            is_self: false,
        },
        content: MessageContent::text(text),
        txn: None,
        timestamp: None,
    });
    Inbound::new(Recipient::Owner(to.into()), event)
}

fn delivery(items: Vec<Inbound>) -> Delivery {
    Delivery {
        items,
        done: oneshot::channel().0,
    }
}

fn access() -> Access {
    Access::new(&["example.org".into()], &[])
}

fn value(stats: &InboundStats, name: &str) -> u64 {
    stats
        .counters()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.value)
        .unwrap()
}

#[tokio::test]
async fn a_delivery_is_stored_before_it_is_answered_and_a_repeat_is_not() {
    let store = SqliteStore::open(None).unwrap();
    let stats = InboundStats::default();
    let first = delivery(vec![sms("alice@example.org", "hi").once("sms-id:SM1")]);
    let got = accept(&store, &access(), "sms.test", &stats, &first).await;
    assert_eq!(got, Ok(vec![Accepted::Stored]));
    assert_eq!(
        store.inbound_total("sms.test").await.unwrap(),
        1,
        "stored when answered"
    );
    let replay = delivery(vec![sms("alice@example.org", "hi").once("sms-id:SM1")]);
    let got = accept(&store, &access(), "sms.test", &stats, &replay).await;
    assert_eq!(got, Ok(vec![Accepted::Duplicate]));
    assert_eq!(store.inbound_total("sms.test").await.unwrap(), 1);
    assert_eq!(value(&stats, "switchboard_inbound_stored_total"), 1);
    assert_eq!(value(&stats, "switchboard_inbound_duplicates_total"), 1);
}

#[tokio::test]
async fn an_owner_outside_the_allow_list_is_refused_and_nothing_is_stored() {
    let store = SqliteStore::open(None).unwrap();
    let stats = InboundStats::default();
    for owner in ["mallory@evil.example", "not a jid@@"] {
        let d = delivery(vec![sms("alice@example.org", "ok"), sms(owner, "no")]);
        let got = accept(&store, &access(), "sms.test", &stats, &d).await;
        assert!(
            matches!(got, Err(ref e) if !e.is_transient()),
            "{owner}: {got:?}"
        );
    }
    assert_eq!(
        store.inbound_total("sms.test").await.unwrap(),
        0,
        "all or none"
    );
    assert_eq!(value(&stats, "switchboard_inbound_refused_total"), 2);
}

#[tokio::test]
async fn a_store_that_fails_answers_transient_so_the_sender_retries() {
    let store = SqliteStore::open(None).unwrap();
    store
        .with(|c| {
            c.execute_batch(
                "CREATE TRIGGER full BEFORE INSERT ON inbound
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let stats = InboundStats::default();
    let d = delivery(vec![sms("alice@example.org", "hi").once("sms-id:SM9")]);
    let got = accept(&store, &access(), "sms.test", &stats, &d).await;
    assert!(matches!(got, Err(ref e) if e.is_transient()), "{got:?}");
    assert_eq!(value(&stats, "switchboard_inbound_store_failures_total"), 1);
    assert_eq!(value(&stats, "switchboard_inbound_stored_total"), 0);
    // Once the store works again the same event is taken (its key was not kept).
    store
        .with(|c| {
            c.execute_batch("DROP TRIGGER full;")?;
            Ok(())
        })
        .await
        .unwrap();
    let got = accept(&store, &access(), "sms.test", &stats, &d).await;
    assert_eq!(got, Ok(vec![Accepted::Stored]));
}

/// A transport whose worker hands stored events to a stand-in run loop: it queues one
/// stanza per event on the link and answers with `answers` in turn (then Ok).
async fn worker_rig(
    answers: Vec<Result<(), BridgeError>>,
) -> (
    crate::transport::testing::Rig,
    Arc<Notify>,
    CancellationToken,
    mpsc::UnboundedReceiver<String>,
) {
    let rig = crate::transport::testing::Rig::start(
        "sms.test",
        Arc::new(crate::watch::Hub::default()),
        &["sms.test"],
    )
    .await;
    let (to_loop, mut from_store) = mpsc::channel::<ToLoop>(1);
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let stored = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let transport = rig.transport.clone();
    tokio::spawn(worker(
        transport.clone(),
        to_loop,
        stored.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        while let Some((row, done)) = from_store.recv().await {
            let RemoteEvent::Message(m) = &row.event else {
                panic!("a message")
            };
            let _ = seen_tx.send(m.content.text.clone());
            let answer = answers.next().unwrap_or(Ok(()));
            if answer.is_ok() {
                let stanza =
                    xmpp_parsers::message::Message::chat(Jid::new("alice@example.org").unwrap())
                        .with_body("".into(), m.content.text.clone());
                transport.link.send_wait(stanza.into()).await.unwrap();
            }
            let _ = done.send(answer);
        }
    });
    (rig, stored, shutdown, seen)
}

async fn push(rig: &crate::transport::testing::Rig, stored: &Notify, texts: &[&str]) {
    let items: Vec<_> = texts.iter().map(|t| sms("alice@example.org", t)).collect();
    rig.transport
        .store
        .inbound_push("sms.test", &items, DEDUPE_KEEP)
        .await
        .unwrap();
    stored.notify_one();
}

/// The server sends a marker back, as Prosody routes a ping of the transport to itself.
fn echo(rig: &crate::transport::testing::Rig, marker: crate::link::Queued) {
    let stanza = xmpp_parsers::stanza::Stanza::try_from(marker.element().into_owned()).unwrap();
    assert!(rig.transport.link.markers().echoed(&stanza), "a marker");
}

async fn waiting(rig: &crate::transport::testing::Rig) -> u64 {
    rig.transport.store.inbound_total("sms.test").await.unwrap()
}

#[tokio::test]
async fn stored_events_are_removed_only_once_the_server_read_them() {
    let (mut rig, stored, shutdown, mut seen) = worker_rig(vec![]).await;
    push(&rig, &stored, &["one", "two"]).await;
    // The link is down: nothing is handed over, everything stays stored.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(seen.try_recv().is_err(), "nothing while the link is down");
    rig.connect().await;
    assert_eq!(seen.recv().await.unwrap(), "one");
    assert_eq!(seen.recv().await.unwrap(), "two", "in order");
    // Written, not yet read by the server: still stored (a crash now delivers again).
    let _first = rig.take_queued().await;
    let _second = rig.take_queued().await;
    let marker = rig.take_queued().await;
    assert_eq!(marker.element().name(), "iq", "the marker behind them");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(waiting(&rig).await, 2, "kept until the marker is back");
    echo(&rig, marker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while waiting(&rig).await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "removed once read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        value(
            &rig.transport.inbound_stats,
            "switchboard_inbound_delivered_total"
        ),
        2
    );
    shutdown.cancel();
}

#[tokio::test]
async fn events_whose_marker_was_lost_with_the_connection_are_delivered_again() {
    let (mut rig, stored, shutdown, mut seen) = worker_rig(vec![]).await;
    rig.connect().await;
    push(&rig, &stored, &["lost in the queue"]).await;
    assert_eq!(seen.recv().await.unwrap(), "lost in the queue");
    let _stanza = rig.take_queued().await;
    let _marker = rig.take_queued().await;
    // The connection breaks before the server sent the marker back.
    rig.disconnect();
    rig.transport.link.markers().forget();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(waiting(&rig).await, 1, "kept");
    // Once the link is up again the event goes out again, with the same stanza id.
    rig.connect().await;
    assert_eq!(seen.recv().await.unwrap(), "lost in the queue");
    let _again = rig.take_queued().await;
    let marker = rig.take_queued().await;
    echo(&rig, marker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while waiting(&rig).await != 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
}

#[tokio::test]
async fn a_transient_failure_keeps_the_event_and_what_follows_in_order() {
    let (mut rig, stored, shutdown, mut seen) = worker_rig(vec![
        Ok(()),
        Err(BridgeError::Transient("storage: locked".into())),
        Err(BridgeError::NotAllowed("gone".into())),
    ])
    .await;
    rig.connect().await;
    push(&rig, &stored, &["a", "b", "c"]).await;
    assert_eq!(seen.recv().await.unwrap(), "a");
    assert_eq!(seen.recv().await.unwrap(), "b", "fails for now");
    // "a" went out: its marker comes right behind it; "c" waits behind "b".
    let _a = rig.take_queued().await;
    let marker = rig.take_queued().await;
    echo(&rig, marker);
    let pending = rig.transport.store.inbound_pending("sms.test", 10).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut pending = pending.unwrap();
    while pending.len() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "{pending:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
        pending = rig
            .transport
            .store
            .inbound_pending("sms.test", 10)
            .await
            .unwrap();
    }
    assert_eq!(pending[0].attempts, 1, "the failed attempt is counted");
    // After the backoff: "b" again (refused for good this time: dropped), then "c".
    assert_eq!(seen.recv().await.unwrap(), "b");
    assert_eq!(seen.recv().await.unwrap(), "c");
    let _c = rig.take_queued().await;
    let marker = rig.take_queued().await;
    echo(&rig, marker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while waiting(&rig).await != 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = &rig.transport.inbound_stats;
    assert_eq!(value(stats, "switchboard_inbound_dropped_total"), 1);
    assert_eq!(value(stats, "switchboard_inbound_delivered_total"), 2);
    shutdown.cancel();
}
