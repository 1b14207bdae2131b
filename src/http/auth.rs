//! The token that `/metrics` and `/healthz` may require: `Authorization: Bearer <token>`
//! or `?token=<token>`, compared in constant time, never logged.

use axum::http::{header, HeaderMap, Uri};

/// True when the request carries `token`.
pub(super) fn carries(headers: &HeaderMap, uri: &Uri, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let query = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="));
    // Both are looked at, so the time taken does not say which one was given.
    let by_header = bearer.is_some_and(|b| same(b.as_bytes(), token.as_bytes()));
    let by_query = query.is_some_and(|q| same(q.as_bytes(), token.as_bytes()));
    by_header | by_query
}

/// Constant-time equality (for the token's length; a length mismatch is no secret).
fn same(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>, uri: &str) -> (HeaderMap, Uri) {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        (h, uri.parse().unwrap())
    }

    #[test]
    fn the_token_is_taken_as_bearer_or_query_and_nothing_else() {
        let t = "0123456789abcdef";
        let ok = |a, u| {
            let (h, u) = req(a, u);
            carries(&h, &u, t)
        };
        assert!(ok(Some("Bearer 0123456789abcdef"), "/metrics"));
        assert!(ok(None, "/metrics?token=0123456789abcdef"));
        assert!(ok(None, "/healthz?x=1&token=0123456789abcdef"));
        assert!(!ok(None, "/metrics"));
        assert!(!ok(Some("Bearer 0123456789abcdeX"), "/metrics"));
        assert!(!ok(Some("Bearer 0123456789abcde"), "/metrics"), "a prefix");
        assert!(!ok(Some("Bearer 0123456789abcdef0"), "/metrics"), "longer");
        assert!(!ok(Some("Basic 0123456789abcdef"), "/metrics"));
        assert!(!ok(None, "/metrics?token="));
        assert!(!ok(None, "/metrics?xtoken=0123456789abcdef"));
    }
}
