use super::*;
use crate::xmpp::testing::element_xml;

fn room() -> BareJid {
    BareJid::new("lobby@conference.localhost").unwrap()
}

fn message(xml: &str) -> Message {
    let e: Element = xml.parse().unwrap();
    Message::try_from(e).unwrap()
}

fn presence(xml: &str) -> Presence {
    let e: Element = xml.parse().unwrap();
    Presence::try_from(e).unwrap()
}

#[test]
fn joins_with_or_without_history() {
    let me = occupant_of("mail.localhost").unwrap();
    assert_eq!(me.to_string(), "mail.localhost/digest");
    let xml = element_xml(join(&me, &room(), "digest", None).unwrap());
    assert_eq!(
        xml,
        "<presence xmlns='jabber:component:accept' from='mail.localhost/digest' \
             to='lobby@conference.localhost/digest'><priority>0</priority>\
             <x xmlns='http://jabber.org/protocol/muc'>\
             <history maxstanzas='0'/></x></presence>"
    );
    let since = UNIX_EPOCH + Duration::from_millis(1_795_428_000_123);
    let xml = element_xml(join(&me, &room(), "digest", Some(since)).unwrap());
    assert!(
        xml.contains("<history since='2026-11-23T10:00:00.123+00:00'/>")
            || xml.contains("<history since='2026-11-23T10:00:00.123Z'/>"),
        "{xml}"
    );
    let xml = element_xml(leave(&me, &room(), "digest").unwrap());
    assert_eq!(
            xml,
            "<presence xmlns='jabber:component:accept' from='mail.localhost/digest' \
             to='lobby@conference.localhost/digest' type='unavailable'><priority>0</priority></presence>"
        );
}

#[test]
fn reads_what_occupants_say_live_and_replayed_with_the_same_key() {
    let live = message(
        "<message xmlns='jabber:component:accept' type='groupchat' id='m1' \
             from='lobby@conference.localhost/ann' to='mail.localhost/digest'>\
             <body>hello all</body></message>",
    );
    let said_live = said(&live, &room(), "digest").unwrap();
    assert_eq!(said_live.nick, "ann");
    assert_eq!(said_live.body, "hello all");
    assert_eq!(said_live.at, None);
    assert!(said_live.dedupe.starts_with("h:"), "{}", said_live.dedupe);
    let replay = message(
            "<message xmlns='jabber:component:accept' type='groupchat' id='m1' \
             from='lobby@conference.localhost/ann' to='mail.localhost/digest'>\
             <body>hello all</body>\
             <delay xmlns='urn:xmpp:delay' from='lobby@conference.localhost' stamp='2026-11-23T10:00:00Z'/>\
             </message>",
        );
    let said_replay = said(&replay, &room(), "digest").unwrap();
    assert_eq!(said_replay.dedupe, said_live.dedupe);
    assert_eq!(
        said_replay.at,
        Some(UNIX_EPOCH + Duration::from_secs(1_795_428_000))
    );
    // Another id or body is another message.
    let other = message(
        "<message xmlns='jabber:component:accept' type='groupchat' id='m2' \
             from='lobby@conference.localhost/ann'><body>hello all</body></message>",
    );
    assert_ne!(
        said(&other, &room(), "digest").unwrap().dedupe,
        said_live.dedupe
    );
}

#[test]
fn the_rooms_stanza_id_is_the_key_when_present() {
    let m = message(
        "<message xmlns='jabber:component:accept' type='groupchat' id='m1' \
             from='lobby@conference.localhost/ann'><body>hi</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='someone-else' by='ann@localhost'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='abc-123' by='Lobby@conference.localhost'/>\
             </message>",
    );
    assert_eq!(said(&m, &room(), "digest").unwrap().dedupe, "sid:abc-123");
}

#[test]
fn skips_subjects_our_own_messages_the_room_and_other_types() {
    let cases = [
        // subject only
        "<message xmlns='jabber:component:accept' type='groupchat' \
             from='lobby@conference.localhost/ann'><subject>topic</subject></message>",
        // our own
        "<message xmlns='jabber:component:accept' type='groupchat' \
             from='lobby@conference.localhost/digest'><body>me</body></message>",
        // the room itself
        "<message xmlns='jabber:component:accept' type='groupchat' \
             from='lobby@conference.localhost'><body>room notice</body></message>",
        // a private message through the room
        "<message xmlns='jabber:component:accept' type='chat' \
             from='lobby@conference.localhost/ann'><body>psst</body></message>",
        // no text
        "<message xmlns='jabber:component:accept' type='groupchat' \
             from='lobby@conference.localhost/ann'><body>  </body></message>",
    ];
    for xml in cases {
        assert_eq!(said(&message(xml), &room(), "digest"), None, "{xml}");
    }
}

#[test]
fn reads_our_occupancy() {
    let joined = presence(
        "<presence xmlns='jabber:component:accept' from='lobby@conference.localhost/digest_' \
             to='mail.localhost/digest'><x xmlns='http://jabber.org/protocol/muc#user'>\
             <item affiliation='none' role='participant'/><status code='110'/><status code='210'/>\
             </x></presence>",
    );
    assert_eq!(occupancy(&joined), Occupancy::Joined("digest_".into()));
    let someone = presence(
        "<presence xmlns='jabber:component:accept' from='lobby@conference.localhost/ann' \
             to='mail.localhost/digest'><x xmlns='http://jabber.org/protocol/muc#user'>\
             <item affiliation='owner' role='moderator'/></x></presence>",
    );
    assert_eq!(occupancy(&someone), Occupancy::Other);
    let kicked = presence(
        "<presence xmlns='jabber:component:accept' type='unavailable' \
             from='lobby@conference.localhost/digest' to='mail.localhost/digest'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/>\
             <status code='110'/><status code='307'/></x></presence>",
    );
    assert_eq!(occupancy(&kicked), Occupancy::Left);
    let refused = presence(
        "<presence xmlns='jabber:component:accept' type='error' \
             from='lobby@conference.localhost/digest' to='mail.localhost/digest'>\
             <error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>password required</text></error>\
             </presence>",
    );
    assert_eq!(
        occupancy(&refused),
        Occupancy::Refused("not-authorized: password required".into())
    );
    let bare_error = presence(
        "<presence xmlns='jabber:component:accept' type='error' \
             from='lobby@conference.localhost/digest'><error type='cancel'>\
             <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
    );
    assert_eq!(
        occupancy(&bare_error),
        Occupancy::Refused("conflict".into())
    );
}

#[test]
fn invitations_relayed_by_a_room_carry_their_reason() {
    // What Prosody's MUC sends the invitee of a semi-anonymous room (XEP-0045 §7.8.2).
    let relayed = message(
            "<message xmlns='jabber:component:accept' from='secret@conference.localhost' to='mail.localhost'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='secret@conference.localhost/alice'>\
             <reason> sb-0123456789 </reason></invite></x><x xmlns='jabber:x:conference' jid='secret@conference.localhost'/>\
             <body>secret@conference.localhost/alice invited you to the room secret@conference.localhost</body></message>",
        );
    let (room, reason) = invitation(&relayed).unwrap();
    assert_eq!(room.as_str(), "secret@conference.localhost");
    assert_eq!(reason, "sb-0123456789");
    // A client claiming an invitation (from its full JID), a groupchat, a declined
    // one, and a server's own JID are not.
    for xml in [
            "<message xmlns='jabber:component:accept' from='bob@localhost/pc' to='mail.localhost'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'><reason>c</reason></invite></x></message>",
            "<message xmlns='jabber:component:accept' type='groupchat' from='secret@conference.localhost' to='mail.localhost'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'><reason>c</reason></invite></x></message>",
            "<message xmlns='jabber:component:accept' from='secret@conference.localhost' to='mail.localhost'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><decline from='bob@localhost'><reason>c</reason></decline></x></message>",
            "<message xmlns='jabber:component:accept' from='conference.localhost' to='mail.localhost'>\
             <x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'><reason>c</reason></invite></x></message>",
        ] {
            assert_eq!(invitation(&message(xml)), None, "{xml}");
        }
}

#[test]
fn room_jids_compare_without_case() {
    assert!(same_bare(
        &BareJid::new("Lobby@Conference.localhost").unwrap(),
        &room()
    ));
    assert!(!same_bare(
        &BareJid::new("lobby2@conference.localhost").unwrap(),
        &room()
    ));
}
