//! Entry points for fuzzing: the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`) call these with arbitrary bytes, and each asserts the
//! invariants of what it exercises. Not part of the bridge's API.

use crate::encoding::{self, Coding};
use crate::number::{normalize, E164};
use crate::signature::{twilio_signature, verify_twilio};
use crate::webhook::decode::{decode_text, get, pairs, raw_param, same_secret};

/// Largest webhook body the HTTP server reads (axum's default body limit is 2 MB; the
/// fuzzer's inputs are far below it).
const MAX_BODY: usize = 2 * 1024 * 1024;

const TOKEN: &str = "fuzz-auth-token";
const URL: &str = "https://gw.test/sms/twilio";

/// A webhook request decoded as the handlers decode it. The first byte picks the shape:
/// a Twilio form POST (even), a Kannel `get-url` query (odd, below 128), or a Kannel
/// `post-url` body whose first line is the Content-Type header (odd, 128 and up).
///
/// Invariants: no panic; a Twilio form signed with the token verifies, and does not once
/// a parameter changes; the numbers that normalise are E.164 and normalise again to
/// themselves; the decoded text is counted into SMS segments consistently. Returns the
/// texts that would go on to XMPP (body, numbers), for the targets that carry them on.
pub fn webhook(data: &[u8]) -> Vec<String> {
    let Some((&shape, rest)) = data.split_first() else {
        return Vec::new();
    };
    if rest.len() > MAX_BODY {
        return Vec::new();
    }
    let mut out = Vec::new();
    if shape % 2 == 0 {
        let params = pairs(rest);
        let signature = twilio_signature(TOKEN, URL, &params);
        assert!(verify_twilio(TOKEN, URL, &params, &signature));
        let mut changed = params.clone();
        changed.push(("Extra".into(), "1".into()));
        assert!(!verify_twilio(TOKEN, URL, &changed, &signature));
        for name in [
            "From",
            "To",
            "Body",
            "MessageSid",
            "ErrorCode",
            "MessageStatus",
        ] {
            if let Some(v) = get(&params, name) {
                out.push(v.to_string());
            }
        }
        let count: usize = get(&params, "NumMedia")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        for i in 0..count.min(10) {
            if let Some(url) = get(&params, &format!("MediaUrl{i}")) {
                out.push(url.to_string());
            }
        }
    } else if shape < 128 {
        let Ok(query) = std::str::from_utf8(rest) else {
            return Vec::new();
        };
        let params = pairs(query.as_bytes());
        if let Some(secret) = raw_param(query, "secret") {
            assert!(same_secret(&secret, &secret));
            let mut longer = secret.clone();
            longer.push(b'x');
            assert!(!same_secret(&secret, &longer) && !same_secret(&longer, &secret));
        }
        for name in ["from", "to", "id", "ref"] {
            if let Some(v) = get(&params, name) {
                out.push(v.to_string());
            }
        }
        if let Some(bytes) = raw_param(query, "text") {
            out.push(decode_text(&bytes, get(&params, "charset")));
        }
    } else {
        let (header, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let header = String::from_utf8_lossy(header);
        let charset = header
            .split("charset=")
            .nth(1)
            .map(|c| c.trim_matches('"').to_string());
        out.push(decode_text(body, charset.as_deref()));
    }
    for text in &out {
        check_text(text);
    }
    out
}

/// A decoded text: its segment count, and the numbers in it.
fn check_text(text: &str) {
    let s = encoding::segments(text);
    let units = match s.coding {
        Coding::Gsm7 => text
            .chars()
            .map(|c| encoding::gsm7_cost(c).unwrap_or(2))
            .sum(),
        Coding::Ucs2 => text.encode_utf16().count(),
    };
    assert_eq!(s.units, units, "{text:?}: units miscounted");
    assert_eq!(s.coding == Coding::Gsm7, encoding::is_gsm7(text));
    if units == 0 {
        assert_eq!(s.count, 0);
    } else if units <= s.coding.single_capacity() {
        assert_eq!(s.count, 1);
    } else {
        assert!(
            s.count * s.coding.part_capacity() >= units,
            "{text:?}: too few segments"
        );
        assert!(s.count <= units, "{text:?}: more segments than units");
    }
    number(text);
}

/// A phone number as typed: one that normalises is `+` and digits, and normalises again
/// to itself, with or without a default region.
pub fn number(text: &str) {
    for region in [None, Some("DE"), Some("US")] {
        if let Ok(n) = normalize(text, region) {
            check_e164(&n);
        }
    }
}

fn check_e164(n: &E164) {
    let s = n.as_str();
    assert!(
        s.starts_with('+') && s[1..].chars().all(|c| c.is_ascii_digit()),
        "{s:?}"
    );
    assert_eq!(
        normalize(s, None).as_ref(),
        Ok(n),
        "{s:?} does not normalise to itself"
    );
    assert_eq!(E164::from_canonical(s).as_ref(), Some(n));
    assert_eq!(n.digits(), &s[1..]);
}
