//! Message text between the gateway and IRC: keeping user text from injecting IRC
//! commands, fitting it into the 512-byte line limit, removing mIRC formatting, CTCP
//! framing, and decoding the bytes IRC servers send.
//!
//! Everything here is a pure function over foreign input and never panics.

use std::fmt;
use std::str::FromStr;

/// The longest IRC line in bytes, `\r\n` included (RFC 1459; message tags not counted).
pub const MAX_LINE: usize = 512;

/// Bytes that [`action`] adds around its text: `\x01ACTION ` and the closing `\x01`.
/// Subtract it from a [`privmsg_budget`] before splitting the text of a `/me`.
pub const ACTION_OVERHEAD: usize = "\x01ACTION \x01".len();

/// Makes `text` safe as a single-line IRC parameter (topic, kick reason, part message):
/// drops NUL and turns every line break (`\r\n`, `\n` or `\r`) into one space, so that
/// nothing a user typed can end the IRC line and start a command of its own.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\0' => {}
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Cuts a multi-line body into the lines to send, one IRC message each: splits on
/// `\r\n`, `\n` and `\r`, strips NUL, and drops lines that are then empty. Lines made of
/// spaces only are kept. No returned line contains CR, LF or NUL.
pub fn lines(body: &str) -> Vec<String> {
    body.split(['\r', '\n'])
        .map(|line| line.replace('\0', ""))
        .filter(|line| !line.is_empty())
        .collect()
}

/// Splits one line into pieces of at most `max_bytes` bytes, cutting only at UTF-8
/// character boundaries. A piece ends after the last space that fits when that space lies
/// in the second half of the piece (the space stays at the end of the earlier piece);
/// otherwise the piece is cut as long as possible.
///
/// No byte is lost: the pieces concatenated give back `text`. No piece is empty, so an
/// empty `text` gives no pieces. A piece is longer than `max_bytes` only when a single
/// character is (possible only for `max_bytes < 4`); that character is then a piece on
/// its own. `max_bytes == 0` is treated as 1.
pub fn split_line(text: &str, max_bytes: usize) -> Vec<String> {
    let max = max_bytes.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = if rest.len() <= max {
            rest.len()
        } else {
            break_point(rest, max)
        };
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece.to_owned());
        rest = tail;
    }
    pieces
}

/// Where to end the next piece of `text`, which is longer than `max` (≥ 1) bytes.
/// Always a character boundary greater than 0.
fn break_point(text: &str, max: usize) -> usize {
    let mut cut = max;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if cut == 0 {
        return text.chars().next().map_or(text.len(), char::len_utf8);
    }
    match text[..cut].rfind(' ') {
        Some(space) if space >= cut / 2 => space + 1,
        _ => cut,
    }
}

/// At most `max_bytes` of `text`, cut at a character boundary.
pub fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The byte budget for the text of one `command target :text` as other clients receive
/// it, relayed by the server as `:nick!user@host command target :text\r\n`:
/// [`MAX_LINE`] − len(`:` nick!user@host ` `) − len(command ` ` target ` :`) − 2.
///
/// `own_prefix_len` is the length of our `nick!user@host`; when the host is not known,
/// pass [`estimated_prefix_len`]. The result saturates and is at least 1, so it can be
/// given to [`split_line`] as it is (a budget of 1 means the target alone is too long).
pub fn privmsg_budget(own_prefix_len: usize, command: &str, target: &str) -> usize {
    let overhead = [1, own_prefix_len, 1, command.len(), 1, target.len(), 2, 2]
        .into_iter()
        .fold(0usize, usize::saturating_add);
    MAX_LINE.saturating_sub(overhead).max(1)
}

/// A conservative length of `nick!user@host` when the server has not told us our host:
/// the nick, 10 bytes of user name (USERLEN) and 63 of host name (HOSTLEN).
pub fn estimated_prefix_len(nick: &str) -> usize {
    nick.len().saturating_add(1 + 10 + 1 + 63)
}

/// Removes mIRC formatting codes: bold `\x02`, italic `\x1D`, underline `\x1F`,
/// strikethrough `\x1E`, monospace `\x11`, reverse `\x16`, reset `\x0F`; colour `\x03`
/// with an optional foreground of 1–2 digits and, only after a foreground, an optional
/// `,` background of 1–2 digits; hex colour `\x04` with an optional 6-hex-digit
/// foreground and, only after one, an optional `,` 6-hex-digit background.
///
/// A comma is consumed only when background digits follow it, so in `"\x0312,text"` and
/// in `"\x03,5"` the comma is kept as text. A third digit after `\x03` is text too.
pub fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\x02' | '\x1D' | '\x1F' | '\x1E' | '\x11' | '\x16' | '\x0F' => {}
            '\x03' => rest = skip_colour(rest, 1, 2, u8::is_ascii_digit),
            '\x04' => rest = skip_colour(rest, 6, 6, u8::is_ascii_hexdigit),
            c => out.push(c),
        }
    }
    out
}

/// Skips `fg[,bg]` after a colour code, each `min..=max` ASCII bytes accepted by `ok`.
fn skip_colour(text: &str, min: usize, max: usize, ok: fn(&u8) -> bool) -> &str {
    let run = |s: &str| {
        let n = s.bytes().take(max).take_while(ok).count();
        if n >= min {
            n
        } else {
            0
        }
    };
    let fg = run(text);
    if fg == 0 {
        return text;
    }
    let after_fg = &text[fg..];
    if let Some(after_comma) = after_fg.strip_prefix(',') {
        let bg = run(after_comma);
        if bg > 0 {
            return &after_comma[bg..];
        }
    }
    after_fg
}

/// Frames a CTCP message: `\x01COMMAND args\x01`, or `\x01COMMAND\x01` when `args` is
/// empty. Neither part is checked: pass a command name and a line from [`lines`].
pub fn ctcp(command: &str, args: &str) -> String {
    if args.is_empty() {
        format!("\x01{command}\x01")
    } else {
        format!("\x01{command} {args}\x01")
    }
}

/// Wraps `text` as a CTCP ACTION (`/me text`): `\x01ACTION text\x01`, which is
/// [`ACTION_OVERHEAD`] bytes longer than `text`. `text` should be one line from [`lines`].
pub fn action(text: &str) -> String {
    format!("\x01ACTION {text}\x01")
}

/// A CTCP message found in the text of a PRIVMSG or NOTICE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctcp<'a> {
    /// `/me`: the action text, possibly empty.
    Action(&'a str),
    /// Any other CTCP (VERSION, PING, TIME…).
    Other {
        /// The command as sent; compare it case-insensitively.
        command: &'a str,
        /// What follows the command and one space; may be empty.
        args: &'a str,
    },
}

/// Recognises a CTCP message: `text` starts with `\x01`; the closing `\x01` is optional
/// because many clients omit it. The command is what comes before the first space and
/// is matched case-insensitively against `ACTION` (`\x01ACTION\x01` is an empty action).
/// Returns `None` for ordinary text and for an empty command (`\x01`, `\x01 x`).
pub fn parse_ctcp(text: &str) -> Option<Ctcp<'_>> {
    let inner = text.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (command, args) = inner.split_once(' ').unwrap_or((inner, ""));
    if command.is_empty() {
        None
    } else if command.eq_ignore_ascii_case("ACTION") {
        Some(Ctcp::Action(args))
    } else {
        Some(Ctcp::Other { command, args })
    }
}

/// How to decode a line from IRC that is not valid UTF-8.
///
/// Names for configuration ([`FromStr`], case-insensitive): `latin-1`, `latin1`,
/// `iso-8859-1`, `iso8859-1` for [`Fallback::Latin1`]; `utf-8-lossy`, `utf8-lossy`,
/// `utf-8`, `utf8` for [`Fallback::Utf8Lossy`]. [`fmt::Display`] writes the first name of
/// each (also [`Fallback::name`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// Each byte is the code point of the same value (ISO-8859-1), as biboumi and
    /// WeeChat do by default.
    #[default]
    Latin1,
    /// Invalid sequences become U+FFFD.
    Utf8Lossy,
}

impl Fallback {
    /// The canonical configuration name: `latin-1` or `utf-8-lossy`.
    pub const fn name(self) -> &'static str {
        match self {
            Fallback::Latin1 => "latin-1",
            Fallback::Utf8Lossy => "utf-8-lossy",
        }
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fallback encoding name that is not one of those [`Fallback`] knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFallback(pub String);

impl fmt::Display for UnknownFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown encoding {:?}: use latin-1 or utf-8-lossy",
            self.0
        )
    }
}

impl std::error::Error for UnknownFallback {}

impl FromStr for Fallback {
    type Err = UnknownFallback;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Ok(Fallback::Latin1),
            "utf-8-lossy" | "utf8-lossy" | "utf-8" | "utf8" => Ok(Fallback::Utf8Lossy),
            _ => Err(UnknownFallback(name.to_owned())),
        }
    }
}

/// Decodes one line received from IRC: valid UTF-8 is taken as UTF-8; otherwise the
/// whole line is decoded with `fallback` (never a mix of both within one line).
pub fn decode(bytes: &[u8], fallback: Fallback) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => match fallback {
            Fallback::Latin1 => bytes.iter().copied().map(char::from).collect(),
            Fallback::Utf8Lossy => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
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
        let unknown = "cp1252".parse::<Fallback>();
        assert_eq!(unknown, Err(UnknownFallback("cp1252".into())));
        assert_eq!(Fallback::default(), Fallback::Latin1);
        assert_eq!(Fallback::Utf8Lossy.to_string(), "utf-8-lossy");
    }
}
