//! The one boundary between foreign text and XML: what XML 1.0 cannot carry is removed
//! or replaced before it goes into a stanza, and a last check of a whole stanza before it
//! is written to the link.
//!
//! XML 1.0 (the `Char` production) forbids the C0 controls other than TAB, LF and CR, and
//! U+FFFE and U+FFFF; lone surrogates cannot occur in a Rust string. rxml refuses to write
//! them, so one such character from an IRC line, a mail or an SMS would make a stanza
//! unwritable. The choices, for text shown to a user ([`xml_text`]):
//!
//! * FF (U+000C, a page break: a mail's `^L`, GSM-7's ESC 0x0A) and VT (U+000B) become a
//!   line feed, so the words on either side stay apart;
//! * the other forbidden controls (BEL, ESC, NUL, …) are removed: they carry no text, and
//!   IRC and mail clients drop them too;
//! * U+FFFE and U+FFFF (non-characters, usually text decoded with the wrong byte order)
//!   become U+FFFD, the replacement character, so the user sees something was there.
//!
//! Names that become part of a JID ([`jid_part`]) follow stricter rules (RFC 3920
//! resourceprep refuses every control, TAB and LF included, and U+FFFD too): each control
//! becomes its visible Unicode "control picture" (BEL → `␇`), which no IRC nick can hold,
//! so the name still shows, cannot pass for someone else's, and a reply to it fails
//! instead of reaching another person.
//!
//! Clean text is returned borrowed: the common case costs one scan and no allocation.

use minidom::{Element, Node};
use std::borrow::Cow;

/// Whether XML 1.0 can carry `c`.
fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The first character in `s` that XML 1.0 forbids. A byte scan (what rxml checks when it
/// writes): C0 bytes, and the UTF-8 of U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`). Blocks of 32
/// bytes are first tested without branches (the compiler vectorises that); only a block
/// holding a byte below 0x20 or a 0xBE/0xBF is looked at byte by byte.
pub fn first_forbidden(s: &str) -> Option<char> {
    const BLOCK: usize = 32;
    let b = s.as_bytes();
    let suspect = |c: u8| (c < 0x20) | (c.wrapping_sub(0xbe) < 2);
    for (n, block) in b.chunks(BLOCK).enumerate() {
        if !block.iter().fold(false, |any, &c| any | suspect(c)) {
            continue;
        }
        let base = n * BLOCK;
        for (j, &c) in block.iter().enumerate() {
            let i = base + j;
            match c {
                0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f => return Some(c as char),
                0xbe | 0xbf if i >= 2 && b[i - 2] == 0xef && b[i - 1] == 0xbf => {
                    return s[i - 2..].chars().next();
                }
                _ => {}
            }
        }
    }
    None
}

/// `s` with what XML 1.0 forbids removed or replaced (see the module documentation).
/// Borrowed when `s` is clean.
pub fn xml_text(s: &str) -> Cow<'_, str> {
    if first_forbidden(s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{b}' | '\u{c}' => out.push('\n'),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`xml_text`] of an owned string, reusing it when clean.
pub fn xml_string(s: String) -> String {
    match xml_text(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => clean,
    }
}

/// A foreign name made fit for a JID part (a MUC nick as resource): every control
/// character becomes its control picture (U+2400 + code, DEL → U+2421), U+FFFE/U+FFFF
/// become `?`. Borrowed when there is none.
pub fn jid_part(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || forbidden(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
                '\u{7f}' => '\u{2421}',
                c if c.is_control() || forbidden(c) => '?',
                c => c,
            })
            .collect(),
    )
}

/// Why an element cannot be written, if it cannot: the first character XML forbids in a
/// text node or attribute value, or an element name that is not an XML name. A recursive
/// walk (stanzas we build are a few levels deep) that allocates nothing unless it finds
/// something.
pub fn unwritable(el: &Element) -> Option<String> {
    if minidom::rxml::NcNameStr::from_str(el.name()).is_err() {
        return Some(format!("element name {:?}", el.name()));
    }
    for (_, value) in el.attrs().iter() {
        if let Some(c) = first_forbidden(value) {
            return Some(format!(
                "U+{:04X} in an attribute of <{}>",
                c as u32,
                el.name()
            ));
        }
    }
    for node in el.nodes() {
        let found = match node {
            Node::Text(t) => first_forbidden(t)
                .map(|c| format!("U+{:04X} in the text of <{}>", c as u32, el.name())),
            Node::Element(child) => unwritable(child),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        for s in [
            "",
            "hello",
            "tab\there, lines\r\n",
            "émoji 🎉 and \u{fffd} and \u{fffd}\u{10ffff}",
            "\u{d7ff}\u{e000}\u{fffd}",
        ] {
            assert!(matches!(xml_text(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(first_forbidden(s), None, "{s:?}");
        }
    }

    #[test]
    fn controls_are_removed_page_breaks_become_lines_non_characters_replaced() {
        assert_eq!(xml_text("ring\u{7}bell"), "ringbell");
        assert_eq!(xml_text("\u{0}\u{1}a\u{1b}[0mb\u{1f}"), "a[0mb");
        assert_eq!(xml_text("hi\u{c}there"), "hi\nthere");
        assert_eq!(xml_text("a\u{b}b"), "a\nb");
        assert_eq!(xml_text("x\u{fffe}y\u{ffff}"), "x\u{fffd}y\u{fffd}");
        assert_eq!(xml_text("keep\t\r\n"), "keep\t\r\n");
        assert_eq!(xml_string("a\u{7}".to_string()), "a");
        assert!(matches!(xml_text("a\u{7}"), Cow::Owned(_)));
    }

    #[test]
    fn finds_the_first_forbidden_character() {
        assert_eq!(first_forbidden("ab\u{7}c"), Some('\u{7}'));
        assert_eq!(first_forbidden("é\u{ffff}"), Some('\u{ffff}'));
        assert_eq!(first_forbidden("\u{fffe}"), Some('\u{fffe}'));
        // EF BF BD (U+FFFD) and a BE/BF continuation byte of another char are fine.
        assert_eq!(first_forbidden("\u{fffd}\u{ffbe}\u{3ff}"), None);
        // Across the 32-byte blocks the scan works in.
        for at in 28..36 {
            let mut s = "x".repeat(at);
            s.push('\u{ffff}');
            assert_eq!(first_forbidden(&s), Some('\u{ffff}'), "at {at}");
            let mut s = "x".repeat(at);
            s.push('\u{1}');
            assert_eq!(first_forbidden(&s), Some('\u{1}'), "at {at}");
        }
        assert_eq!(first_forbidden(&"ÿп\t\n".repeat(20)), None);
        // Every cleaned text passes the check.
        for c in (0u32..0x20).chain([0xfffe, 0xffff]) {
            let s = format!("a{}b", char::from_u32(c).unwrap());
            assert_eq!(first_forbidden(&xml_text(&s)), None, "U+{c:04X}");
        }
    }

    #[test]
    fn jid_parts_show_controls_as_pictures() {
        assert_eq!(jid_part("bob"), "bob");
        assert!(matches!(jid_part("bob"), Cow::Borrowed(_)));
        assert_eq!(jid_part("ba\u{7}d"), "ba\u{2407}d");
        assert_eq!(jid_part("a\tb\nc\u{7f}"), "a\u{2409}b\u{240a}c\u{2421}");
        assert_eq!(jid_part("x\u{85}\u{ffff}"), "x??");
    }

    #[test]
    fn finds_what_makes_an_element_unwritable() {
        let mut el = Element::builder("message", "jabber:component:accept")
            .attr(minidom::rxml::NcName::try_from("to").unwrap(), "a@b")
            .append(
                Element::builder("body", "jabber:component:accept")
                    .append("fine")
                    .build(),
            )
            .build();
        assert_eq!(unwritable(&el), None);
        el.append_child(
            Element::builder("subject", "jabber:component:accept")
                .append("bad\u{7}")
                .build(),
        );
        assert_eq!(
            unwritable(&el).as_deref(),
            Some("U+0007 in the text of <subject>")
        );
        let attr = Element::builder("x", "urn:x")
            .attr(minidom::rxml::NcName::try_from("nick").unwrap(), "\u{ffff}")
            .build();
        assert_eq!(
            unwritable(&attr).as_deref(),
            Some("U+FFFF in an attribute of <x>")
        );
    }

    #[test]
    fn a_nick_with_controls_still_makes_a_contact_jid() {
        let local = crate::xmpp::address::escape(&jid_part("ba\u{7}d%net"));
        let jid = xmpp_parsers::jid::Jid::new(&format!("{local}@irc.test")).expect("a JID");
        assert_eq!(jid.to_string(), "ba\u{2407}d%net@irc.test");
        assert!(xmpp_parsers::jid::Jid::new("ba\u{7}d%net@irc.test").is_err());
    }

    /// The cost of the check before writing against serialising into a buffer, for a
    /// typical chat message (run with `--ignored --nocapture`; bounded: 20 000 rounds).
    #[test]
    #[ignore]
    fn cost_of_the_check_before_writing() {
        let xml = format!(
            "<message xmlns='jabber:component:accept' from='#chan%libera@irc.example.org/somebody' \
             to='alice@example.org/phone' type='groupchat' id='sb-0123456789abcdef'>\
             <body>{}</body><delay xmlns='urn:xmpp:delay' from='irc.example.org' \
             stamp='2026-12-07T00:00:00Z'/></message>",
            "a line of ordinary chat text, about as long as people write them. ".repeat(3)
        );
        let el: Element = xml.parse().unwrap();
        const N: u32 = 20_000;
        let t = std::time::Instant::now();
        for _ in 0..N {
            assert!(unwritable(std::hint::black_box(&el)).is_none());
        }
        let walk = t.elapsed() / N;
        let t = std::time::Instant::now();
        for _ in 0..N {
            let s = String::from(std::hint::black_box(&el));
            assert!(!s.is_empty());
        }
        let buffer = t.elapsed() / N;
        println!(
            "{} bytes: check {} ns, serialise into a buffer {} ns per stanza",
            xml.len(),
            walk.as_nanos(),
            buffer.as_nanos()
        );
    }
}
