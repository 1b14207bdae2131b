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

/// `nick` says `text` in #lounge, as the bridge reports it.
fn said_in_lounge(nick: &str, text: &str) -> RemoteEvent {
    RemoteEvent::Message(switchboard_bridge::IncomingMessage {
        id: None,
        chat: switchboard_bridge::Chat::Group(GroupId::new("#lounge")),
        sender: switchboard_bridge::Sender {
            user: switchboard_bridge::UserId::new(nick),
            display_name: Some(nick.into()),
            is_self: false,
        },
        content: switchboard_bridge::MessageContent::text(text),
        timestamp: None,
        txn: None,
    })
}

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
    rig.event(ALICE, said_in_lounge("bob", "hi")).await;
    let live = rig.sent().await;
    assert!(
        live.contains("<body>hi</body>") && !live.contains("stanza-id"),
        "{live}"
    );
}

#[tokio::test]
async fn a_nick_with_controls_is_found_by_the_occupant_jid_clients_see() {
    // A hostile server can send a nick with control characters; the occupant JID shows
    // them as control pictures, and MAM's `with` names that JID.
    let mut rig = Rig::with_archive(IRC, Arc::new(Hub::default()), &[IRC]).await;
    rig.connect().await;
    super::muc_tests::alice_in(&mut rig).await;
    for (nick, text) in [("ba\u{7}d", "from the bell"), ("bob", "from bob")] {
        rig.event(ALICE, said_in_lounge(nick, text)).await;
        let live = rig.sent().await;
        assert!(live.contains("stanza-id"), "{live}");
    }
    rig.receive(&format!(
        "<iq xmlns='jabber:component:accept' type='set' id='m1' from='{PHONE}' to='{ROOM}'>\
         <query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>\
         <field var='with'><value>{ROOM}/ba\u{2407}d</value></field></x></query></iq>"
    ))
    .await;
    let found = rig.sent_now().join("\n");
    assert!(found.contains("from the bell"), "{found}");
    assert!(!found.contains("from bob"), "{found}");
    assert!(
        found.contains(&format!("from='{ROOM}/ba\u{2407}d'")),
        "{found}"
    );
}
