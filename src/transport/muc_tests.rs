//! Joining, rejoining and leaving rooms, and occupant pings, against an in-process
//! transport whose bridge records its calls (the network's answers are handed in by the
//! tests): what a user's resources see, and what the bridge is asked.

use super::testing::Rig;
use crate::watch::Hub;
use std::sync::Arc;
use switchboard_bridge::{
    GroupId, GroupSnapshot, LeaveReason, Occupant, Rank, ReadAccess, RemoteEvent,
};

const IRC: &str = "irc.example.org";
const ALICE: &str = "alice@example.org";
const PHONE: &str = "alice@example.org/phone";
const ROOM: &str = "#lounge@irc.example.org";
const MUC: &str = "<x xmlns='http://jabber.org/protocol/muc'/>";

async fn irc(hub: Arc<Hub>) -> Rig {
    let rig = Rig::with_groups(IRC, hub, &[IRC, "mail.example.org"]).await;
    rig.connect().await;
    rig
}

fn presence(from: &str, to: &str, type_: &str, payload: &str) -> String {
    let type_ = if type_.is_empty() {
        String::new()
    } else {
        format!(" type='{type_}'")
    };
    format!("<presence xmlns='jabber:component:accept' from='{from}' to='{to}'{type_}>{payload}</presence>")
}

fn joined(nick: &str) -> RemoteEvent {
    RemoteEvent::GroupJoined(GroupSnapshot {
        group: GroupId::new("#lounge"),
        nick: nick.into(),
        nick_changed: false,
        occupants: vec![
            Occupant {
                nick: nick.into(),
                rank: Rank::Regular,
            },
            Occupant {
                nick: "bob".into(),
                rank: Rank::Operator,
            },
        ],
        topic: "welcome".into(),
        topic_by: None,
    })
}

fn parted() -> RemoteEvent {
    RemoteEvent::GroupLeft {
        group: GroupId::new("#lounge"),
        reason: LeaveReason::Left,
    }
}

/// The full join as a resource sees it: the other occupant, the self-presence, the subject.
fn full_join(to: &str) -> Vec<String> {
    vec![
        format!(
            "<presence xmlns='jabber:component:accept' from='{ROOM}/bob' to='{to}'><priority>0</priority>\
             <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='admin' role='moderator'/></x></presence>"
        ),
        format!(
            "<presence xmlns='jabber:component:accept' from='{ROOM}/alice' to='{to}'><priority>0</priority>\
             <x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/>\
             <item affiliation='none' role='participant'/></x></presence>"
        ),
        format!(
            "<message xmlns='jabber:component:accept' from='{ROOM}' to='{to}' type='groupchat'>\
             <subject>welcome</subject></message>"
        ),
    ]
}

/// Alice's phone joins `#lounge` as alice and the network confirms.
pub(super) async fn alice_in(rig: &mut Rig) {
    rig.receive(&presence(PHONE, &format!("{ROOM}/alice"), "", MUC))
        .await;
    assert_eq!(rig.calls(), ["join #lounge as alice"]);
    rig.event(ALICE, joined("alice")).await;
    let sent: Vec<String> = rig
        .sent_now()
        .into_iter()
        .filter(|s| s.contains(ROOM))
        .collect();
    assert_eq!(sent, full_join(PHONE));
}

#[tokio::test]
async fn a_join_from_a_resource_already_in_gets_the_full_join_again_without_a_new_foreign_join() {
    let mut rig = irc(Arc::new(Hub::default())).await;
    alice_in(&mut rig).await;
    // Her server restarted (or her client lost track): the same resource joins again.
    rig.receive(&presence(PHONE, &format!("{ROOM}/alice"), "", MUC))
        .await;
    assert_eq!(rig.sent_now(), full_join(PHONE));
    assert!(rig.calls().is_empty(), "the foreign membership never ended");
    // Rejoining with another nick: the network's nick stays, flagged as assigned (210).
    rig.receive(&presence(PHONE, &format!("{ROOM}/alicia"), "", MUC))
        .await;
    let again = rig.sent_now();
    assert_eq!(again.len(), 3, "{again:?}");
    assert!(
        again[1].contains(&format!("from='{ROOM}/alice'"))
            && again[1].contains("<status code='110'/><status code='210'/>"),
        "{again:?}"
    );
    // Failure mode: a presence update without <x xmlns='…muc'/> is no join: nothing is
    // sent again, and nothing asked of the network.
    rig.receive(&presence(
        PHONE,
        &format!("{ROOM}/alice"),
        "",
        "<show>away</show>",
    ))
    .await;
    assert!(rig.sent_now().is_empty());
    assert!(rig.calls().is_empty());
}

#[tokio::test]
async fn leaving_and_joining_again_before_the_part_is_confirmed_ends_in_the_room() {
    let mut rig = irc(Arc::new(Hub::default())).await;
    alice_in(&mut rig).await;
    rig.receive(&presence(
        PHONE,
        &format!("{ROOM}/alice"),
        "unavailable",
        "",
    ))
    .await;
    let bye = rig.sent_now();
    assert_eq!(bye.len(), 1, "{bye:?}");
    assert!(
        bye[0].contains("type='unavailable'") && bye[0].contains("<status code='110'/>"),
        "{bye:?}"
    );
    assert_eq!(rig.calls(), ["leave #lounge"]);
    // Back before the network confirmed the PART: the join waits for it.
    rig.receive(&presence(PHONE, &format!("{ROOM}/alice"), "", MUC))
        .await;
    assert!(
        rig.calls().is_empty(),
        "a JOIN now would be undone by the PART"
    );
    assert!(rig.sent_now().is_empty());
    // The PART is confirmed: no second goodbye, and the join is made now.
    rig.event(ALICE, parted()).await;
    assert!(rig.sent_now().is_empty(), "no unavailable presence again");
    assert_eq!(rig.calls(), ["join #lounge as alice"]);
    rig.event(ALICE, joined("alice")).await;
    assert_eq!(rig.sent_now(), full_join(PHONE));
    assert!(rig.transport.in_room(
        &rig.transport
            .sessions()
            .login_of(&ALICE.parse().unwrap())
            .unwrap(),
        &GroupId::new("#lounge"),
        &PHONE.parse().unwrap()
    ));
}

#[tokio::test]
async fn a_leave_confirmed_with_no_join_waiting_forgets_the_room_and_says_nothing_more() {
    let mut rig = irc(Arc::new(Hub::default())).await;
    alice_in(&mut rig).await;
    // Left, back, and left again before the PART was answered: one PART, no JOIN.
    rig.receive(&presence(
        PHONE,
        &format!("{ROOM}/alice"),
        "unavailable",
        "",
    ))
    .await;
    rig.receive(&presence(PHONE, &format!("{ROOM}/alice"), "", MUC))
        .await;
    rig.receive(&presence(
        PHONE,
        &format!("{ROOM}/alice"),
        "unavailable",
        "",
    ))
    .await;
    assert_eq!(rig.calls(), ["leave #lounge"]);
    let bye = rig.sent_now();
    assert_eq!(bye.len(), 2, "one goodbye per leave: {bye:?}");
    rig.event(ALICE, parted()).await;
    assert!(rig.sent_now().is_empty());
    assert!(rig.calls().is_empty());
    // A join that completes after its last resource left is not shown to anyone.
    rig.event(ALICE, joined("alice")).await;
    assert!(rig.sent_now().is_empty());
    // Later joins go straight to the network again.
    rig.receive(&presence(PHONE, &format!("{ROOM}/alice"), "", MUC))
        .await;
    assert_eq!(rig.calls(), ["join #lounge as alice"]);
}

fn ping(from: &str, to: &str, id: &str) -> String {
    format!(
        "<iq xmlns='jabber:component:accept' type='get' id='{id}' from='{from}' to='{to}'>\
         <ping xmlns='urn:xmpp:ping'/></iq>"
    )
}

fn not_acceptable(to: &str, from: &str, id: &str) -> String {
    format!(
        "<iq xmlns='jabber:component:accept' from='{from}' id='{id}' to='{to}' type='error'>\
         <error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>you are not in this room</text></error></iq>"
    )
}

#[tokio::test]
async fn self_pings_answer_result_only_for_a_joined_resource() {
    let mut rig = irc(Arc::new(Hub::default())).await;
    let me = format!("{ROOM}/alice");
    // Not joined (not even a session yet): not-acceptable, and nobody is registered.
    rig.receive(&ping(PHONE, &me, "p1")).await;
    assert_eq!(rig.sent().await, not_acceptable(PHONE, &me, "p1"));
    assert!(rig.calls().is_empty());
    alice_in(&mut rig).await;
    rig.receive(&ping(PHONE, &me, "p2")).await;
    assert_eq!(
        rig.sent().await,
        format!(
            "<iq xmlns='jabber:component:accept' from='{me}' id='p2' to='{PHONE}' type='result'/>"
        )
    );
    // Another resource of hers, not in the room: not-acceptable.
    let laptop = "alice@example.org/laptop";
    rig.receive(&ping(laptop, &me, "p3")).await;
    assert_eq!(rig.sent().await, not_acceptable(laptop, &me, "p3"));
    // Another occupant is answered for (the network says bob is in); a nick nobody has is
    // item-not-found.
    rig.receive(&ping(PHONE, &format!("{ROOM}/bob"), "p4"))
        .await;
    assert!(rig
        .sent()
        .await
        .contains("id='p4' to='alice@example.org/phone' type='result'"));
    rig.receive(&ping(PHONE, &format!("{ROOM}/nobody"), "p5"))
        .await;
    let missing = rig.sent().await;
    assert!(
        missing.contains("id='p5' to='alice@example.org/phone' type='error'")
            && missing.contains("<item-not-found"),
        "{missing}"
    );
    // Gone: not-acceptable again.
    rig.receive(&presence(PHONE, &me, "unavailable", "")).await;
    rig.sent_now();
    rig.receive(&ping(PHONE, &me, "p6")).await;
    assert_eq!(rig.sent().await, not_acceptable(PHONE, &me, "p6"));
}

#[tokio::test]
async fn a_chat_of_the_gateway_may_be_read_only_by_those_in_it_and_a_room_only_by_its_inviters() {
    let hub = Arc::new(Hub::default());
    let mut irc = irc(hub.clone()).await;
    let mut mail = Rig::start("mail.example.org", hub, &[IRC, "mail.example.org"]).await;
    mail.connect().await;
    let watcher = mail.connector.watcher();
    let refused = |a: ReadAccess| matches!(a, ReadAccess::Refused { .. });
    assert!(refused(watcher.may_read(ALICE, ROOM)), "not joined yet");
    alice_in(&mut irc).await;
    assert_eq!(watcher.may_read(ALICE, ROOM), ReadAccess::Granted);
    assert_eq!(
        watcher.may_read(ALICE, "#Lounge@IRC.example.org"),
        ReadAccess::Granted
    );
    let ReadAccess::Refused { why } = watcher.may_read("bob@example.org", ROOM) else {
        panic!("bob is not in #lounge");
    };
    assert!(why.contains("join #lounge@irc.example.org"), "{why}");
    assert!(refused(watcher.may_read(ALICE, "#other@irc.example.org")));
    assert!(refused(watcher.may_read(ALICE, "not a jid")));
    // A MUC room elsewhere: only after the room relayed her invitation of the transport,
    // with the code she was given as its reason.
    let secret = "secret@conference.example.org";
    let ReadAccess::Refused { why } = watcher.may_read(ALICE, secret) else {
        panic!("no invitation yet");
    };
    assert!(why.contains("invite mail.example.org"), "{why}");
    let code = code_in(&why);
    let ReadAccess::Refused { why: again } = watcher.may_read(ALICE, secret) else {
        panic!("still no invitation");
    };
    assert_eq!(code_in(&again), code, "the same code until it is used");
    let relayed = |from: &str, reason: &str| {
        format!(
            "<message xmlns='jabber:component:accept' from='{from}' to='mail.example.org'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='{secret}/alice'>\
             <reason>{reason}</reason></invite></x></message>"
        )
    };
    // A client sending the room's relay itself (from its full JID), another room, and a
    // wrong code prove nothing.
    mail.receive(&relayed("bob@example.org/pc", &code)).await;
    mail.receive(&relayed("other@conference.example.org", &code))
        .await;
    mail.receive(&relayed(secret, "sb-0000000000")).await;
    assert!(refused(watcher.may_read(ALICE, secret)));
    mail.receive(&relayed(secret, &code)).await;
    assert_eq!(watcher.may_read(ALICE, secret), ReadAccess::Granted);
    let ReadAccess::Refused { why: bobs } = watcher.may_read("bob@example.org", secret) else {
        panic!("alice's invitation vouches for alice only");
    };
    assert_ne!(code_in(&bobs), code);
    let sent = mail.sent_now();
    assert!(
        sent.iter().all(|s| !s.contains("conference.example.org")),
        "rooms' invitations are never answered: {sent:?}"
    );
    // She left the channel: no longer.
    irc.receive(&presence(
        PHONE,
        &format!("{ROOM}/alice"),
        "unavailable",
        "",
    ))
    .await;
    assert!(refused(watcher.may_read(ALICE, ROOM)));
}

fn code_in(why: &str) -> String {
    why.split("with the reason ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no code in {why}"))
        .to_string()
}

fn bounced(from: &str, to: &str, condition: &str) -> String {
    format!(
        "<message xmlns='jabber:component:accept' type='error' from='{from}' to='{to}'>\
         <body>hi</body><error type='cancel'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    )
}

#[tokio::test]
async fn a_resource_whose_server_bounces_groupchat_as_gone_leaves_the_room() {
    let mut rig = irc(Arc::new(Hub::default())).await;
    alice_in(&mut rig).await;
    let laptop = "alice@example.org/laptop";
    rig.receive(&presence(laptop, &format!("{ROOM}/alice"), "", MUC))
        .await;
    assert_eq!(rig.sent_now(), full_join(laptop));
    let me = format!("{ROOM}/alice");
    // Failure mode: an error that does not say the resource is gone changes nothing.
    rig.receive(&bounced(laptop, &me, "not-acceptable")).await;
    assert!(rig.sent_now().is_empty());
    assert!(rig.calls().is_empty());
    // Her server restarted and the laptop never came back: its bounce makes it leave; the
    // phone is still in, so the network membership stays.
    rig.receive(&bounced(laptop, &me, "service-unavailable"))
        .await;
    let bye = rig.sent_now();
    assert!(
        bye.len() == 1 && bye[0].contains(&format!("to='{laptop}' type='unavailable'")),
        "{bye:?}"
    );
    assert!(rig.calls().is_empty());
    let login = rig
        .transport
        .sessions()
        .login_of(&ALICE.parse().unwrap())
        .unwrap();
    let lounge = GroupId::new("#lounge");
    assert!(!rig
        .transport
        .in_room(&login, &lounge, &laptop.parse().unwrap()));
    assert!(rig
        .transport
        .in_room(&login, &lounge, &PHONE.parse().unwrap()));
    // The last resource gone leaves the network's group too.
    rig.receive(&bounced(PHONE, &me, "recipient-unavailable"))
        .await;
    assert_eq!(rig.calls(), ["leave #lounge"]);
}
