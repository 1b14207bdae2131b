//! Subscribing, verifying, listing, ending: answers and refusals.

use super::*;

#[tokio::test]
async fn a_new_address_is_verified_by_the_mailed_code_before_anything_is_collected() {
    let rig = Rig::new().await;
    let reply = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "alice@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap();
    assert!(
        reply
            .note
            .contains("verification code was mailed to alice@example.net"),
        "{}",
        reply.note
    );
    let id = reply.fields[0].value.clone();
    let mails = rig.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, vec!["alice@example.net".to_string()]);
    let code = code_in(&mails[0].1);
    // Not followed before it is confirmed.
    assert!(rig.asked().is_empty(), "{:?}", rig.asked());
    let list = rig.run("digest-list", ALICE, &[]).await.unwrap();
    assert!(
        list.note.contains(&format!(
            "{id}: {ROOM} to alice@example.net, every 1h (waiting for digest-verify)"
        )),
        "{}",
        list.note
    );

    let wrong = rig
        .run("digest-verify", ALICE, &[("code", "000000x")])
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, BridgeError::Invalid(t) if t.contains("4 tries left")),
        "{wrong:?}"
    );
    // Someone else cannot use alice's code.
    let other = rig
        .run("digest-verify", "eve@localhost", &[("code", &code)])
        .await
        .unwrap_err();
    assert!(matches!(other, BridgeError::NotFound(_)), "{other:?}");
    let ok = rig
        .run("digest-verify", ALICE, &[("code", &code)])
        .await
        .unwrap();
    assert!(ok.note.starts_with("Confirmed."), "{}", ok.note);
    assert_eq!(rig.asked(), vec![format!("follow {ROOM} as digest fresh")]);

    // The address is now known (in any case): a second digest to it needs no code.
    let third = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", "missed"),
                ("address", "Alice@Example.NET"),
                ("daily_at", "07:30"),
                ("timezone", "Europe/Berlin"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(rig.mails().len(), 1);
    assert!(third.note.starts_with("Subscribed."), "{}", third.note);
    assert!(
        third.note.contains("daily at 07:30 (Europe/Berlin)"),
        "{}",
        third.note
    );
    assert_eq!(rig.asked().last().unwrap(), &format!("watch {ALICE}"));
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_reasons() {
    let rig = Rig::new().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("source", "lounge"),
                ("address", "a@example.net"),
                ("every", "1h"),
            ],
            "give a room JID",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "not-an-address"),
                ("every", "1h"),
            ],
            "address:",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("every", "10s"),
            ],
            "at most every 1m",
        ),
        (
            &[("source", ROOM), ("address", "a@example.net")],
            "give either",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("daily_at", "7h"),
            ],
            "not a time",
        ),
        (
            &[
                ("source", ROOM),
                ("address", "a@example.net"),
                ("daily_at", "07:00"),
                ("timezone", "Mars/Olympus"),
            ],
            "not a time zone",
        ),
    ];
    for (fields, expected) in cases {
        let e = rig
            .run("digest-subscribe", ALICE, fields)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(expected), "{fields:?}: {e}");
    }
    assert!(rig.mails().is_empty());
    // A relay that refuses the address: no subscription is left behind.
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "refused@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BridgeError::Rejected(t) if t.contains("no such mailbox")),
        "{e:?}"
    );
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "later@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("cannot mail the code now"),
        "{e:?}"
    );
    assert_eq!(
        rig.run("digest-list", ALICE, &[]).await.unwrap().note,
        "You have no digests."
    );
    // Pending subscriptions are capped, and five wrong codes drop them.
    for n in 0..3 {
        rig.run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", &format!("p{n}@example.net")),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap();
    }
    let e = rig
        .run(
            "digest-subscribe",
            ALICE,
            &[
                ("source", ROOM),
                ("address", "p4@example.net"),
                ("every", "1h"),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::LimitReached(_)), "{e:?}");
    for _ in 0..4 {
        rig.run("digest-verify", ALICE, &[("code", "x")])
            .await
            .unwrap_err();
    }
    let e = rig
        .run("digest-verify", ALICE, &[("code", "x")])
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::NotAllowed(_)), "{e:?}");
    assert_eq!(
        rig.run("digest-list", ALICE, &[]).await.unwrap().note,
        "You have no digests."
    );
    // Only the owner ends a digest.
    let id = rig
        .subscribe_verified(ALICE, ROOM, "alice@example.net", "1h")
        .await;
    let e = rig
        .run("digest-unsubscribe", "eve@localhost", &[("id", &id)])
        .await
        .unwrap_err();
    assert!(matches!(e, BridgeError::NotFound(_)), "{e:?}");
    rig.run("digest-unsubscribe", ALICE, &[("id", &id)])
        .await
        .unwrap();
    assert_eq!(rig.asked().last().unwrap(), &format!("unfollow {ROOM}"));
}

#[tokio::test]
async fn only_those_who_may_read_a_room_get_its_digest() {
    let rig = Rig::new().await;
    let secret = "secret@conference.localhost";
    rig.watcher.1.lock().unwrap().push(secret.into());
    let refused = rig
        .run(
            "digest-subscribe",
            "bob@localhost",
            &[
                ("source", secret),
                ("address", "bob@example.net"),
                ("every", "30m"),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, BridgeError::Forbidden(t) if t.contains(secret) && t.contains("not in")),
        "{refused:?}"
    );
    // Refused before anything happens: no code mail, nothing followed, nothing held.
    assert!(rig.mails().is_empty(), "{:?}", rig.mails());
    assert!(rig.asked().is_empty(), "{:?}", rig.asked());
    assert_eq!(
        rig.run("digest-list", "bob@localhost", &[])
            .await
            .unwrap()
            .note,
        "You have no digests."
    );
    // A room the owner may read, and 'missed' (their own), are taken.
    rig.subscribe_verified("bob@localhost", ROOM, "bob@example.net", "30m")
        .await;
    rig.subscribe_verified("bob@localhost", "missed", "bob@example.net", "30m")
        .await;
    assert_eq!(rig.digests.index().owned_by("bob@localhost").count(), 2);
}
