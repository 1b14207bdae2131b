use super::*;
use crate::xmpp::muc::{groupchat, occupant, stanza_id};

fn delay() -> Element {
    crate::xmpp::delay::delay(
        Some(std::time::SystemTime::UNIX_EPOCH),
        &BareJid::new("#a%net@irc.test").unwrap().into(),
        std::time::SystemTime::now(),
    )
    .unwrap()
    .into()
}

#[test]
fn a_copy_is_the_typed_message_s_xml() {
    let room = BareJid::new("#a%net@irc.test").unwrap();
    let from = occupant(&room, "bob").unwrap();
    let to = Jid::new("alice@example.org/phone").unwrap();
    let cases: [(&str, Option<&str>, bool, bool); 4] = [
        (
            "hi <there> & \u{7}bell 'q' \"dq\"",
            Some("own-1"),
            true,
            true,
        ),
        ("plain", None, true, false),
        ("no archive", Some("x"), false, false),
        ("", Some("empty"), false, true),
    ];
    for (body, id, archived, delayed) in cases {
        let clean = crate::xmpp::text::xml_string(body.to_string());
        let extra: Vec<Element> = delayed.then(delay).into_iter().collect();
        let line = RoomLine::new(
            from.clone(),
            clean,
            id.map(String::from),
            archived.then(|| (room.clone(), "18f3a".to_string())),
            extra.clone(),
        )
        .unwrap();
        let copy = line.to(to.clone());
        assert_eq!(copy.recipient(), &to);
        let fast = copy.element();
        // Without an id the line mints one, the same for every copy.
        let minted = fast.attr("id").unwrap().to_string();
        assert_eq!(
            line.to(to.clone()).element().attr("id"),
            Some(minted.as_str())
        );
        let mut typed = groupchat(from.clone(), &to, body.to_string(), Some(minted));
        if archived {
            typed.payloads.push(stanza_id(&room, "18f3a"));
        }
        typed.payloads.extend(extra);
        assert_eq!(String::from(&fast), String::from(&Element::from(typed)));
    }
}

#[test]
fn a_copy_writes_what_parses_as_its_element() {
    let room = BareJid::new("#a%net@irc.test").unwrap();
    let from = occupant(&room, "b&b").unwrap();
    let line = RoomLine::new(
        from,
        "1 < 2 & \"3\"".into(),
        Some("i'd".into()),
        Some((room.clone(), "1".into())),
        vec![delay()],
    )
    .unwrap();
    let copy = line.to(Jid::new("alice@example.org/a").unwrap());
    // The bytes the link writes for the copy parse back as the element it stands for
    // (the stanza-id closes itself, `<stanza-id …/>`, where an element writes a footer).
    let bytes = String::from_utf8(xso::to_vec(&copy).unwrap()).unwrap();
    assert!(bytes.contains("id='1'/><delay"), "{bytes}");
    let parsed: Element = bytes.parse().unwrap();
    assert_eq!(String::from(&parsed), String::from(&copy.element()));
}

#[test]
fn a_line_xml_cannot_carry_is_refused_before_any_copy() {
    let room = BareJid::new("#a%net@irc.test").unwrap();
    let from = occupant(&room, "bob").unwrap();
    // The body is cleaned upstream; one that was not is caught here, once per line.
    let line = |body: &str, id: Option<&str>, sid: Option<&str>, extra| {
        RoomLine::new(
            from.clone(),
            body.into(),
            id.map(String::from),
            sid.map(|s| (room.clone(), s.to_string())),
            extra,
        )
    };
    let err = line("bell\u{7}", None, None, vec![]).unwrap_err();
    assert!(err.0.contains("U+0007"), "{err:?}");
    assert!(line("ok", Some("\u{0}"), None, vec![]).is_err());
    assert!(line("ok", None, Some("\u{1b}"), vec![]).is_err());
    let mut bad = Element::bare("x", "urn:test");
    bad.append_text("\u{1}");
    assert!(line("ok", None, None, vec![bad]).is_err());
    assert!(line("ok", None, Some("1f"), vec![]).is_ok());
}
