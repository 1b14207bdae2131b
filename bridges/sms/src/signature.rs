//! Twilio webhook validation (`X-Twilio-Signature`).
//!
//! Twilio signs each webhook request with HMAC-SHA1, keyed with the account's auth token,
//! over a string built from:
//!
//! 1. the full URL Twilio requested (scheme, host, optional port, path and query), exactly
//!    as configured at Twilio; behind a reverse proxy that is the public URL, which the
//!    gateway must be told, as it cannot be rebuilt from the request;
//! 2. for a form-encoded POST, every parameter in order of name and then value, each name
//!    immediately followed by its value with no separator; a name repeated with the same
//!    value counts once (Twilio's own validators drop such duplicates).
//!
//! The header carries the base64 of the MAC. Twilio is not consistent about the port in
//! the URL it signs, so [`verify_twilio`] accepts the signature of the URL as given or of
//! the same URL with the port toggled (default port added when absent, port removed when
//! present), as Twilio's own libraries do.
//!
//! All parameters received must be passed in, not a fixed list: Twilio adds parameters
//! without notice. JSON bodies (`bodySHA256` in the URL) are not handled here.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The MAC over `url` and `params`, before base64. `None` only if the HMAC
/// implementation refused the key, which it never does (HMAC accepts keys of any length);
/// the `Option` keeps that path panic-free.
fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<HmacSha1> {
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// Whether `expected` is the MAC of `url` and `params`, compared in constant time.
fn matches(auth_token: &str, url: &str, params: &[(String, String)], expected: &[u8]) -> bool {
    mac(auth_token, url, params).is_some_and(|m| m.verify_slice(expected).is_ok())
}

/// Computes the `X-Twilio-Signature` value for a form POST to `url` with `params`:
/// base64 (standard alphabet, padded) of HMAC-SHA1 keyed with `auth_token`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    mac(auth_token, url, params)
        .map(|m| BASE64.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Checks an `X-Twilio-Signature` header against the request: `url` as Twilio requested
/// it and every form parameter received.
///
/// The URL as given is tried first, then the same URL with its port toggled (see the
/// module documentation). The MAC comparison is constant-time (`hmac`'s
/// `verify_slice`); an empty, non-base64 or wrong-length header is simply `false`.
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(expected) = BASE64.decode(header.trim()) else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    let as_given = matches(auth_token, url, params, &expected);
    // Evaluate both arms (no short cut), so timing does not show which URL form matched.
    let toggled = match toggle_port(url) {
        Some(other) => matches(auth_token, &other, params, &expected),
        None => false,
    };
    as_given | toggled
}

/// The same URL with the port removed when it has one, or with the scheme's default port
/// (443 for https, 80 for http) added when it has none. `None` when the URL has no
/// `scheme://` or an unknown scheme and no port.
fn toggle_port(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let after = &rest[authority_len..];
    // Skip any user:password@ part, and an IPv6 literal's colons.
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &authority[host_start..];
    let search_from = host_port.rfind(']').map_or(0, |i| i + 1);
    let port_colon = host_port[search_from..].rfind(':').map(|i| i + search_from);
    let prefix = &url[..authority_start + host_start];
    match port_colon {
        Some(colon) => {
            let port = &host_port[colon + 1..];
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(format!("{prefix}{}{after}", &host_port[..colon]))
        }
        None => {
            let port = match scheme.to_ascii_lowercase().as_str() {
                "https" => 443,
                "http" => 80,
                _ => return None,
            };
            Some(format!("{prefix}{host_port}:{port}{after}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The call parameters of Twilio's own validator tests, deliberately out of order.
    fn call_params() -> Vec<(String, String)> {
        params(&[
            ("From", "+14158675309"),
            ("CallSid", "CA1234567890ABCDE"),
            ("To", "+18005551212"),
            ("Digits", "1234"),
            ("Caller", "+14158675309"),
        ])
    }

    #[test]
    fn twilio_test_vector() {
        assert_eq!(
            twilio_signature(TOKEN, URL, &call_params()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(verify_twilio(
            TOKEN,
            URL,
            &call_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn multi_value_vector_sorts_values_and_drops_duplicates() {
        let p = params(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            twilio_signature(TOKEN, URL, &p),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
        assert!(verify_twilio(
            TOKEN,
            URL,
            &p,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn port_variants() {
        let p = call_params();
        // https with a port: Twilio signed it without.
        assert!(verify_twilio(
            TOKEN,
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // http with a port, signed with it.
        let http_port = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature(TOKEN, http_port, &p),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
        assert!(verify_twilio(
            TOKEN,
            http_port,
            &p,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        // No port in the URL, signed with the default one added.
        assert!(verify_twilio(
            TOKEN,
            URL,
            &p,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(verify_twilio(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &p,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
    }

    #[test]
    fn toggle_port_forms() {
        assert_eq!(
            toggle_port("https://a.example/x").as_deref(),
            Some("https://a.example:443/x")
        );
        assert_eq!(
            toggle_port("http://a.example?q=1").as_deref(),
            Some("http://a.example:80?q=1")
        );
        assert_eq!(
            toggle_port("https://a.example:8443/x").as_deref(),
            Some("https://a.example/x")
        );
        assert_eq!(
            toggle_port("https://u:p@a.example/x").as_deref(),
            Some("https://u:p@a.example:443/x")
        );
        assert_eq!(
            toggle_port("http://[::1]:8080/x").as_deref(),
            Some("http://[::1]/x")
        );
        assert_eq!(
            toggle_port("http://[::1]/x").as_deref(),
            Some("http://[::1]:80/x")
        );
        assert_eq!(toggle_port("ftp://a.example/x"), None);
        assert_eq!(toggle_port("not a url"), None);
        assert_eq!(toggle_port("https://a.example:/x"), None);
    }

    #[test]
    fn wrong_token_fails() {
        assert!(!verify_twilio(
            "54321",
            URL,
            &call_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn changed_param_fails() {
        let mut p = call_params();
        p[3].1 = "1235".to_owned();
        assert!(!verify_twilio(
            TOKEN,
            URL,
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let mut p = call_params();
        p.push(("Extra".to_owned(), String::new()));
        assert!(!verify_twilio(
            TOKEN,
            URL,
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let mut p = call_params();
        p.pop();
        assert!(!verify_twilio(
            TOKEN,
            URL,
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn changed_url_fails() {
        let p = call_params();
        for url in [
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://mycompany.com/myapp.php",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "https://evil.example/myapp.php?foo=1&bar=2",
        ] {
            assert!(
                !verify_twilio(TOKEN, url, &p, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                "{url}"
            );
        }
    }

    #[test]
    fn malformed_headers_fail_without_panicking() {
        let p = call_params();
        for header in [
            "",
            "   ",
            "!!!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=AAAA",
            "AAAA",
        ] {
            assert!(!verify_twilio(TOKEN, URL, &p, header), "{header:?}");
        }
        // Surrounding whitespace in the header is tolerated.
        assert!(verify_twilio(
            TOKEN,
            URL,
            &p,
            " RSOYDt4T1cUTdK1PDd93/VVr8B8= "
        ));
    }

    #[test]
    fn empty_token_and_params_do_not_panic() {
        let sig = twilio_signature("", "", &[]);
        assert!(verify_twilio("", "", &[], &sig));
        assert!(!verify_twilio("x", "", &[], &sig));
    }
}
