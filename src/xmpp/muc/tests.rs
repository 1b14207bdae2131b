use super::*;
use crate::xmpp::testing::element_xml;

fn room() -> BareJid {
    BareJid::new("#chan%net@irc.test").unwrap()
}

#[test]
fn ranks_map_to_affiliations_and_roles() {
    assert_eq!(
        affiliation_role(Rank::Owner),
        (Affiliation::Owner, Role::Moderator)
    );
    assert_eq!(
        affiliation_role(Rank::Operator),
        (Affiliation::Admin, Role::Moderator)
    );
    assert_eq!(
        affiliation_role(Rank::Moderator),
        (Affiliation::Member, Role::Moderator)
    );
    assert_eq!(
        affiliation_role(Rank::Voiced),
        (Affiliation::Member, Role::Participant)
    );
    assert_eq!(
        affiliation_role(Rank::Regular),
        (Affiliation::None, Role::Participant)
    );
}

#[test]
fn self_presence_carries_110() {
    let to = Jid::new("alice@example.org/phone").unwrap();
    let p = occupant_presence(
        occupant(&room(), "alice").unwrap(),
        &to,
        &OccupantPresence {
            rank: Rank::Operator,
            statuses: vec![Status::SelfPresence, Status::AssignedNick],
            ..Default::default()
        },
    );
    assert_eq!(
            element_xml(p),
            "<presence xmlns='jabber:component:accept' from='#chan%net@irc.test/alice' to='alice@example.org/phone'>\
             <priority>0</priority><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/><status code='210'/>\
             <item affiliation='admin' role='moderator'/></x></presence>"
        );
}

#[test]
fn kicks_and_nick_changes() {
    let to = Jid::new("alice@example.org/phone").unwrap();
    let kicked = element_xml(occupant_presence(
        occupant(&room(), "bob").unwrap(),
        &to,
        &OccupantPresence {
            unavailable: true,
            statuses: vec![Status::Kicked],
            actor: Some("op"),
            reason: Some("spam"),
            ..Default::default()
        },
    ));
    assert!(
        kicked.contains("type='unavailable'") && kicked.contains("<status code='307'/>"),
        "{kicked}"
    );
    assert!(
        kicked.contains("<actor nick='op'/>") && kicked.contains("<reason>spam</reason>"),
        "{kicked}"
    );
    assert!(
        kicked.contains("affiliation='none' role='none'"),
        "{kicked}"
    );
    let renamed = element_xml(occupant_presence(
        occupant(&room(), "bob").unwrap(),
        &to,
        &OccupantPresence {
            unavailable: true,
            statuses: vec![Status::NewNick],
            new_nick: Some("bobby"),
            ..Default::default()
        },
    ));
    assert!(
        renamed.contains("<status code='303'/>") && renamed.contains("nick='bobby'"),
        "{renamed}"
    );
}

#[test]
fn occupant_pings_are_answered_by_what_the_room_holds() {
    let ping = crate::xmpp::testing::stanza(
        "<iq xmlns='jabber:component:accept' type='get' id='sp' from='alice@example.org/phone' \
             to='#chan%net@irc.test/alice'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    assert_eq!(occupant_ping_error(OccupantPing::SelfJoined), None);
    assert_eq!(occupant_ping_error(OccupantPing::OtherOccupant), None);
    let reply = |found| {
        let e = occupant_ping_error(found).unwrap();
        element_xml(crate::xmpp::errors::reply(&ping, e).unwrap())
    };
    assert_eq!(
            reply(OccupantPing::NotJoined),
            "<iq xmlns='jabber:component:accept' from='#chan%net@irc.test/alice' id='sp' \
             to='alice@example.org/phone' type='error'><error type='modify'>\
             <not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>you are not in this room</text>\
             </error></iq>"
        );
    let missing = reply(OccupantPing::NoSuchOccupant);
    assert!(
        missing.contains("<error type='cancel'><item-not-found"),
        "{missing}"
    );
    // Never the conditions clients read as a network problem.
    for found in [OccupantPing::NotJoined, OccupantPing::NoSuchOccupant] {
        let xml = reply(found);
        assert!(
            !xml.contains("remote-server-not-found") && !xml.contains("service-unavailable"),
            "{xml}"
        );
    }
}

#[test]
fn subject_and_join_requests() {
    let to = Jid::new("alice@example.org/phone").unwrap();
    let s = element_xml(subject(&room(), None, &to, ""));
    assert!(
        s.contains("from='#chan%net@irc.test'")
            && s.contains("type='groupchat'")
            && s.contains("<subject></subject>"),
        "{s}"
    );
    let join: Presence = match crate::xmpp::testing::stanza(
        "<presence xmlns='jabber:component:accept' from='a@b/c' to='#c%n@irc.test/a'>\
             <x xmlns='http://jabber.org/protocol/muc'><password>k</password></x></presence>",
    ) {
        xmpp_parsers::stanza::Stanza::Presence(p) => p,
        _ => unreachable!(),
    };
    assert_eq!(join_request(&join), Some(Some("k".into())));
}

#[test]
fn foreign_nicks_reasons_and_topics_are_made_fit_for_xml() {
    let to = Jid::new("alice@example.org/phone").unwrap();
    let from = occupant(&room(), "ba\u{7}d\tnick").expect("a nick with controls makes a JID");
    assert_eq!(
        from.to_string(),
        "#chan%net@irc.test/ba\u{2407}d\u{2409}nick"
    );
    let left = element_xml(occupant_presence(
        from.clone(),
        &to,
        &OccupantPresence {
            unavailable: true,
            statuses: vec![Status::Kicked],
            actor: Some("o\u{7}p"),
            reason: Some("bye\u{7}!"),
            ..Default::default()
        },
    ));
    assert!(
        left.contains("<actor nick='o\u{2407}p'/>")
            && left.contains("<reason>bye!</reason>")
            && left.contains("<status>bye!</status>"),
        "{left}"
    );
    let renamed = element_xml(occupant_presence(
        from.clone(),
        &to,
        &OccupantPresence {
            unavailable: true,
            statuses: vec![Status::NewNick],
            new_nick: Some("n\u{1}"),
            ..Default::default()
        },
    ));
    assert!(renamed.contains("nick='n\u{2401}'"), "{renamed}");
    let away = element_xml(occupant_presence(
        from.clone(),
        &to,
        &OccupantPresence {
            away: Some("gone\u{ffff}"),
            ..Default::default()
        },
    ));
    assert!(away.contains("<status>gone\u{fffd}</status>"), "{away}");
    let s = element_xml(subject(&room(), Some("ba\u{7}d"), &to, "topic\u{7} here"));
    assert!(
        s.contains("<subject>topic here</subject>")
            && s.contains("from='#chan%net@irc.test/ba\u{2407}d'"),
        "{s}"
    );
    let m = element_xml(groupchat(from, &to, "ring\u{7}bell".into(), None));
    assert!(m.contains("<body>ringbell</body>"), "{m}");
}

#[test]
fn a_highlight_is_a_chat_from_the_room_with_foreign_text_cleaned() {
    let room = BareJid::new("#a%net@irc.test").unwrap();
    let to = BareJid::new("alice@example.org").unwrap();
    let m = highlight(&room, &to, "ev\u{1}il", "alice: \u{7}look\u{0} <here>");
    let xml = crate::xmpp::testing::element_xml(m.clone());
    assert!(
        xml.contains("from='#a%net@irc.test'") && xml.contains("to='alice@example.org'"),
        "{xml}"
    );
    assert!(xml.contains("type='chat'"), "{xml}");
    assert!(
        xml.contains("<body>&lt;ev\u{2401}il&gt; alice: look &lt;here&gt;</body>"),
        "{xml}"
    );
    assert!(crate::xmpp::text::unwritable(&m.into()).is_none());
}
