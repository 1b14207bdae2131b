use super::*;
use crate::{Chat, IncomingMessage, MessageContent, Sender, UserId};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn said(n: usize) -> RemoteEvent {
    RemoteEvent::Message(IncomingMessage {
        id: None,
        chat: Chat::Direct(UserId::new("peer")),
        sender: Sender {
            user: UserId::new("peer"),
            display_name: None,
            is_self: false,
        },
        content: MessageContent::text(n.to_string()),
        txn: None,
        timestamp: None,
    })
}

fn number(e: &Envelope) -> usize {
    match &e.event {
        RemoteEvent::Message(m) => m.content.text.parse().unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

fn fair_tx(sink: &EventSink) -> FairTx {
    match &sink.tx {
        crate::sink::Tx::Fair(tx) => tx.clone(),
        crate::sink::Tx::Channel(_) => panic!("a channel sink"),
    }
}

/// True when `f` finishes at its first poll.
async fn at_once<F: std::future::Future>(f: F) -> bool {
    tokio::select! {
        biased;
        _ = f => true,
        _ = std::future::ready(()) => false,
    }
}

#[tokio::test]
async fn queues_are_taken_in_turn_and_keep_their_order() {
    let (queues, mut rx) = event_queues(64);
    let a = queues.sink(LoginId::new("a"));
    let b = queues.sink(LoginId::new("b"));
    for n in 0..64 {
        a.emit(said(n)).await.unwrap();
    }
    for n in 0..3 {
        b.emit(said(n)).await.unwrap();
    }
    let out: Vec<(String, usize)> = (0..67)
        .map(|_| {
            let e = rx.try_recv().expect("an event");
            (e.login.as_str().to_string(), number(&e))
        })
        .collect();
    assert_eq!(
        &out[..7],
        &[
            ("a".into(), 0),
            ("b".into(), 0),
            ("a".into(), 1),
            ("b".into(), 1),
            ("a".into(), 2),
            ("b".into(), 2),
            ("a".into(), 3),
        ]
    );
    let a_order: Vec<usize> = out.iter().filter(|(l, _)| l == "a").map(|o| o.1).collect();
    assert_eq!(a_order, (0..64).collect::<Vec<_>>());
    assert!(rx.try_recv().is_none());
}

#[tokio::test]
async fn a_flood_of_ten_thousand_lets_ten_through_at_once_and_loses_nothing() {
    let (queues, mut rx) = event_queues(128);
    let a = queues.sink(LoginId::new("a"));
    let b = queues.sink(LoginId::new("b"));
    let flood = tokio::spawn(async move {
        for n in 0..10_000 {
            a.emit(said(n)).await.unwrap();
        }
    });
    // A is well under way, then B speaks.
    let mut next_a = 0;
    while next_a < 500 {
        let e = tokio::time::timeout(T, rx.recv()).await.unwrap();
        assert_eq!((e.login.as_str(), number(&e)), ("a", next_a));
        next_a += 1;
    }
    for n in 0..10 {
        b.emit(said(n)).await.unwrap();
    }
    let (mut next_b, mut taken) = (0, 0);
    while next_a < 10_000 || next_b < 10 {
        let e = tokio::time::timeout(T, rx.recv()).await.unwrap();
        taken += 1;
        if e.login.as_str() == "b" {
            assert_eq!(number(&e), next_b);
            next_b += 1;
            assert!(taken <= 2 * next_b, "B's event {next_b} came {taken}th");
        } else {
            assert_eq!(number(&e), next_a, "A's order");
            next_a += 1;
        }
    }
    flood.await.unwrap();
    assert!(rx.try_recv().is_none());
}

#[tokio::test]
async fn a_full_queue_makes_only_its_own_sink_wait() {
    let (queues, mut rx) = event_queues(4);
    let a = queues.sink(LoginId::new("a"));
    let b = queues.sink(LoginId::new("b"));
    for n in 0..4 {
        assert!(at_once(a.emit(said(n))).await);
    }
    assert_eq!(fair_tx(&a).waiting(), 4);
    assert_eq!(queues.full(), 0);
    // A's fifth waits; B is not held up by it.
    assert!(!at_once(a.emit(said(4))).await);
    assert_eq!(queues.full(), 1);
    assert!(at_once(b.emit(said(0))).await);
    // One of A's taken: A's place frees, and a waiting emit goes through.
    let blocked = {
        let a = a.clone();
        tokio::spawn(async move { a.emit(said(4)).await })
    };
    tokio::task::yield_now().await;
    assert!(!blocked.is_finished());
    assert_eq!(number(&rx.try_recv().unwrap()), 0);
    tokio::time::timeout(T, blocked)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(fair_tx(&a).waiting(), 4);
}

#[tokio::test]
async fn sinks_close_when_the_receiver_is_gone_even_while_waiting() {
    let (queues, rx) = event_queues(1);
    let a = queues.sink(LoginId::new("a"));
    a.emit(said(0)).await.unwrap();
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move { a.emit(said(1)).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    drop(rx);
    assert_eq!(
        tokio::time::timeout(T, waiting).await.unwrap().unwrap(),
        Err(SinkClosed)
    );
    assert_eq!(a.emit(said(2)).await, Err(SinkClosed));
    assert_eq!(
        queues.sink(LoginId::new("b")).emit(said(0)).await,
        Err(SinkClosed)
    );
}

#[tokio::test]
async fn recv_waits_for_an_event_and_wakes_on_one() {
    let (queues, mut rx) = event_queues(8);
    let a = queues.sink(LoginId::new("a"));
    let got = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    assert!(!got.is_finished());
    a.emit(said(7)).await.unwrap();
    let e = tokio::time::timeout(T, got).await.unwrap().unwrap();
    assert_eq!((e.login.as_str(), number(&e)), ("a", 7));
}
