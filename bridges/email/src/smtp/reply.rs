//! SMTP replies and the one way client or handler text may get into them.

use std::fmt::Write as _;

/// Longest text taken from elsewhere (a handler's reason, a message id) into a reply line.
pub const MAX_REPLY_TEXT: usize = 200;

/// One SMTP reply: a three-digit code and one or more text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code (`250`, `550`, …).
    pub code: u16,
    /// The text lines (at least one); each is printable ASCII without CR or LF.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply. `text` is trusted to be printable (it is our own); use
    /// [`excerpt`] for anything else.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply (an empty list gives one empty line).
    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        Reply { code, lines }
    }

    /// Whether the code is a positive completion (2xx) or intermediate (3xx) reply.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The reply as sent: `250-first\r\n250 last\r\n`. Control characters that slipped
    /// into a line become `?`, so one reply is always exactly its lines.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let _ = write!(out, "{}{}", self.code, sep);
            out.extend(line.chars().map(|c| if c.is_control() { '?' } else { c }));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// A bounded, control-free excerpt of foreign text (client input, a handler's reason): at
/// most `max` characters of printable ASCII, anything else as `?`, a cut marked `...`.
pub fn excerpt(text: &[u8], max: usize) -> String {
    let mut out: String = text
        .iter()
        .take(max)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if text.len() > max {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_framed_with_hyphens_then_a_space() {
        let r = Reply::multi(250, vec!["mx.example.org".into(), "PIPELINING".into()]);
        assert_eq!(r.to_wire(), b"250-mx.example.org\r\n250 PIPELINING\r\n");
        assert_eq!(Reply::new(221, "Bye").to_wire(), b"221 Bye\r\n");
        assert_eq!(Reply::multi(250, vec![]).to_wire(), b"250 \r\n");
        // Nothing can add a line of its own.
        assert_eq!(
            Reply::new(550, "no\r\n250 ok").to_wire(),
            b"550 no??250 ok\r\n"
        );
    }

    #[test]
    fn excerpts_are_bounded_and_printable() {
        assert_eq!(excerpt(b"hello world", 64), "hello world");
        assert_eq!(excerpt(b"a\r\nb\x00\xff", 64), "a??b??");
        assert_eq!(excerpt(b"abcdef", 3), "abc...");
    }
}
