//! GSM-7 or UCS-2, and how many SMS segments a text needs.
//!
//! The rules (3GPP TS 23.038 for the alphabet, TS 23.040 for concatenation):
//!
//! - A message is sent in GSM-7 when every character is in the GSM 03.38 basic table or
//!   its extension table; otherwise the **whole** message goes out as UCS-2. One emoji or
//!   one curly quote is enough to switch.
//! - GSM-7 is counted in septets: a basic character costs 1, an extension character
//!   (`^ { } \ [ ~ ] | €` and form feed) costs 2, because it is sent as ESC plus a code.
//! - UCS-2 is counted in UTF-16 code units: a character outside the Basic Multilingual
//!   Plane (most emoji) costs 2, a surrogate pair.
//! - One SMS holds 160 septets or 70 units. A concatenated message spends 6 octets per
//!   part on the user data header, leaving 153 septets or 67 units per part.
//! - An ESC+char pair or a surrogate pair is never split across two parts: when it does
//!   not fit in what is left of a part, it starts the next one.
//!
//! National language shift tables are not used. The counts are what the gateway checks
//! against `sms.max_segments` and what picks Kannel's `coding`; the provider or Kannel
//! does the actual splitting.

/// Septets in a single GSM-7 SMS.
pub const GSM7_SINGLE: usize = 160;
/// Septets in each part of a concatenated GSM-7 SMS.
pub const GSM7_PART: usize = 153;
/// UTF-16 code units in a single UCS-2 SMS.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units in each part of a concatenated UCS-2 SMS.
pub const UCS2_PART: usize = 67;

/// The data coding of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// The GSM 7-bit default alphabet with its extension table (Kannel `coding=0`).
    Gsm7,
    /// UCS-2, in practice UTF-16 (Kannel `coding=2`).
    Ucs2,
}

impl Coding {
    /// The Kannel `coding` parameter for this coding (`gw/sms.h`: `DC_7BIT` 0,
    /// `DC_UCS2` 2).
    pub fn kannel_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0,
            Coding::Ucs2 => 2,
        }
    }

    /// Capacity of a single, unconcatenated SMS in this coding's units.
    pub fn single_capacity(self) -> usize {
        match self {
            Coding::Gsm7 => GSM7_SINGLE,
            Coding::Ucs2 => UCS2_SINGLE,
        }
    }

    /// Capacity of each part of a concatenated SMS in this coding's units.
    pub fn part_capacity(self) -> usize {
        match self {
            Coding::Gsm7 => GSM7_PART,
            Coding::Ucs2 => UCS2_PART,
        }
    }
}

/// How a text would be sent: its coding, the number of SMS segments and its length in
/// units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// GSM-7 when every character allows it, UCS-2 otherwise.
    pub coding: Coding,
    /// Number of SMS segments. The empty text counts as **0** segments: there is nothing
    /// to send, and the caller decides whether an empty body is an error.
    pub count: usize,
    /// Length of the whole text in the coding's units: septets for GSM-7 (extension
    /// characters count 2), UTF-16 code units for UCS-2 (non-BMP characters count 2).
    pub units: usize,
}

/// Cost in septets of `c` in GSM-7: 1 for the basic table, 2 for the extension table,
/// `None` when the character has no GSM-7 encoding.
pub fn gsm7_cost(c: char) -> Option<usize> {
    match c {
        // Extension table: ESC followed by a code.
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        // Basic table, ASCII part (0x40 `@` is also in the basic table, at position 0).
        '\n' | '\r' | ' ' | '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | '+' | ','
        | '-' | '.' | '/' | ':' | ';' | '<' | '=' | '>' | '?' | '@' | '_' | '$' => Some(1),
        '0'..='9' | 'A'..='Z' | 'a'..='z' => Some(1),
        // Basic table, non-ASCII part.
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

/// Whether the whole text can be sent in GSM-7.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_cost(c).is_some())
}

/// Chooses the coding of `text` and counts its units and SMS segments.
///
/// Never panics; the cost is one pass over the text for the coding and one for the
/// count.
pub fn segments(text: &str) -> Segments {
    let coding = if is_gsm7(text) {
        Coding::Gsm7
    } else {
        Coding::Ucs2
    };
    let cost = |c: char| match coding {
        Coding::Gsm7 => gsm7_cost(c).unwrap_or(2),
        Coding::Ucs2 => c.len_utf16(),
    };
    let units: usize = text.chars().map(cost).sum();
    let count = if units == 0 {
        0
    } else if units <= coding.single_capacity() {
        1
    } else {
        // Fill parts greedily; a character that does not fit whole opens the next part.
        let part = coding.part_capacity();
        let mut count = 1;
        let mut used = 0;
        for c in text.chars() {
            let n = cost(c);
            if used + n > part {
                count += 1;
                used = 0;
            }
            used += n;
        }
        count
    };
    Segments {
        coding,
        count,
        units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> (Coding, usize, usize) {
        let s = segments(text);
        (s.coding, s.count, s.units)
    }

    #[test]
    fn empty_text_is_zero_segments() {
        assert_eq!(seg(""), (Coding::Gsm7, 0, 0));
    }

    #[test]
    fn short_ascii_is_one_gsm_segment() {
        assert_eq!(seg("hello"), (Coding::Gsm7, 1, 5));
        assert_eq!(seg("a"), (Coding::Gsm7, 1, 1));
    }

    #[test]
    fn gsm_160_vs_161() {
        assert_eq!(seg(&"a".repeat(160)), (Coding::Gsm7, 1, 160));
        assert_eq!(seg(&"a".repeat(161)), (Coding::Gsm7, 2, 161));
    }

    #[test]
    fn gsm_concatenated_boundaries() {
        assert_eq!(seg(&"a".repeat(306)), (Coding::Gsm7, 2, 306));
        assert_eq!(seg(&"a".repeat(307)), (Coding::Gsm7, 3, 307));
        assert_eq!(seg(&"a".repeat(459)), (Coding::Gsm7, 3, 459));
        assert_eq!(seg(&"a".repeat(460)), (Coding::Gsm7, 4, 460));
    }

    #[test]
    fn ucs2_70_vs_71() {
        assert_eq!(seg(&"я".repeat(70)), (Coding::Ucs2, 1, 70));
        assert_eq!(seg(&"я".repeat(71)), (Coding::Ucs2, 2, 71));
        assert_eq!(seg(&"я".repeat(134)), (Coding::Ucs2, 2, 134));
        assert_eq!(seg(&"я".repeat(135)), (Coding::Ucs2, 3, 135));
    }

    #[test]
    fn euro_and_other_extension_chars_cost_two() {
        assert_eq!(seg("€"), (Coding::Gsm7, 1, 2));
        assert_eq!(seg("^{}\\[~]|€\u{0C}"), (Coding::Gsm7, 1, 20));
        assert_eq!(seg(&"€".repeat(80)), (Coding::Gsm7, 1, 160));
        assert_eq!(seg(&"€".repeat(81)), (Coding::Gsm7, 2, 162));
    }

    #[test]
    fn extension_char_is_not_split_across_parts() {
        // Fits one SMS whole: 152 + 2 = 154 septets.
        let text = format!("{}€", "a".repeat(152));
        assert_eq!(seg(&text), (Coding::Gsm7, 1, 154));
        // 306 septets would fill exactly 2 × 153 if split anywhere, but the euro at
        // septets 153-154 cannot straddle the boundary: 152 | € + 151 | 1, so 3 parts.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(seg(&text), (Coding::Gsm7, 3, 306));
        // One septet less and the euro's move costs nothing: 152 | € + 151.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(151));
        assert_eq!(seg(&text), (Coding::Gsm7, 2, 305));
        // With the euro ending part 1 exactly (151 + 2), two full parts suffice.
        let text = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(seg(&text), (Coding::Gsm7, 2, 306));
    }

    #[test]
    fn emoji_forces_ucs2_and_costs_two_units() {
        assert_eq!(seg("😀"), (Coding::Ucs2, 1, 2));
        assert_eq!(seg("hi 😀"), (Coding::Ucs2, 1, 5));
        assert_eq!(seg(&"😀".repeat(35)), (Coding::Ucs2, 1, 70));
        assert_eq!(seg(&"😀".repeat(36)), (Coding::Ucs2, 2, 72));
        // A surrogate pair is not split: 66 units then an emoji cannot use the 67th unit.
        let text = format!("{}😀{}", "я".repeat(66), "я".repeat(66));
        assert_eq!(seg(&text), (Coding::Ucs2, 3, 134));
    }

    #[test]
    fn curly_quotes_and_other_traps_force_ucs2() {
        assert_eq!(segments("it’s").coding, Coding::Ucs2);
        assert_eq!(segments("“quoted”").coding, Coding::Ucs2);
        assert_eq!(segments("wait…").coding, Coding::Ucs2);
        assert_eq!(segments("a—b").coding, Coding::Ucs2);
        assert_eq!(segments("`code`").coding, Coding::Ucs2);
        assert_eq!(segments("no\u{A0}break").coding, Coding::Ucs2);
        // UCS-2 counts every character, extension ones included, as one unit.
        assert_eq!(seg("“€”"), (Coding::Ucs2, 1, 3));
    }

    #[test]
    fn gsm_basic_table_non_ascii_stays_gsm7() {
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
        let s = segments(basic);
        assert_eq!(s.coding, Coding::Gsm7);
        assert_eq!(s.units, basic.chars().count());
        assert!(is_gsm7("Grüße aus Köln, 5 € bitte"));
        assert!(!is_gsm7("ç")); // lower-case c cedilla is not in the table, only Ç
    }

    #[test]
    fn kannel_coding_values() {
        assert_eq!(Coding::Gsm7.kannel_coding(), 0);
        assert_eq!(Coding::Ucs2.kannel_coding(), 2);
    }
}
