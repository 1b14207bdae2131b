//! The watcher as a bridge uses it, against an in-process transport: rooms followed as
//! `domain/digest`, what they say observed, missed messages and users coming online.

use super::testing::Rig;
use crate::watch::Hub;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use switchboard_bridge::{MissedMessage, Observation, RoomMessage};

const MAIL: &str = "mail.example.org";

async fn mail(hub: Arc<Hub>) -> Rig {
    Rig::start(MAIL, hub, &[MAIL, "irc.example.org"]).await
}

fn groupchat(from: &str, to: &str, id: &str, body: &str, extra: &str) -> String {
    format!(
        "<message xmlns='jabber:component:accept' type='groupchat' id='{id}' from='{from}' to='{to}'>\
         <body>{body}</body>{extra}</message>"
    )
}

#[tokio::test]
async fn rooms_are_joined_when_the_link_is_up_and_again_on_every_connection() {
    let mut rig = mail(Arc::new(Hub::default())).await;
    let watcher = rig.connector.watcher();
    watcher.follow_room("lobby@conference.example.org", "digest", None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rig.sent_now().is_empty(), "nothing while the link is down");
    rig.connect().await;
    let join = rig.sent().await;
    assert_eq!(
        join,
        "<presence xmlns='jabber:component:accept' from='mail.example.org/digest' \
         to='lobby@conference.example.org/digest'><priority>0</priority>\
         <x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    );
    // Followed while up: joined at once, with the history asked for.
    let since = UNIX_EPOCH + Duration::from_secs(1_795_428_000);
    watcher.follow_room("#chan%net@irc.example.org", "mailbot", Some(since));
    let join = rig.sent().await;
    assert!(
        join.contains("to='#chan%net@irc.example.org/mailbot'")
            && join.contains("<history since='2026-11-23T10:00:00"),
        "{join}"
    );
    // A reconnect joins both again.
    rig.disconnect();
    rig.connect().await;
    let mut rejoined = [rig.sent().await, rig.sent().await];
    rejoined.sort();
    assert!(rejoined[0].contains("to='#chan%net@irc.example.org/mailbot'"));
    assert!(rejoined[1].contains("to='lobby@conference.example.org/digest'"));
    // Unfollowing leaves.
    watcher.unfollow_room("Lobby@conference.example.org");
    let leave = rig.sent().await;
    assert!(
        leave.contains("to='lobby@conference.example.org/digest' type='unavailable'"),
        "{leave}"
    );
}

#[tokio::test]
async fn what_occupants_say_is_observed_and_never_answered() {
    let mut rig = mail(Arc::new(Hub::default())).await;
    rig.connect().await;
    rig.connector
        .watcher()
        .follow_room("Lobby@conference.example.org", "digest", None);
    rig.sent().await; // the join
                      // The room is on a service outside xmpp.allow: still taken, not refused.
    rig.receive(
        "<presence xmlns='jabber:component:accept' from='lobby@conference.example.org/digest' \
         to='mail.example.org/digest'><x xmlns='http://jabber.org/protocol/muc#user'>\
         <item affiliation='none' role='participant'/><status code='110'/></x></presence>",
    )
    .await;
    rig.receive(&groupchat(
        "lobby@conference.example.org/digest",
        "mail.example.org/digest",
        "own",
        "our own echo",
        "",
    ))
    .await;
    rig.receive(
        "<message xmlns='jabber:component:accept' type='groupchat' \
         from='lobby@conference.example.org/ann' to='mail.example.org/digest'>\
         <subject>a topic</subject></message>",
    )
    .await;
    rig.receive(&groupchat(
        "lobby@conference.example.org/ann",
        "mail.example.org/digest",
        "m1",
        "from the history",
        "<delay xmlns='urn:xmpp:delay' from='lobby@conference.example.org' stamp='2026-11-23T10:00:00Z'/>",
    ))
    .await;
    let Observation::Room(seen) = rig.connector.next_seen().await else {
        panic!("a room message")
    };
    assert_eq!(
        seen.room, "Lobby@conference.example.org",
        "as the bridge named it"
    );
    assert_eq!(
        (seen.sender.as_str(), seen.body.as_str()),
        ("ann", "from the history")
    );
    assert_eq!(seen.at, UNIX_EPOCH + Duration::from_secs(1_795_428_000));
    // The same message live (to the bare domain) has the same key.
    rig.receive(&groupchat(
        "lobby@conference.example.org/ann",
        "mail.example.org",
        "m1",
        "from the history",
        "",
    ))
    .await;
    let Observation::Room(live) = rig.connector.next_seen().await else {
        panic!("a room message")
    };
    assert_eq!(live.dedupe, seen.dedupe);
    // A room not followed writing to the occupant is dropped; errors are not bounced.
    rig.receive(&groupchat(
        "other@conference.example.org/x",
        "mail.example.org/digest",
        "o1",
        "not followed",
        "",
    ))
    .await;
    let answered = rig.sent_now();
    assert!(
        answered.is_empty(),
        "nothing answered to rooms: {answered:?}"
    );
    // A refusal is reported.
    rig.receive(
        "<presence xmlns='jabber:component:accept' type='error' \
         from='lobby@conference.example.org/digest' to='mail.example.org/digest'>\
         <error type='auth'><registration-required xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>members only</text></error></presence>",
    )
    .await;
    assert_eq!(
        rig.connector.next_seen().await,
        Observation::RoomFailed {
            room: "Lobby@conference.example.org".into(),
            reason: "registration-required: members only".into()
        }
    );
    // A rejoin asks for what was said since the last message seen (less a margin).
    rig.disconnect();
    rig.connect().await;
    let rejoin = rig.sent().await;
    assert!(rejoin.contains("<history since='"), "{rejoin}");
    assert!(rig.sent_now().is_empty());
}

#[tokio::test]
async fn the_gateways_own_transports_may_use_it() {
    let mut rig = mail(Arc::new(Hub::default())).await;
    rig.receive(
        "<iq xmlns='jabber:component:accept' type='get' id='v1' from='irc.example.org/digest' \
         to='mail.example.org'><query xmlns='jabber:iq:version'/></iq>",
    )
    .await;
    let reply = rig.sent().await;
    assert!(reply.contains("type='result'"), "{reply}");
    rig.receive(
        "<iq xmlns='jabber:component:accept' type='get' id='v2' from='evil.irc.example.org' \
         to='mail.example.org'><query xmlns='jabber:iq:version'/></iq>",
    )
    .await;
    assert!(rig.sent().await.contains("<forbidden"));
    // Presence from another of our transports is not answered (two transports answering
    // each other's presence would never stop).
    for type_ in ["", " type='probe'", " type='subscribe'"] {
        rig.receive(&presence("irc.example.org", MAIL, type_)).await;
    }
    rig.receive(&presence("irc.example.org/digest", MAIL, ""))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered = rig.sent_now();
    assert!(answered.is_empty(), "{answered:?}");
    // A user's presence still is.
    rig.receive(&presence("bob@example.org/phone", MAIL, " type='probe'"))
        .await;
    assert!(rig.sent().await.contains("to='bob@example.org/phone'"));
}

fn chat(from: &str, to: &str, body: &str) -> String {
    format!(
        "<message xmlns='jabber:component:accept' type='chat' from='{from}' to='{to}'>\
         <body>{body}</body></message>"
    )
}

fn presence(from: &str, to: &str, type_: &str) -> String {
    format!("<presence xmlns='jabber:component:accept' from='{from}' to='{to}'{type_}/>")
}

#[tokio::test]
async fn messages_to_offline_watched_users_are_reported_by_any_transport() {
    let hub = Arc::new(Hub::default());
    let mut mail = mail(hub.clone()).await;
    let sms = Rig::start("sms.example.org", hub.clone(), &[]).await;
    mail.connect().await;
    sms.connect().await;
    mail.connector.watcher().watch_missed("Alice@example.org");
    assert_eq!(
        mail.sent().await,
        "<presence xmlns='jabber:component:accept' from='mail.example.org' \
         to='alice@example.org' type='probe'><priority>0</priority></presence>"
    );
    // Never seen: offline. A message from another transport is missed.
    sms.forward(&chat(
        "+15550001@sms.example.org",
        "alice@example.org",
        "call me",
    ))
    .await;
    let missed = mail.connector.next_seen().await;
    let Observation::Missed(m) = missed else {
        panic!("{missed:?}")
    };
    assert_eq!(
        m,
        MissedMessage {
            owner: "Alice@example.org".into(),
            from: "+15550001@sms.example.org".into(),
            sender: "+15550001".into(),
            body: "call me".into(),
            at: m.at,
        }
    );
    // A presence to a room does not count; one to a contact of any transport does.
    sms.receive(&presence(
        "alice@example.org/phone",
        "#room@sms.example.org/alice",
        "",
    ))
    .await;
    sms.receive(&presence(
        "alice@example.org/phone",
        "bob@sms.example.org",
        "",
    ))
    .await;
    assert_eq!(
        mail.connector.next_seen().await,
        Observation::Online {
            owner: "Alice@example.org".into()
        }
    );
    sms.forward(&chat(
        "+15550001@sms.example.org",
        "alice@example.org/phone",
        "seen live",
    ))
    .await;
    // Groupchat and other users' messages are not reports either.
    sms.forward(&chat(
        "+15550001@sms.example.org",
        "bob@example.org",
        "not watched",
    ))
    .await;
    // Gone again (the server answers a probe from the bare JID): missed again.
    mail.receive(&presence(
        "alice@example.org",
        "mail.example.org",
        " type='unavailable'",
    ))
    .await;
    mail.forward(&chat(
        "bob%example.net@mail.example.org",
        "alice@example.org",
        "mail!",
    ))
    .await;
    let Observation::Missed(m) = mail.connector.next_seen().await else {
        panic!("missed")
    };
    assert_eq!(
        (m.sender.as_str(), m.body.as_str()),
        ("bob%example.net", "mail!")
    );
    // Unwatched: nothing more.
    mail.connector.watcher().unwatch_missed("alice@example.org");
    sms.forward(&chat(
        "+15550001@sms.example.org",
        "alice@example.org",
        "after",
    ))
    .await;
    mail.connector
        .watcher()
        .follow_room("lobby@conference.example.org", "digest", None);
    mail.receive(&groupchat(
        "lobby@conference.example.org/ann",
        "mail.example.org/digest",
        "s1",
        "sentinel",
        "",
    ))
    .await;
    let next = mail.connector.next_seen().await;
    assert!(
        matches!(&next, Observation::Room(RoomMessage { body, .. }) if body == "sentinel"),
        "{next:?}"
    );
}

#[tokio::test]
async fn watched_users_are_probed_again_on_every_connection() {
    let mut rig = mail(Arc::new(Hub::default())).await;
    rig.connector.watcher().watch_missed("alice@example.org");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rig.sent_now().is_empty(), "nothing while the link is down");
    rig.connect().await;
    assert!(rig.sent().await.contains("type='probe'"));
    rig.disconnect();
    rig.connect().await;
    assert!(rig
        .sent()
        .await
        .contains("to='alice@example.org' type='probe'"));
}
