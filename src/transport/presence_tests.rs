//! Subscriptions to the transport and its contacts, as the transport answers them.

use super::testing::Rig;
use crate::watch::Hub;
use std::sync::Arc;

const IRC: &str = "irc.example.org";

#[tokio::test]
async fn a_subscription_is_approved_with_the_request_s_id_and_asked_back() {
    let mut rig = Rig::with_groups(IRC, Arc::new(Hub::default()), &[IRC]).await;
    rig.connect().await;
    let contact = "bob%net@irc.example.org";
    rig.receive(&format!(
        "<presence xmlns='jabber:component:accept' type='subscribe' id='sub-1' \
         from='alice@example.org/phone' to='{contact}'/>"
    ))
    .await;
    let approved = rig.sent().await;
    assert!(
        approved.contains("type='subscribed'") && approved.contains("id='sub-1'"),
        "{approved}"
    );
    assert!(approved.contains("to='alice@example.org'"), "{approved}");
    let asked = rig.sent().await;
    assert!(asked.contains("type='subscribe'"), "{asked}");
    assert!(
        !asked.contains("id='sub-1'"),
        "our own request has its own id: {asked}"
    );
    rig.receive(&format!(
        "<presence xmlns='jabber:component:accept' type='unsubscribe' id='uns-2' \
         from='alice@example.org/phone' to='{contact}'/>"
    ))
    .await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let s = rig.sent().await;
        if s.contains("type='unsubscribed'") {
            answers.push(s);
            break;
        }
    }
    assert!(
        answers.first().is_some_and(|s| s.contains("id='uns-2'")),
        "{answers:?}"
    );
}
