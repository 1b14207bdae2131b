//! Pure helpers for webhook requests: query parameters as bytes, charsets, secrets.

use percent_encoding::percent_decode;

/// Form or query parameters as text (`application/x-www-form-urlencoded`).
pub fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

/// The first value of `name` in `params`.
pub fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// One query parameter as raw bytes (`+` is a space, `%XX` any byte): Kannel puts the
/// message as it came from the phone into the query, UTF-16BE included.
pub fn raw_param(query: &str, name: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n: Vec<u8> = percent_decode(n.replace('+', " ").as_bytes()).collect();
        (n == name.as_bytes()).then(|| percent_decode(v.replace('+', " ").as_bytes()).collect())
    })
}

/// Decodes message bytes by the charset Kannel names (`%C`): UTF-16BE for UCS-2,
/// Latin-1/Windows-1252 after a recode, UTF-8 otherwise. Bad bytes become U+FFFD.
pub fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    let charset = charset.unwrap_or("UTF-8").to_ascii_uppercase();
    match charset.as_str() {
        "UTF-16BE" | "UCS-2" | "UTF-16" => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        "ISO-8859-1" | "LATIN1" | "WINDOWS-1252" => bytes.iter().map(|&b| b as char).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Compares a secret without showing, by timing, how much of it matched.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_ucs2_query_decodes_to_the_emoji() {
        // "Hi 👋" in UTF-16BE, as Kannel's %b puts it in a get-url.
        let q = "secret=s&from=%2B4917&text=%00H%00i%00+%D8%3D%DC%4B&charset=UTF-16BE&coding=2";
        let bytes = raw_param(q, "text").unwrap();
        assert_eq!(decode_text(&bytes, Some("UTF-16BE")), "Hi 👋");
        assert_eq!(raw_param(q, "from").unwrap(), b"+4917");
        assert_eq!(raw_param(q, "missing"), None);
    }

    #[test]
    fn utf8_and_latin1_texts_decode() {
        assert_eq!(decode_text("Grüße".as_bytes(), Some("UTF-8")), "Grüße");
        assert_eq!(decode_text(&[0x47, 0xfc], Some("WINDOWS-1252")), "Gü");
        assert_eq!(decode_text(&[0xff], None), "\u{fffd}");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abcdefgh", b"abcdefgh"));
        assert!(!same_secret(b"abcdefg", b"abcdefgh"));
        assert!(!same_secret(b"abcdefghi", b"abcdefgh"));
        assert!(!same_secret(b"", b"abcdefgh"));
    }

    #[test]
    fn form_pairs_keep_repeats() {
        let p = pairs(b"MediaUrl0=https%3A%2F%2Fx%2Fa&Body=a+b&Body=c");
        assert_eq!(get(&p, "Body"), Some("a b"));
        assert_eq!(get(&p, "MediaUrl0"), Some("https://x/a"));
    }
}
