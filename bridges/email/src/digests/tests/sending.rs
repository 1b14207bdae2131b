//! Collecting and sending: one digest per period, restarts, interrupted digests, missed
//! messages, unsubscribe tokens.

use super::*;

#[tokio::test]
async fn one_digest_per_period_with_every_message_once_and_nothing_for_an_empty_period() {
    let rig = Rig::new().await;
    rig.subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    for n in 0..20 {
        rig.say(
            if n % 2 == 0 { "bob" } else { "carol" },
            &format!("message <{n}>"),
            &format!("m{n}"),
        )
        .await;
        rig.advance(1);
    }
    // A replay of a message from the room's history is kept once.
    rig.say("bob", "message <0>", "m0").await;
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "nothing before the hour");
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains("20 new messages in lounge@conference.localhost"),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe: <mailto:unsubscribe+"),
        "{mail}"
    );
    assert!(
        mail.contains("https://gw.test/email/unsubscribe/"),
        "{mail}"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains("message &lt;0&gt;") && !html.contains("<0>"),
        "escaped: {html}"
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("20 messages from 2 people"), "{text}");
    assert!(
        text.contains("and 15 more"),
        "max_items 5 per source: {text}"
    );
    // Sent: the items are gone, and the next period has nothing to say.
    assert_eq!(rig.store.count("digest:item:"), 0);
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    assert_eq!(
        rig.mails().len(),
        codes + 1,
        "an empty period sends nothing"
    );
    rig.say("bob", "later", "m99").await;
    rig.advance(3600);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes + 2);
    assert!(
        rig.mails().last().unwrap().1.contains("1 new message in"),
        "{}",
        rig.mails().last().unwrap().1
    );
}

#[tokio::test]
async fn a_restart_mid_period_loses_nothing_and_rejoins_since_the_newest_message() {
    let mut rig = Rig::new().await;
    rig.subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    for n in 0..10 {
        rig.say("bob", &format!("before {n}"), &format!("b{n}"))
            .await;
    }
    rig.restart().await;
    assert_eq!(
        rig.asked().last().unwrap(),
        // A minute before the newest message collected (at the rig's 09:00).
        &format!("follow {ROOM} as digest since 2026-11-23T08:59:00+00:00")
    );
    // The room replays what was said while the gateway was away, with stamps to the
    // second: older than the subscription, by the clock, yet never sent.
    rig.digests
        .observe(Observation::Room(RoomMessage {
            room: ROOM.into(),
            sender: "bob".into(),
            body: "said while away".into(),
            at: (rig.clock.now() - chrono::Duration::seconds(1)).into(),
            dedupe: "w0".into(),
        }))
        .await
        .unwrap();
    // …and replays the last ones the gateway had: kept once.
    rig.say("bob", "before 9", "b9").await;
    for n in 0..9 {
        rig.say("bob", &format!("after {n}"), &format!("a{n}"))
            .await;
    }
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    assert!(
        mails.last().unwrap().1.contains("20 new messages in"),
        "{}",
        mails.last().unwrap().1
    );
    // Everything sent and pruned: the next restart asks from where the digest stopped.
    assert_eq!(rig.store.count("digest:item:"), 0);
    rig.restart().await;
    assert_eq!(
        rig.asked().last().unwrap(),
        &format!("follow {ROOM} as digest since 2026-11-23T08:59:00+00:00")
    );
}

#[tokio::test]
async fn a_digest_interrupted_after_it_was_recorded_goes_out_again_the_same() {
    let mut rig = Rig::new().await;
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    rig.say("bob", "one", "x1").await;
    let good_relay = rig.relay_addr.clone();
    rig.relay_addr = "127.0.0.1:1".into();
    rig.restart().await;
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let list = rig.run("digest-list", ALICE, &[]).await.unwrap().note;
    assert!(
        list.contains("last problem: ") && list.contains("the mail relay is unavailable"),
        "{list}"
    );
    let stored: Subscription = serde_json::from_str(
        &rig.store
            .get(&subscription::sub_key(&SubscriptionId::parse(&id).unwrap()))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let in_flight = stored
        .in_flight
        .clone()
        .expect("recorded before the relay was called");
    // More is said meanwhile; the retry sends what was recorded, then the rest next time.
    rig.say("bob", "two", "x2").await;
    rig.relay_addr = good_relay;
    rig.restart().await;
    rig.advance(61);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains(&format!("Message-ID: <{}>", in_flight.message_id)),
        "{mail}"
    );
    assert!(mail.contains("1 new message in"), "{mail}");
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes + 2);
    assert!(rig.mails().last().unwrap().1.contains("two"));
}

#[tokio::test]
async fn missed_messages_wait_and_are_dropped_when_the_user_comes_back() {
    let rig = Rig::new().await;
    rig.subscribe_verified(ALICE, "missed", "alice@example.net", "1m")
        .await;
    let codes = rig.mails().len();
    let missed = |body: &str, at: DateTime<Utc>| {
        Observation::Missed(MissedMessage {
            owner: ALICE.into(),
            from: "bob%example.net@mail.localhost".into(),
            sender: "Bob".into(),
            body: body.into(),
            at: at.into(),
        })
    };
    rig.digests
        .observe(missed("while away", rig.clock.now()))
        .await
        .unwrap();
    rig.advance(61);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "not yet missed_after old");
    rig.digests
        .observe(Observation::Online {
            owner: ALICE.into(),
        })
        .await
        .unwrap();
    rig.advance(700);
    rig.digests.send_due().await.unwrap();
    assert_eq!(rig.mails().len(), codes, "seen when alice came back");
    rig.digests
        .observe(missed("really missed", rig.clock.now()))
        .await
        .unwrap();
    // Someone else's missed messages are not alice's.
    rig.digests
        .observe(Observation::Missed(MissedMessage {
            owner: "bob@localhost".into(),
            from: "x%y.z@mail.localhost".into(),
            sender: String::new(),
            body: "not for alice".into(),
            at: rig.clock.now().into(),
        }))
        .await
        .unwrap();
    rig.advance(601);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    let mail = &mails.last().unwrap().1;
    assert!(
        mail.contains("really missed") && mail.contains("Bob (bob%example.net@mail.localhost)"),
        "{mail}"
    );
    assert!(!mail.contains("not for alice"));
}

#[tokio::test]
async fn unsubscribe_tokens_end_a_digest_once_and_stop_following() {
    let rig = Rig::new().await;
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    rig.subscribe_verified("bob@localhost", ROOM, "bob@example.net", "1h")
        .await;
    let sub = rig
        .digests
        .index()
        .subs
        .get(&SubscriptionId::parse(&id).unwrap())
        .cloned()
        .unwrap();
    assert!(!rig.digests.unsubscribe_token("not-hex").await.unwrap());
    assert!(!rig
        .digests
        .unsubscribe_token(&"0".repeat(32))
        .await
        .unwrap());
    assert!(rig.digests.unsubscribe_token(&sub.token).await.unwrap());
    assert!(
        !rig.digests.unsubscribe_token(&sub.token).await.unwrap(),
        "once"
    );
    // bob still follows the room.
    assert!(
        !rig.asked().iter().any(|a| a.starts_with("unfollow")),
        "{:?}",
        rig.asked()
    );
    rig.say("bob", "hi", "h1").await;
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let last = rig.mails().last().unwrap().clone();
    assert_eq!(last.0, vec!["bob@example.net".to_string()]);
}

#[tokio::test]
async fn a_store_that_fails_for_a_moment_loses_no_message_and_keeps_each_once() {
    let rig = Rig::new().await;
    rig.subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let codes = rig.mails().len();
    // The first writes fail; the retries store each message once.
    rig.failing_puts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    rig.say("bob", "first", "f1").await;
    rig.failing_puts
        .store(2, std::sync::atomic::Ordering::SeqCst);
    rig.say("bob", "second", "f2").await;
    assert_eq!(rig.store.count("digest:item:"), 2);
    // A store that stays down: the error reaches the core (which logs it).
    rig.failing_puts
        .store(100, std::sync::atomic::Ordering::SeqCst);
    let e = rig
        .digests
        .observe(Observation::Room(RoomMessage {
            room: ROOM.into(),
            sender: "bob".into(),
            body: "lost".into(),
            at: rig.clock.now().into(),
            dedupe: "f3".into(),
        }))
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    rig.failing_puts
        .store(0, std::sync::atomic::Ordering::SeqCst);
    rig.advance(3601);
    rig.digests.send_due().await.unwrap();
    let mails = rig.mails();
    assert_eq!(mails.len(), codes + 1);
    assert!(
        mails.last().unwrap().1.contains("2 new messages in"),
        "{}",
        mails.last().unwrap().1
    );
}
