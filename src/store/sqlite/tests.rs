use super::*;
use switchboard_bridge::{Chat, MessageContent, OutgoingMessage, TxnId, UserId};

fn entry(login: &LoginId, text: &str) -> NewOutboxEntry {
    NewOutboxEntry {
        transport: "echo.test".into(),
        login: login.clone(),
        sender: "alice@example.org/phone".into(),
        recipient: "bob@echo.test".into(),
        stanza_id: Some("client-chosen".into()),
        wants_receipt: true,
        message: OutgoingMessage {
            chat: Chat::Direct(UserId::new("bob")),
            content: MessageContent::text(text),
            txn: TxnId::new(format!("t-{text}")),
        },
    }
}

#[tokio::test]
async fn registration_round_trip_keeps_the_login_id() {
    let s = SqliteStore::open(None).unwrap();
    let data = LoginData::from([("username".into(), "ann".into())]);
    let first = s
        .put_registration("echo.test", "alice@example.org", &data)
        .await
        .unwrap();
    let data2 = LoginData::from([("username".into(), "anne".into())]);
    let second = s
        .put_registration("echo.test", "alice@example.org", &data2)
        .await
        .unwrap();
    assert_eq!(first.login, second.login);
    assert_eq!(second.data, data2);
    let got = s
        .registration("echo.test", "alice@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, second);
    assert_eq!(
        s.registration("other.test", "alice@example.org")
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.registrations("echo.test").await.unwrap(), vec![second]);
}

#[tokio::test]
async fn unregistering_deletes_settings_and_queued_messages() {
    let s = SqliteStore::open(None).unwrap();
    let reg = s
        .put_registration("echo.test", "alice@example.org", &LoginData::new())
        .await
        .unwrap();
    s.put_setting(&reg.login, "nick", "ann").await.unwrap();
    s.put_setting(&reg.login, "configure:libera", "{}")
        .await
        .unwrap();
    s.put_setting(&reg.login, "configure:oftc", "{\"a\":1}")
        .await
        .unwrap();
    let found = s.settings(&reg.login, "configure:").await.unwrap();
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["configure:libera", "configure:oftc"]);
    s.outbox_push(&entry(&reg.login, "hi")).await.unwrap();
    assert_eq!(
        s.setting(&reg.login, "nick").await.unwrap().as_deref(),
        Some("ann")
    );
    let removed = s
        .delete_registration("echo.test", "alice@example.org")
        .await
        .unwrap();
    assert_eq!(removed.map(|r| r.login), Some(reg.login.clone()));
    assert_eq!(s.setting(&reg.login, "nick").await.unwrap(), None);
    assert_eq!(s.outbox_len(&reg.login).await.unwrap(), 0);
    assert_eq!(
        s.delete_registration("echo.test", "alice@example.org")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn outbox_keeps_order_attempts_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let login = LoginId::new("l1");
    {
        let s = SqliteStore::open(Some(&path)).unwrap();
        let a = s.outbox_push(&entry(&login, "one")).await.unwrap();
        s.outbox_push(&entry(&login, "two")).await.unwrap();
        s.outbox_push(&entry(&LoginId::new("l2"), "other"))
            .await
            .unwrap();
        s.outbox_attempted(a).await.unwrap();
    }
    let s = SqliteStore::open(Some(&path)).unwrap();
    let pending = s.outbox_pending(&login, 10).await.unwrap();
    let texts: Vec<_> = pending
        .iter()
        .map(|e| e.entry.message.content.text.as_str())
        .collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].entry, entry(&login, "one"));
    assert_eq!(s.outbox_total("echo.test").await.unwrap(), 3);
    s.outbox_remove(pending[0].id).await.unwrap();
    assert_eq!(s.outbox_len(&login).await.unwrap(), 1);
}

#[test]
fn a_corrupt_file_is_a_clear_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    std::fs::write(
        &path,
        b"this is not a database, just text that is long enough",
    )
    .unwrap();
    let err = SqliteStore::open(Some(&path)).err().expect("must fail");
    assert!(
        err.to_string().starts_with("cannot open the database"),
        "{err}"
    );
}

#[tokio::test]
async fn receipts_are_stored_with_the_message_and_taken_once() {
    let s = SqliteStore::open(None).unwrap();
    let login = LoginId::new("l1");
    let e = entry(&login, "r");
    s.outbox_push(&e).await.unwrap();
    let target = s.receipt_take(&e.message.txn).await.unwrap().unwrap();
    assert_eq!(target.sender, "alice@example.org/phone");
    assert_eq!(target.recipient, "bob@echo.test");
    assert_eq!(target.stanza_id, "client-chosen");
    assert_eq!(s.receipt_take(&e.message.txn).await.unwrap(), None);
    let mut no = entry(&login, "n");
    no.wants_receipt = false;
    s.outbox_push(&no).await.unwrap();
    assert_eq!(s.receipt_take(&no.message.txn).await.unwrap(), None);
}
