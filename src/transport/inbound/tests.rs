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
