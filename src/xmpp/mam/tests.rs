use super::*;
use crate::xmpp::testing::element_xml;

fn room() -> BareJid {
    BareJid::new("#a%net@irc.test").unwrap()
}

fn query(form: &str, set: &str) -> Element {
    format!(
        "<query xmlns='urn:xmpp:mam:2' queryid='q1'>\
         <x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>{form}</x>\
         <set xmlns='http://jabber.org/protocol/rsm'>{set}</set></query>"
    )
    .parse()
    .unwrap()
}

fn parse(form: &str, set: &str) -> Result<MamQuery, String> {
    parse_query(&query(form, set), &room())
}

#[test]
fn a_full_query_is_read_with_its_filters_and_page() {
    let q = parse(
        "<field var='start'><value>2026-01-01T00:00:00Z</value></field>\
         <field var='end'><value>2026-01-02T00:00:00.5+01:00</value></field>\
         <field var='with'><value>#a%net@irc.test/Bob</value></field>",
        "<max>10</max><after>abc</after>",
    )
    .unwrap();
    assert_eq!(q.query_id.as_deref(), Some("q1"));
    assert_eq!(
        q.start,
        Some(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
    );
    assert_eq!(
        q.end,
        Some(UNIX_EPOCH + Duration::from_millis((1_767_225_600 + 86_400 - 3600) * 1000 + 500))
    );
    assert_eq!(q.with.as_deref(), Some("Bob"));
    assert_eq!((q.max, q.page), (10, Page::After("abc".into())));
}

#[test]
fn pages_default_to_the_start_and_an_empty_before_is_the_end() {
    let bare: Element = "<query xmlns='urn:xmpp:mam:2'/>".parse().unwrap();
    let q = parse_query(&bare, &room()).unwrap();
    assert_eq!(
        (q.max, q.page, q.query_id),
        (DEFAULT_PAGE, Page::First, None)
    );
    assert_eq!(parse("", "<before/>").unwrap().page, Page::Last);
    assert_eq!(
        parse("", "<before>x1</before>").unwrap().page,
        Page::Before("x1".into())
    );
    assert_eq!(
        parse("<field var='before-id'><value>y2</value></field>", "")
            .unwrap()
            .page,
        Page::Before("y2".into())
    );
    assert_eq!(
        parse("<field var='after-id'><value>y3</value></field>", "")
            .unwrap()
            .page,
        Page::After("y3".into())
    );
    assert_eq!(parse("", "<max>1000</max>").unwrap().max, MAX_PAGE);
    // The room itself as `with`: no filter.
    assert_eq!(
        parse(
            "<field var='with'><value>#a%net@irc.test</value></field>",
            ""
        )
        .unwrap()
        .with,
        None
    );
}

#[test]
fn bad_forms_are_refused_with_a_reason() {
    let cases = [
        (
            "<field var='start'><value>yesterday</value></field>",
            "",
            "'start' must be a date",
        ),
        (
            "<field var='start'><value>2026-02-01T00:00:00Z</value></field><field var='end'><value>2026-01-01T00:00:00Z</value></field>",
            "",
            "'start' is after 'end'",
        ),
        (
            "<field var='with'><value>#b%net@irc.test/Bob</value></field>",
            "",
            "occupant of this room",
        ),
        ("<field var='with'><value>@@</value></field>", "", "must be a JID"),
        ("<field var='fulltext'><value>x</value></field>", "", "'fulltext' is not supported"),
        ("", "<max>-1</max>", "whole number"),
        ("", "<max>lots</max>", "whole number"),
        ("", "<before>a</before><after>b</after>", "not both"),
        ("", "<after/>", "needs an id"),
    ];
    for (form, set, expected) in cases {
        let e = parse(form, set).unwrap_err();
        assert!(e.contains(expected), "{form}{set}: {e}");
    }
    let other_type: Element = "<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x></query>"
        .parse()
        .unwrap();
    assert!(parse_query(&other_type, &room())
        .unwrap_err()
        .contains("must be of type"));
    let long = format!("<before>{}</before>", "a".repeat(300));
    assert!(parse("", &long).unwrap_err().contains("too long"));
}

#[test]
fn a_result_forwards_the_line_as_it_was_said() {
    let line = ArchivedLine {
        id: "18f3a".into(),
        nick: "carol".into(),
        body: "x < y \u{0}".into(),
        at: UNIX_EPOCH + Duration::from_millis(1_767_225_600_250),
    };
    let to = Jid::new("alice@example.org/phone").unwrap();
    let xml = element_xml(result_message(&room(), &to, Some("q1"), &line));
    assert!(xml.starts_with("<message xmlns='jabber:component:accept' from='#a%net@irc.test' to='alice@example.org/phone'>"), "{xml}");
    assert!(
        xml.contains("<result xmlns='urn:xmpp:mam:2' id='18f3a' queryid='q1'>"),
        "{xml}"
    );
    assert!(
        xml.contains("<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00.250Z'/>"),
        "{xml}"
    );
    assert!(xml.contains("from='#a%net@irc.test/carol'"), "{xml}");
    assert!(xml.contains("type='groupchat'"), "{xml}");
    assert!(xml.contains("<body>x &lt; y </body>"), "{xml}");
    assert!(
        xml.contains("<stanza-id xmlns='urn:xmpp:sid:0' by='#a%net@irc.test' id='18f3a'/>"),
        "{xml}"
    );
    let without = element_xml(result_message(&room(), &to, None, &line));
    assert!(!without.contains("queryid"), "{without}");
    // A nick with a control character still makes an occupant JID (its control picture).
    let bell = ArchivedLine {
        nick: "ca\u{7}rol".into(),
        ..line
    };
    let xml = element_xml(result_message(&room(), &to, Some("q\u{1}2"), &bell));
    assert!(
        xml.contains("from='#a%net@irc.test/ca\u{2407}rol'"),
        "{xml}"
    );
    assert!(xml.contains("queryid='q2'"), "{xml}");
    assert!(crate::xmpp::text::unwritable(&Element::from(result_message(
        &room(),
        &to,
        None,
        &bell
    )))
    .is_none());
}

#[test]
fn fin_says_whether_the_page_is_the_last_and_names_its_ends() {
    assert_eq!(
        element_xml(fin(false, Some("a"), Some("b"))),
        "<fin xmlns='urn:xmpp:mam:2' complete='false'><set xmlns='http://jabber.org/protocol/rsm'><first>a</first><last>b</last></set></fin>"
    );
    assert_eq!(
        element_xml(fin(true, None, None)),
        "<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'/></fin>"
    );
}

#[test]
fn the_query_form_lists_the_filters() {
    let xml = element_xml(query_form());
    for var in ["FORM_TYPE", "start", "end", "with", "before-id", "after-id"] {
        assert!(xml.contains(&format!("var='{var}'")), "{var}: {xml}");
    }
}
