//! Phone numbers: E.164 normalisation and the JID local-part form.
//!
//! A phone contact is addressed as `+<E.164 digits>@sms.example.org`. Users may type
//! numbers in international form (`+44 20 7946 0958`, `00 44 20 7946 0958`) or, when
//! `sms.default_region` is set, in that region's national form (`(555) 123-4567` for `US`).
//! [`normalize`] turns all of these into one canonical [`E164`] value, so the same phone
//! always maps to the same JID.
//!
//! # Acceptance rule
//!
//! A number is accepted when the `phonenumber` database (Google's libphonenumber
//! metadata) says it is valid, **or** when its national significant number has a length
//! that is possible for its country. The second arm keeps fictional but well-formed
//! numbers such as the North American `555` range (`+15551234567`, the example used
//! throughout the design) usable, which test set-ups and fake SMSCs rely on. Unknown
//! country codes and numbers too short or too long for their country are refused.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, PhoneNumber};

use crate::error::NumberError;

/// The longest input (in bytes) that [`normalize`] looks at; longer input is refused
/// before parsing. E.164 numbers have at most 15 digits, so this leaves ample room for
/// separators.
pub const MAX_INPUT_LEN: usize = 64;

/// A phone number in canonical E.164 form: `+` followed by the country code and the
/// national significant number, digits only (`+15551234567`).
///
/// Only [`normalize`] builds one (and [`E164::from_canonical`], for strings `normalize`
/// produced earlier), so every value is a checked number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E164(String);

impl E164 {
    /// A string [`normalize`] produced earlier (a contact id of this bridge, stored or in
    /// flight), taken back without parsing it again: `+`, a non-zero digit, 6 to 14 more.
    /// Anything else is `None`, and must go through [`normalize`].
    pub fn from_canonical(s: &str) -> Option<E164> {
        let digits = s.strip_prefix('+')?;
        let shape = (7..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit());
        shape.then(|| E164(s.to_string()))
    }

    /// The number as a string, `+` and digits (`+15551234567`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JID local part for this number (`+15551234567` in
    /// `+15551234567@sms.example.org`). `+` and digits are all valid in a JID local part,
    /// so this is the E.164 string itself.
    pub fn local(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+` (`15551234567`), the form some providers
    /// (Kannel, Vonage) use.
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }

    /// Consumes the value and returns the E.164 string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Normalises a phone number typed by a user, found in config or sent by a provider to
/// E.164.
///
/// `default_region` is an ISO 3166-1 alpha-2 code (`"US"`, `"gb"`; case does not matter)
/// used for numbers written without a `+` or `00` prefix; without it such numbers are
/// refused with [`NumberError::NoRegion`]. A leading `00` is read as the international
/// prefix (`00 44 …` is `+44 …`); a region's own international prefix (`011` in the US)
/// also works when that region is the default.
///
/// Spaces, dashes, dots, slashes and parentheses are ignored. Letters and any other
/// character are refused, as are empty input, input over [`MAX_INPUT_LEN`] bytes,
/// extensions and numbers that are impossible for their country (see the module
/// documentation for the exact rule). This function never panics.
pub fn normalize(input: &str, default_region: Option<&str>) -> Result<E164, NumberError> {
    let trimmed = input.trim();
    if trimmed.len() > MAX_INPUT_LEN {
        return Err(NumberError::TooLong(trimmed.chars().count()));
    }

    // Check the characters ourselves: the parser accepts letters (vanity numbers) and
    // extension markers, which we do not want.
    let mut digits = 0usize;
    for (i, c) in trimmed.char_indices() {
        match c {
            '0'..='9' => digits += 1,
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '/' | '(' | ')' | '\t' => {}
            _ => return Err(NumberError::InvalidCharacter(c)),
        }
    }
    if digits == 0 {
        return Err(NumberError::Empty);
    }

    // `00` is the international prefix in most of the world; read it as `+` so that
    // `00 44 …` works with no default region (or with one whose prefix differs).
    let international = trimmed.starts_with('+');
    let text = match trimmed.strip_prefix("00") {
        Some(rest) if !international => format!("+{rest}"),
        _ => trimmed.to_owned(),
    };

    let region = match default_region.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(
            r.to_ascii_uppercase()
                .parse::<Id>()
                .map_err(|_| NumberError::UnknownRegion(r.to_owned()))?,
        ),
        None => None,
    };
    if region.is_none() && !text.starts_with('+') {
        return Err(NumberError::NoRegion(trimmed.to_owned()));
    }

    let number = parse_guarded(region, &text)
        .map_err(|reason| NumberError::Unparsable(trimmed.to_owned(), reason))?;
    if number.extension().is_some() {
        return Err(NumberError::Extension(trimmed.to_owned()));
    }
    if !acceptable(&number) {
        return Err(NumberError::Invalid(trimmed.to_owned()));
    }

    let formatted = number.format().mode(Mode::E164).to_string();
    // The number must read back as itself: a US "local" 7-digit number becomes `+1` and 7
    // digits, which the parser reads as a Virgin Islands number (`+1340…`).
    let again = parse_guarded(None, &formatted).map(|n| n.format().mode(Mode::E164).to_string());
    if again.as_deref() != Ok(formatted.as_str()) {
        return Err(NumberError::Invalid(trimmed.to_owned()));
    }
    // Belt and braces: the result has the shape `E164::from_canonical` takes back (the
    // parser finds numbers possible that are shorter: `038 12` in Germany, `+493812`).
    E164::from_canonical(&formatted).ok_or_else(|| NumberError::Invalid(trimmed.to_owned()))
}

/// Parses with the `phonenumber` crate, turning a panic inside it (it parses with
/// regexes and nom, and we promise never to panic) into an error.
fn parse_guarded(region: Option<Id>, text: &str) -> Result<PhoneNumber, String> {
    match panic::catch_unwind(AssertUnwindSafe(|| phonenumber::parse(region, text))) {
        Ok(Ok(number)) => Ok(number),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the number parser failed on this input".to_owned()),
    }
}

/// The acceptance rule of the module documentation: valid, or of a possible length for
/// a known country.
fn acceptable(number: &PhoneNumber) -> bool {
    if number.is_valid() {
        return true;
    }
    // Every region sharing the country code (all of NANP for +1) counts.
    let Some(regions) = DATABASE.by_code(&number.code().value()) else {
        return false;
    };
    let national_len = number.national().to_string().len();
    // The general descriptor's own length list is often empty in this database; the
    // possible lengths live on the per-type descriptors.
    regions.iter().any(|meta| {
        let d = meta.descriptors();
        [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
        ]
        .into_iter()
        .flatten()
        .any(|desc| {
            desc.possible_length()
                .iter()
                .any(|&l| usize::from(l) == national_len)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, region: Option<&str>) -> String {
        match normalize(input, region) {
            Ok(n) => n.to_string(),
            Err(e) => panic!("{input:?} ({region:?}) refused: {e}"),
        }
    }

    #[test]
    fn international_forms() {
        assert_eq!(ok("+15551234567", None), "+15551234567");
        assert_eq!(ok("+1 555 123 4567", None), "+15551234567");
        assert_eq!(ok("+1-555-123-4567", None), "+15551234567");
        assert_eq!(ok("  +44 20 7946 0958 ", None), "+442079460958");
        assert_eq!(ok("+49 151 12345678", None), "+4915112345678");
        assert_eq!(ok("+1 (212) 555.1212", None), "+12125551212");
    }

    #[test]
    fn canonical_strings_come_back_without_parsing_and_nothing_else_does() {
        let n = normalize("+1 555 123 4567", None).unwrap();
        assert_eq!(E164::from_canonical(n.as_str()), Some(n));
        for other in [
            "15551234567",
            "+0123456789",
            "+1 555",
            "+123456",
            "+1234567890123456",
            "+1555abc4567",
            "",
        ] {
            assert_eq!(E164::from_canonical(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_number_that_reads_back_as_another_is_refused() {
        // Found by the addresses fuzz target: "+13406646" normalised to "+13403406646".
        assert!(matches!(
            normalize("3406646", Some("US")),
            Err(NumberError::Invalid(_))
        ));
        assert_eq!(ok("212 555 1212", Some("US")), "+12125551212");
    }

    #[test]
    fn too_short_for_e164_is_refused() {
        // Found by the addresses fuzz target: normalised, then not taken back.
        assert!(matches!(
            normalize("038 12", Some("DE")),
            Err(NumberError::Invalid(_))
        ));
        assert_eq!(ok("0381 1234567", Some("DE")), "+493811234567");
    }

    #[test]
    fn double_zero_prefix() {
        assert_eq!(ok("00 44 20 7946 0958", None), "+442079460958");
        assert_eq!(ok("0044-20-7946-0958", Some("GB")), "+442079460958");
        assert_eq!(ok("00 44 20 7946 0958", Some("US")), "+442079460958");
    }

    #[test]
    fn national_forms_with_region() {
        assert_eq!(ok("(555) 123-4567", Some("US")), "+15551234567");
        assert_eq!(ok("555 123 4567", Some("us")), "+15551234567");
        assert_eq!(ok("1-555-123-4567", Some("US")), "+15551234567");
        assert_eq!(ok("020 7946 0958", Some("GB")), "+442079460958");
        assert_eq!(ok("011 44 20 7946 0958", Some("US")), "+442079460958");
        // An international number ignores the region.
        assert_eq!(ok("+44 20 7946 0958", Some("US")), "+442079460958");
    }

    #[test]
    fn e164_accessors() {
        let n = normalize("(555) 123-4567", Some("US")).unwrap();
        assert_eq!(n.as_str(), "+15551234567");
        assert_eq!(n.local(), "+15551234567");
        assert_eq!(n.digits(), "15551234567");
        assert_eq!(format!("{n}"), "+15551234567");
        assert_eq!(n.clone().into_string(), "+15551234567");
        assert_eq!(n, normalize("+1 555 123 4567", None).unwrap());
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(normalize("", None), Err(NumberError::Empty));
        assert_eq!(normalize("   ", Some("US")), Err(NumberError::Empty));
        assert_eq!(normalize("+", None), Err(NumberError::Empty));
        assert_eq!(normalize("( - )", Some("US")), Err(NumberError::Empty));
    }

    #[test]
    fn letters_and_odd_characters_are_refused() {
        assert_eq!(
            normalize("1-800-FLOWERS", Some("US")),
            Err(NumberError::InvalidCharacter('F'))
        );
        assert_eq!(
            normalize("+1555123456x7", None),
            Err(NumberError::InvalidCharacter('x'))
        );
        assert_eq!(
            normalize("+1 555 123 4567;ext=2", None),
            Err(NumberError::InvalidCharacter(';'))
        );
        assert_eq!(
            normalize("1+5551234567", None),
            Err(NumberError::InvalidCharacter('+'))
        );
        assert_eq!(
            normalize("+1５５５1234567", None),
            Err(NumberError::InvalidCharacter('５'))
        );
        assert_eq!(
            normalize("alice@example.org", None),
            Err(NumberError::InvalidCharacter('a'))
        );
    }

    #[test]
    fn national_form_without_region_is_refused() {
        assert_eq!(
            normalize("(555) 123-4567", None),
            Err(NumberError::NoRegion("(555) 123-4567".to_owned()))
        );
        assert!(matches!(
            normalize("5551234567", Some("")),
            Err(NumberError::NoRegion(_))
        ));
    }

    #[test]
    fn unknown_region_is_refused() {
        assert_eq!(
            normalize("555 123 4567", Some("XX")),
            Err(NumberError::UnknownRegion("XX".to_owned()))
        );
        assert!(matches!(
            normalize("555 123 4567", Some("USA")),
            Err(NumberError::UnknownRegion(_))
        ));
    }

    #[test]
    fn impossible_numbers_are_refused() {
        for input in [
            "+1555",
            "+1 555 123 45678",
            "+999 1234 5678",
            "+44 20",
            "+1234567890123456789",
            "+12",
        ] {
            let result = normalize(input, None);
            assert!(
                matches!(
                    result,
                    Err(NumberError::Invalid(_) | NumberError::Unparsable(..))
                ),
                "{input:?} gave {result:?}"
            );
        }
        assert!(normalize("12", Some("US")).is_err());
        assert!(normalize("0", Some("GB")).is_err());
    }

    #[test]
    fn too_long_input_is_refused_before_parsing() {
        let long = format!("+1{}", "5".repeat(100));
        assert_eq!(normalize(&long, None), Err(NumberError::TooLong(102)));
    }

    #[test]
    fn messages_are_clear() {
        let e = normalize("1-800-FLOWERS", Some("US")).unwrap_err();
        assert!(e.to_string().contains("invalid character 'F'"), "{e}");
        let e = normalize("+1555", None).unwrap_err();
        assert!(e.to_string().contains("+1555"), "{e}");
        let e = normalize("", None).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for input in [
            "+",
            "++1",
            "+1 (",
            "((((",
            "+0",
            "+00",
            "0000000000",
            "+1-",
            "-+1",
            "00",
            "000",
            "+1)555(",
            "\t",
        ] {
            let _ = normalize(input, None);
            let _ = normalize(input, Some("US"));
            let _ = normalize(input, Some("GB"));
        }
    }
}
