//! The room archive as users see it through a transport without one (as with
//! `irc.history.enabled: false`): no MAM in disco, queries refused, no stanza-ids.

use super::testing::Rig;
use crate::watch::Hub;
use std::sync::Arc;
use switchboard_bridge::{GroupId, RemoteEvent};

const IRC: &str = "irc.example.org";
const ALICE: &str = "alice@example.org";
const PHONE: &str = "alice@example.org/phone";
const ROOM: &str = "#lounge@irc.example.org";

async fn irc() -> Rig {
    let rig = Rig::with_groups(IRC, Arc::new(Hub::default()), &[IRC]).await;
    rig.connect().await;
    rig
}

#[tokio::test]
async fn without_an_archive_rooms_offer_no_mam_and_refuse_queries() {
    // The rig's transport keeps no archive (as with `irc.history.enabled: false`).
    let mut rig = irc().await;
    rig.receive(&format!(
        "<iq xmlns='jabber:component:accept' type='get' id='d1' from='{PHONE}' to='{ROOM}'>\
         <query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
    ))
    .await;
    let info = rig.sent().await;
    assert!(info.contains("http://jabber.org/protocol/muc"), "{info}");
    assert!(
        !info.contains("urn:xmpp:mam:2") && !info.contains("urn:xmpp:sid:0"),
        "{info}"
    );
    rig.receive(&format!(
        "<iq xmlns='jabber:component:accept' type='set' id='m1' from='{PHONE}' to='{ROOM}'>\
         <query xmlns='urn:xmpp:mam:2'/></iq>"
    ))
    .await;
    let refused = rig.sent().await;
    assert!(
        refused.contains("type='error'") && refused.contains("<service-unavailable"),
        "{refused}"
    );
    // And live lines carry no stanza-id.
    super::muc_tests::alice_in(&mut rig).await;
    rig.event(
        ALICE,
        RemoteEvent::Message(switchboard_bridge::IncomingMessage {
            id: None,
            chat: switchboard_bridge::Chat::Group(GroupId::new("#lounge")),
            sender: switchboard_bridge::Sender {
                user: switchboard_bridge::UserId::new("bob"),
                display_name: None,
                is_self: false,
            },
            content: switchboard_bridge::MessageContent::text("hi"),
            timestamp: None,
            txn: None,
        }),
    )
    .await;
    let live = rig.sent().await;
    assert!(
        live.contains("<body>hi</body>") && !live.contains("stanza-id"),
        "{live}"
    );
}
