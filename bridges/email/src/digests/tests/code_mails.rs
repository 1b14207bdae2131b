//! The daily allowance of verification-code mails, per address and per user.

use super::*;

/// Asks for a digest of missed messages to `address` and ends it again at once (the loop
/// that mail-bombs an address); the error when the subscription was refused.
async fn subscribe_and_end(rig: &Rig, owner: &str, address: &str) -> Result<(), BridgeError> {
    let reply = rig
        .run(
            "digest-subscribe",
            owner,
            &[("source", "missed"), ("address", address), ("every", "1h")],
        )
        .await?;
    let id = reply.fields[0].value.clone();
    rig.run("digest-unsubscribe", owner, &[("id", &id)])
        .await
        .unwrap();
    Ok(())
}

#[tokio::test]
async fn an_address_gets_three_codes_a_day_whoever_asks_even_across_restarts() {
    let mut rig = Rig::new().await;
    for _ in 0..3 {
        subscribe_and_end(&rig, ALICE, "victim@example.net")
            .await
            .unwrap();
    }
    assert_eq!(rig.mails().len(), 3);
    let refused = subscribe_and_end(&rig, ALICE, "Victim@Example.NET")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, BridgeError::LimitReached(t)
            if t.contains("3 verification codes were mailed to") && t.contains("today (UTC)")),
        "{refused:?}"
    );
    // Another user cannot mail it either, nor can anyone after a restart.
    assert!(matches!(
        subscribe_and_end(&rig, "bob@localhost", "victim@example.net").await,
        Err(BridgeError::LimitReached(_))
    ));
    rig.restart().await;
    assert!(matches!(
        subscribe_and_end(&rig, ALICE, "victim@example.net").await,
        Err(BridgeError::LimitReached(_))
    ));
    assert_eq!(rig.mails().len(), 3, "no mail for a refused subscription");
    // Other addresses are not affected; the next UTC day brings a new allowance.
    subscribe_and_end(&rig, ALICE, "other@example.net")
        .await
        .unwrap();
    rig.advance(15 * 3600); // 09:00 → 00:00 the next day
    subscribe_and_end(&rig, ALICE, "victim@example.net")
        .await
        .unwrap();
    assert_eq!(rig.mails().len(), 5);
}

#[tokio::test]
async fn a_user_gets_ten_code_mails_a_day() {
    let rig = Rig::new().await;
    for i in 0..10 {
        subscribe_and_end(&rig, ALICE, &format!("a{i}@example.net"))
            .await
            .unwrap();
    }
    let refused = subscribe_and_end(&rig, ALICE, "a10@example.net")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, BridgeError::LimitReached(t) if t.contains("you had 10 verification codes")),
        "{refused:?}"
    );
    // Someone else may still mail that address.
    subscribe_and_end(&rig, "bob@localhost", "a10@example.net")
        .await
        .unwrap();
    assert_eq!(rig.mails().len(), 11);
}
