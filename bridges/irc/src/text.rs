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
/// `utf-8`, `utf8` for [`Fallback::Utf8Lossy`]; any other WHATWG encoding label
/// (`windows-1251`, `koi8-r`, `iso-8859-15`, `shift_jis`, …) for [`Fallback::Other`],
/// except UTF-16, which no IRC line is. [`fmt::Display`] writes the canonical name of each
/// (also [`Fallback::name`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// Each byte is the code point of the same value (ISO-8859-1), as biboumi and
    /// WeeChat do by default.
    #[default]
    Latin1,
    /// Invalid sequences become U+FFFD.
    Utf8Lossy,
    /// A legacy encoding (a single-byte code page or a CJK one); bytes it cannot map
    /// become U+FFFD.
    Other(&'static encoding_rs::Encoding),
}

impl Fallback {
    /// The canonical configuration name: `latin-1`, `utf-8-lossy`, or the encoding's
    /// WHATWG name (`windows-1251`).
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Latin1 => "latin-1",
            Fallback::Utf8Lossy => "utf-8-lossy",
            Fallback::Other(encoding) => encoding.name(),
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
            "unknown encoding {:?}: use latin-1, utf-8-lossy or an encoding such as \
             windows-1251, koi8-r or iso-8859-15",
            self.0
        )
    }
}

impl std::error::Error for UnknownFallback {}

impl FromStr for Fallback {
    type Err = UnknownFallback;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let label = name.trim().to_ascii_lowercase();
        match label.as_str() {
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => return Ok(Fallback::Latin1),
            "utf-8-lossy" | "utf8-lossy" | "utf-8" | "utf8" => return Ok(Fallback::Utf8Lossy),
            _ => {}
        }
        match encoding_rs::Encoding::for_label_no_replacement(label.as_bytes()) {
            Some(e) if e == encoding_rs::UTF_8 => Ok(Fallback::Utf8Lossy),
            Some(e) if e == encoding_rs::UTF_16BE || e == encoding_rs::UTF_16LE => {
                Err(UnknownFallback(name.to_owned()))
            }
            Some(e) => Ok(Fallback::Other(e)),
            None => Err(UnknownFallback(name.to_owned())),
        }
    }
}

/// Decodes one line received from IRC: valid UTF-8 is taken as UTF-8; otherwise the
/// whole line is decoded with `fallback` (never a mix of both within one line).
pub fn decode(bytes: &[u8], fallback: Fallback) -> String {
    decode_with(bytes, || fallback)
}

/// [`decode`] with the fallback chosen only for a line that is not UTF-8 (choosing looks
/// at the line's channel; most lines never need it).
pub fn decode_with(bytes: &[u8], fallback: impl FnOnce() -> Fallback) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => match fallback() {
            Fallback::Latin1 => bytes.iter().copied().map(char::from).collect(),
            Fallback::Utf8Lossy => String::from_utf8_lossy(bytes).into_owned(),
            Fallback::Other(encoding) => encoding.decode_without_bom_handling(bytes).0.into_owned(),
        },
    }
}

/// The channel a raw IRC line is about, for decoding it with that channel's fallback
/// before it is parsed: the target of `PRIVMSG`, `NOTICE`, `TOPIC`, `PART` and `KICK`,
/// and the channel of `332` (the topic at join). Tags and the source are skipped; the
/// command is matched case-insensitively. Anything else, and a line too short to say,
/// is about no channel.
pub fn line_channel(line: &[u8]) -> Option<&[u8]> {
    let mut words = line
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .peekable();
    if words.peek()?.first() == Some(&b'@') {
        words.next();
    }
    if words.peek()?.first() == Some(&b':') {
        words.next();
    }
    let command = words.next()?;
    let index = match command.to_ascii_uppercase().as_slice() {
        b"PRIVMSG" | b"NOTICE" | b"TOPIC" | b"PART" | b"KICK" => 0,
        b"332" => 1,
        _ => return None,
    };
    let target = words.nth(index)?;
    (target.first() != Some(&b':')).then_some(target)
}

#[cfg(test)]
mod tests;
