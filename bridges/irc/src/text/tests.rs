use super::*;

#[test]
fn sanitize_removes_line_breaks_and_nul() {
    assert_eq!(sanitize("a\r\nQUIT :x"), "a QUIT :x");
    assert_eq!(sanitize("a\nb\rc\0d"), "a b cd");
    assert_eq!(sanitize("\n\n"), "  ");
    assert_eq!(sanitize("\r\0\n"), "  ");
    assert_eq!(sanitize("héllo ✓"), "héllo ✓");
    assert_eq!(sanitize(""), "");
}

#[test]
fn lines_split_every_break_and_drop_empty() {
    assert_eq!(lines("a\r\nb\nc\rd"), ["a", "b", "c", "d"]);
    assert_eq!(lines("\n\na\r\n\r\nb\n"), ["a", "b"]);
    assert_eq!(lines("x\0y\n\0\n "), ["xy", " "]);
    assert!(lines("").is_empty());
    assert!(lines("\r\n\0").is_empty());
}

fn check_split(text: &str, max: usize) {
    let pieces = split_line(text, max);
    assert_eq!(pieces.concat(), text, "max {max}");
    for piece in &pieces {
        assert!(!piece.is_empty());
        assert!(
            piece.len() <= max || piece.chars().count() == 1,
            "{piece:?} > {max}"
        );
    }
}

#[test]
fn split_prefers_spaces_in_the_second_half() {
    assert_eq!(split_line("hello world", 6), ["hello ", "world"]);
    assert_eq!(split_line("hello world", 8), ["hello ", "world"]);
    assert_eq!(split_line("a bcdefghij", 6), ["a bcde", "fghij"]);
    assert_eq!(split_line("hello world", 5), ["hello", " worl", "d"]);
    assert_eq!(split_line("short", 400), ["short"]);
    assert!(split_line("", 10).is_empty());
}

#[test]
fn split_respects_utf8_boundaries() {
    assert_eq!(split_line("日本語", 4), ["日", "本", "語"]);
    assert_eq!(split_line("é🎉", 1), ["é", "🎉"]);
    assert_eq!(split_line("ab", 0), ["a", "b"]);
}

#[test]
fn split_loses_no_byte() {
    let mixed = "héllo wörld ✓ 日本語 🎉";
    for max in 0..=mixed.len() + 1 {
        check_split(mixed, max);
        check_split("the quick brown fox jumps over the lazy dog", max);
    }
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(23);
    let body = &long[..1000];
    for max in [1, 7, 50, 399, 400, 450, 999, 1000, 1001] {
        check_split(body, max);
    }
    let pieces = split_line(body, 400);
    assert_eq!(pieces.len(), 3);
    assert!(pieces[..2].iter().all(|p| p.len() > 200));
    assert!(pieces[..2].iter().all(|p| p.ends_with(' ')));
    let multi = "héllo wörld ✓ 日本語 🎉 ".repeat(40);
    for max in 1..=60 {
        check_split(&multi, max);
    }
}

#[test]
fn budget_matches_the_relayed_line() {
    let prefix = "nick!user@host.example";
    let budget = privmsg_budget(prefix.len(), "PRIVMSG", "#chan");
    let wire = format!(":{prefix} PRIVMSG #chan :{}\r\n", "x".repeat(budget));
    assert_eq!(wire.len(), MAX_LINE);
    assert_eq!(estimated_prefix_len("nick"), 79);
    assert_eq!(privmsg_budget(79, "PRIVMSG", "#c"), 512 - 81 - 12 - 2);
    assert_eq!(privmsg_budget(600, "PRIVMSG", "#c"), 1);
    assert_eq!(privmsg_budget(usize::MAX, "NOTICE", "#c"), 1);
}

#[test]
fn strip_formatting_cases() {
    assert_eq!(strip_formatting("\x0304red\x03 plain"), "red plain");
    assert_eq!(strip_formatting("\x034,12x"), "x");
    assert_eq!(strip_formatting("\x03,5"), ",5");
    assert_eq!(strip_formatting("\x0312,text"), ",text");
    assert_eq!(strip_formatting("\x02bold\x02"), "bold");
    assert_eq!(strip_formatting("\x04FF0000red"), "red");
    assert_eq!(strip_formatting("\x04ff0000,00ff00x\x04"), "x");
    assert_eq!(strip_formatting("\x04cafe"), "cafe");
    assert_eq!(strip_formatting("\x03123"), "3");
    assert_eq!(strip_formatting("\x1Di\x1Fu\x1Es\x11m\x16r\x0Fn"), "iusmrn");
    assert_eq!(strip_formatting("\x03é\x03"), "é");
    assert_eq!(strip_formatting("plain ✓"), "plain ✓");
}

#[test]
fn ctcp_round_trip() {
    assert_eq!(action("waves"), "\x01ACTION waves\x01");
    assert_eq!(action("waves").len(), "waves".len() + ACTION_OVERHEAD);
    assert_eq!(ctcp("VERSION", ""), "\x01VERSION\x01");
    assert_eq!(ctcp("PING", "123"), "\x01PING 123\x01");
    let other = |command, args| Some(Ctcp::Other { command, args });
    assert_eq!(
        parse_ctcp("\x01ACTION waves\x01"),
        Some(Ctcp::Action("waves"))
    );
    assert_eq!(parse_ctcp("\x01action waves"), Some(Ctcp::Action("waves")));
    assert_eq!(parse_ctcp("\x01ACTION\x01"), Some(Ctcp::Action("")));
    assert_eq!(parse_ctcp("\x01PING 123 4\x01"), other("PING", "123 4"));
    assert_eq!(parse_ctcp("\x01VERSION\x01"), other("VERSION", ""));
    assert_eq!(parse_ctcp("hello"), None);
    assert_eq!(parse_ctcp("\x01"), None);
    assert_eq!(parse_ctcp("\x01\x01"), None);
    assert_eq!(parse_ctcp(""), None);
}

#[test]
fn decode_falls_back_for_the_whole_line() {
    let latin1 = [0x63, 0x61, 0x66, 0xE9];
    assert_eq!(decode("café".as_bytes(), Fallback::Latin1), "café");
    assert_eq!(decode("café".as_bytes(), Fallback::Utf8Lossy), "café");
    assert_eq!(decode(&latin1, Fallback::Latin1), "café");
    assert_eq!(decode(&latin1, Fallback::Utf8Lossy), "caf\u{FFFD}");
    // One invalid byte makes the valid UTF-8 "é" decode as latin-1 too.
    assert_eq!(decode(b"\xC3\xA9 \xE9", Fallback::Latin1), "Ã© é");
    assert_eq!(decode(b"", Fallback::Latin1), "");
}

#[test]
fn fallback_names() {
    for name in ["latin-1", "latin1", "ISO-8859-1", "iso8859-1"] {
        assert_eq!(name.parse(), Ok(Fallback::Latin1));
    }
    for name in ["utf-8-lossy", "UTF8-lossy", "utf-8", "utf8"] {
        assert_eq!(name.parse(), Ok(Fallback::Utf8Lossy));
    }
    let unknown = "klingon".parse::<Fallback>();
    assert_eq!(unknown, Err(UnknownFallback("klingon".into())));
    assert_eq!(Fallback::default(), Fallback::Latin1);
    assert_eq!(Fallback::Utf8Lossy.to_string(), "utf-8-lossy");
    // Legacy code pages by any of their WHATWG labels, named canonically.
    let cp1251: Fallback = " CP1251".parse().unwrap();
    assert_eq!(cp1251.name(), "windows-1251");
    assert_eq!("koi8-r".parse::<Fallback>().unwrap().name(), "KOI8-R");
    assert_eq!("windows-1251".parse::<Fallback>(), Ok(cp1251));
    // UTF-16 is no IRC encoding, and the replacement encoding decodes nothing.
    for name in ["utf-16", "utf-16be", "iso-2022-kr", ""] {
        assert!(name.parse::<Fallback>().is_err(), "{name:?}");
    }
}

#[test]
fn decode_with_a_legacy_code_page() {
    let cp1251: Fallback = "windows-1251".parse().unwrap();
    // "привет" in windows-1251.
    let bytes = [0xEF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2];
    assert_eq!(decode(&bytes, cp1251), "привет");
    assert_eq!(decode(&bytes, Fallback::Latin1), "ïðèâåò");
    // Valid UTF-8 stays UTF-8 whatever the fallback.
    assert_eq!(decode("привет".as_bytes(), cp1251), "привет");
    // A byte the code page leaves unmapped becomes U+FFFD, never a panic.
    let sjis: Fallback = "shift_jis".parse().unwrap();
    assert_eq!(decode(&[0x82, 0xA0, 0xFF], sjis), "あ\u{FFFD}");
}

#[test]
fn the_channel_a_raw_line_is_about() {
    let ch = |line: &[u8]| line_channel(line).map(|c| String::from_utf8_lossy(c).into_owned());
    assert_eq!(
        ch(b":bob!b@h PRIVMSG #chan :\xE9t\xE9"),
        Some("#chan".into())
    );
    assert_eq!(
        ch(b"@time=x :bob!b@h notice #Chan :hi"),
        Some("#Chan".into())
    );
    assert_eq!(ch(b":bob!b@h TOPIC #chan :new"), Some("#chan".into()));
    assert_eq!(ch(b":bob!b@h PART #chan :bye"), Some("#chan".into()));
    assert_eq!(ch(b":op!o@h KICK #chan bob :out"), Some("#chan".into()));
    assert_eq!(
        ch(b":irc.local 332 alice #chan :topic"),
        Some("#chan".into())
    );
    assert_eq!(ch(b"PRIVMSG #chan :no source"), Some("#chan".into()));
    // Lines about no channel, and lines too short to say.
    assert_eq!(ch(b":bob!b@h QUIT :gone"), None);
    assert_eq!(ch(b":irc.local 001 alice :Welcome"), None);
    assert_eq!(ch(b":bob!b@h PRIVMSG"), None);
    assert_eq!(ch(b":bob!b@h PRIVMSG :#trailing"), None);
    assert_eq!(ch(b"@tags-only"), None);
    assert_eq!(ch(b""), None);
    assert_eq!(ch(b"   "), None);
}

#[test]
fn the_fallback_is_chosen_only_for_a_line_that_is_not_utf8() {
    let chosen = std::cell::Cell::new(0);
    let pick = || {
        chosen.set(chosen.get() + 1);
        Fallback::Latin1
    };
    assert_eq!(decode_with("café".as_bytes(), pick), "café");
    assert_eq!(chosen.get(), 0);
    assert_eq!(decode_with(b"caf\xe9", pick), "café");
    assert_eq!(chosen.get(), 1);
}
