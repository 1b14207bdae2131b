//! Text that goes into mail headers: display names and subjects. Whatever a user wrote,
//! CR, LF and every other control character become spaces, so nothing can start a header
//! of its own; lengths are bounded. (lettre then encodes non-ASCII text per RFC 2047.)

/// Longest display name kept (characters).
pub const MAX_NAME: usize = 64;
/// Longest subject kept (characters).
pub const MAX_SUBJECT: usize = 120;
/// Longest subject derived from a message's text (characters).
pub const DERIVED_SUBJECT: usize = 60;

/// One line of printable text: control characters (CR and LF included) and runs of
/// whitespace become one space; at most `max` characters, cut with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() || is_invisible_separator(c) {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    cut(out, max)
}

/// Unicode line and paragraph separators and the BOM, which some mail readers treat as
/// line breaks.
fn is_invisible_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{85}')
}

fn cut(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some((end, _)) => {
            let head = &text[..end];
            // Prefer a word boundary in the last third.
            let at = head.rfind(' ').filter(|&i| i >= end * 2 / 3).unwrap_or(end);
            format!("{}…", head[..at].trim_end())
        }
    }
}

/// A display name for `"Name" <alias@domain>`: one line, no quotes or backslashes (so the
/// quoted form can never be closed early), at most [`MAX_NAME`] characters.
pub fn display_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    one_line(&cleaned, MAX_NAME)
}

/// A subject a user gave: one line, at most [`MAX_SUBJECT`] characters.
pub fn subject(text: &str) -> String {
    one_line(text, MAX_SUBJECT)
}

/// A short subject from a message's text: its first non-empty line, at most
/// [`DERIVED_SUBJECT`] characters; `fallback` when the text has none.
pub fn derived_subject(text: &str, fallback: &str) -> String {
    let first = text
        .lines()
        .map(|l| one_line(l, DERIVED_SUBJECT))
        .find(|l| !l.is_empty());
    first.unwrap_or_else(|| one_line(fallback, DERIVED_SUBJECT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_break_of_any_kind_survives() {
        for evil in [
            "Hi\r\nBcc: victim@example.net",
            "Hi\nBcc: victim@example.net",
            "Hi\rBcc: victim@example.net",
            "Hi\u{2028}Bcc: victim@example.net",
            "Hi\u{85}Bcc: victim@example.net",
            "Hi\0\x0bBcc: victim@example.net",
        ] {
            let s = subject(evil);
            assert_eq!(s, "Hi Bcc: victim@example.net", "{evil:?}");
            assert!(!s.chars().any(char::is_control));
        }
    }

    #[test]
    fn display_names_cannot_close_their_quotes() {
        assert_eq!(
            display_name("Eve\" <admin@example.org>\r\nX: y \\"),
            "Eve <admin@example.org> X: y"
        );
        assert_eq!(display_name("  Zoë   Ünal "), "Zoë Ünal");
        assert_eq!(display_name(&"x".repeat(100)).chars().count(), MAX_NAME + 1);
    }

    #[test]
    fn subjects_are_derived_from_the_first_line_and_cut_at_a_word() {
        assert_eq!(
            derived_subject("\n\n  Lunch today?\nI'm free.", "x"),
            "Lunch today?"
        );
        assert_eq!(
            derived_subject("   \n", "Message from alice"),
            "Message from alice"
        );
        let long = "The quick brown fox jumps over the lazy dog and keeps on running far away";
        let s = derived_subject(long, "x");
        assert_eq!(
            s,
            "The quick brown fox jumps over the lazy dog and keeps on…"
        );
        assert!(s.chars().count() <= DERIVED_SUBJECT + 1);
    }
}
